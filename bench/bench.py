#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

Subcommands:
  gql URL TOKEN QUERY [VARS_JSON]     run one GraphQL request, print the JSON response
                                      (exit 1 on HTTP error or GraphQL `errors`)
  seed URL DEPT_ID REPORTER_TOKEN HANDLER_TOKEN N_INCIDENTS N_COMMENTS THREADS
                                      report N incidents, then comment on the newest
                                      N_COMMENTS, from THREADS keep-alive connections
  load SERVER_PID OUT_JSON -- OHA_ARGS...
                                      run oha (JSON output to OUT_JSON), print a one-line
                                      JSON summary with where the machine's CPU time went
  check-pages URL TOKEN READ_BODY SENSITIVE_BODY
                                      check that the pages under load are what the
                                      benchmark means: 50 rows, commented; every row of
                                      the sensitive page with a description and the patient
  sqlite DB_FILE QUERY                print the first value of a query (read-only)
  table RESULTS.jsonl                 print the markdown table of all results
  compare RESULTS.jsonl...            print the before/after tables of several builds
"""
import http.client
import json
import os
import resource
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

# Every seeded incident names a patient (a valid NHS number: its check digit is
# modulus 11, which the server checks from 10e41d6 on).
PATIENT_NHS = "9434765919"
REPORT = """mutation($d: ID!, $t: String!) {
  reportIncident(input: {title: $t, description: "Seeded by bench/run.sh",
    occurredAt: "2026-11-01T10:00:00Z", departmentId: $d, kind: EQUIPMENT,
    physicalHarm: LOW, patient: {nhsNumber: "%s", name: "Bench Patient"}})
    { incident { id reference version } } }""" % PATIENT_NHS
COMMENT = """mutation($id: ID!, $b: String!) {
  commentOnIncident(input: {incidentId: $id, body: $b}) { incident { id } } }"""
NEWEST = """query($n: Int!) { incidents(first: $n) { edges { node { id } } } }"""


class Client:
    """One keep-alive HTTP/1.1 connection to the server's /graphql."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path or "/graphql"
        self.conn = None

    def call(self, token, query, variables=None):
        body = json.dumps({"query": query, "variables": variables or {}})
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request("POST", self.path, body, headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server may close an idle keep-alive connection; reconnect once.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        out = json.loads(data) if data else {}
        if resp.status != 200 or out.get("errors"):
            raise RuntimeError(f"HTTP {resp.status}: {data[:500]!r}")
        return out["data"]


def cmd_gql(url, token, query, variables="{}"):
    try:
        data = Client(url).call(token, query, json.loads(variables))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(json.dumps(data))
    return 0


def run_parallel(url, threads, jobs):
    """Runs each job(client) on a pool of `threads`, one keep-alive connection per thread."""
    local = threading.local()

    def wrap(job):
        if not hasattr(local, "client"):
            local.client = Client(url)
        return job(local.client)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(wrap, jobs))


def cmd_seed(url, dept, reporter, handler, n, n_comments, threads):
    n, n_comments, threads = int(n), int(n_comments), int(threads)
    t0 = time.monotonic()
    run_parallel(url, threads, [
        (lambda c, i=i: c.call(reporter, REPORT, {"d": dept, "t": f"Seeded incident {i}"}))
        for i in range(n)
    ])
    t1 = time.monotonic()
    newest = Client(url).call(handler, NEWEST, {"n": n_comments})["incidents"]["edges"]
    ids = [e["node"]["id"] for e in newest]
    run_parallel(url, threads, [
        (lambda c, i=i: c.call(handler, COMMENT, {"id": i, "b": "Reviewed; see the handover notes."}))
        for i in ids
    ])
    t2 = time.monotonic()
    print(json.dumps({
        "incidents": n, "incident_seconds": round(t1 - t0, 2),
        "incidents_per_s": round(n / (t1 - t0), 1),
        "comments": len(ids), "comment_seconds": round(t2 - t1, 2),
    }))
    return 0


def cmd_check_pages(url, token, read_body, sensitive_body):
    def run(path):
        body = json.load(open(path))
        return Client(url).call(token, body["query"], body.get("variables"))["incidents"]
    page = run(read_body)
    edges = [e["node"] for e in page["edges"]]
    commented = sum(1 for e in edges if e["comments"])
    print(f"[bench] page of {len(edges)}: {commented} rows with comments, "
          f"totalCount {page['totalCount']}", file=sys.stderr)
    edges = [e["node"] for e in run(sensitive_body)["edges"]]
    described = sum(1 for e in edges if e["description"])
    patient = sum(1 for e in edges
                  if e["patient"] and e["patient"]["nhsNumber"] == PATIENT_NHS)
    commented_s = sum(1 for e in edges if e["comments"])
    print(f"[bench] sensitive page of {len(edges)}: {described} with the description, "
          f"{patient} with the patient, {commented_s} with comments", file=sys.stderr)
    return 0 if len(edges) == described == patient == commented_s == 50 else 1


def cmd_sqlite(path, query):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    print(conn.execute(query).fetchone()[0])
    return 0


HZ = os.sysconf("SC_CLK_TCK")


def proc_ticks(pid):
    """utime + stime of one process, in clock ticks (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def postgres_ticks():
    """CPU ticks of all processes named postgres (the server and its backends)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "postgres":
                    total += proc_ticks(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def machine_busy_ticks():
    """Busy (non-idle, non-iowait) ticks of the whole machine, summed over cores."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def cmd_load(server_pid, out_path, sep, *oha):
    assert sep == "--"
    before = (machine_busy_ticks(), proc_ticks(server_pid), postgres_ticks(),
              resource.getrusage(resource.RUSAGE_CHILDREN))
    t0 = time.monotonic()
    with open(out_path, "w") as out:
        subprocess.run(oha, stdout=out, check=True)
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy_ticks() - before[0]
    server = proc_ticks(server_pid) - before[1]
    pg = postgres_ticks() - before[2]
    oha_s = (ru.ru_utime + ru.ru_stime) - (before[3].ru_utime + before[3].ru_stime)
    cores = os.cpu_count() or 1

    def pct(seconds):  # share of the machine's capacity over the run
        return round(100 * seconds / (wall * cores))

    with open(out_path) as f:
        r = json.load(f)
    s = r["summary"]
    lat = r.get("latencyPercentiles", {})
    codes = r.get("statusCodeDistribution", {})
    ok = int(codes.get("200", 0))
    others = busy / HZ - server / HZ - pg / HZ - oha_s
    print(json.dumps({
        "rps": s.get("requestsPerSec"),
        "success_rate": s.get("successRate"),
        "p50_ms": (lat.get("p50") or 0) * 1000,
        "p99_ms": (lat.get("p99") or 0) * 1000,
        "slowest_ms": (s.get("slowest") or 0) * 1000,
        "ok": ok,
        "total": sum(int(v) for v in codes.values()),
        "status_codes": codes,
        "errors": r.get("errorDistribution", {}),
        "server_cpu_ms_per_ok": round(server / HZ * 1000 / ok, 2) if ok else None,
        "cpu_pct": {"machine": pct(busy / HZ), "server": pct(server / HZ),
                    "postgres": pct(pg / HZ), "oha": pct(oha_s), "others": max(0, pct(others))},
    }))
    return 0


WORKLOADS = (("write", "(a) `reportIncident`"),
             ("read", "(b) `incidents(first: 50)` + department + comments"),
             ("sensitive", "(c) `incidents(first: 50)` + description, patient, comments"))


def cmd_table(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    print("| database | workload | requests/s | p50 ms | p99 ms | responses (non-200) "
          "| server CPU ms/request | SQL statements/request "
          "| CPU % of machine: server / PostgreSQL / oha / others |")
    print("|---|---|---:|---:|---:|---|---:|---:|---|")
    for r in rows:
        for key, label in WORKLOADS:
            if key not in r:
                continue
            w = r[key]
            non200 = w["total"] - w["ok"]
            errs = sum(w["errors"].values())
            extra = f"{w['total']} ({non200})"
            if errs:
                extra += f", {errs} transport errors"
            stmts = r.get(key + "_statements", "")
            c = w["cpu_pct"]
            split = f"{c['server']} / {c['postgres']} / {c['oha']} / {c['others']}"
            print(f"| {r['db']} | {label} | {w['rps']:.0f} | {w['p50_ms']:.1f} "
                  f"| {w['p99_ms']:.1f} | {extra} | {w['server_cpu_ms_per_ok']} | {stmts} "
                  f"| {split} |")
    print()
    print("| database | statements, `first: 5` | statements, `first: 50` | seed: incidents/s "
          "| server peak RSS (VmHWM) | server log warnings/errors | machine CPU busy before (others) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['db']} | {r['stmts_5']} | {r['stmts_50']} | {r['seed']['incidents_per_s']} "
              f"| {r['vmhwm_kb'] / 1024:.1f} MiB | {r['log_problems']} "
              f"| {r.get('busy_before_pct', '?')}% |")
    if any(r.get("access_events") is not None or r.get("unsealed_after_write") is not None
           for r in rows):
        print()
        print("| database | (c) HTTP 200s | access events written during (c) "
              "| trail events unsealed when (a) ended | seconds until all sealed |")
        print("|---|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['db']} | {r['sensitive']['ok']} | {r.get('access_events')} "
                  f"| {r.get('unsealed_after_write')} | {r.get('seal_wait_s')} |")
    return 0


def cmd_compare(*paths):
    """Before/after tables: one row per build and database, one table per workload. Where
    a build was run several times, the row shows medians, with the range of requests/s."""
    import statistics
    rows = [json.loads(line) for p in paths for line in open(p) if line.strip()]
    groups, order = {}, {}
    for r in rows:  # databases SQLite first, builds in the order first met
        build = r.get("label", "?")
        order.setdefault(build, len(order))
        groups.setdefault((r["db"] != "sqlite", r["db"], order[build], build), []).append(r)
    med = lambda xs: statistics.median(xs)
    for key, label in WORKLOADS:
        print(f"{label}:")
        print()
        print("| database | build | runs | requests/s (range) | p50 ms | p99 ms | 200s (non-200) "
              "| server CPU ms/request | SQL statements/request | server peak RSS "
              "| CPU % server / PostgreSQL / oha / others |")
        print("|---|---|---:|---|---:|---:|---|---:|---:|---:|---|")
        for (_, db, _, build), rs in sorted(groups.items()):
            ws = [r[key] for r in rs if r.get(key)]
            if not ws:
                continue
            rps = [w["rps"] for w in ws]
            rng = f"{med(rps):.0f}" + (f" ({min(rps):.0f}–{max(rps):.0f})" if len(ws) > 1 else "")
            ok = sum(w["ok"] for w in ws)
            bad = sum(w["total"] - w["ok"] for w in ws)
            cpu = lambda k: f"{med([w['cpu_pct'][k] for w in ws]):.0f}"
            stmts = sorted({r.get(key + "_statements") for r in rs}, key=str)
            print(f"| {db} | {build} | {len(ws)} | {rng} | {med([w['p50_ms'] for w in ws]):.1f} "
                  f"| {med([w['p99_ms'] for w in ws]):.1f} | {ok} ({bad}) "
                  f"| {med([w['server_cpu_ms_per_ok'] for w in ws]):.2f} "
                  f"| {', '.join(str(x) for x in stmts)} "
                  f"| {med([r['vmhwm_kb'] for r in rs]) / 1024:.1f} MiB "
                  f"| {cpu('server')} / {cpu('postgres')} / {cpu('oha')} / {cpu('others')} |")
        print()
    return 0


def main(argv):
    cmds = {"gql": cmd_gql, "seed": cmd_seed, "load": cmd_load, "check-pages": cmd_check_pages,
            "sqlite": cmd_sqlite, "table": cmd_table, "compare": cmd_compare}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
