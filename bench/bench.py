#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

Subcommands:
  gql URL TOKEN QUERY [VARS_JSON]     run one GraphQL request, print the JSON response
                                      (exit 1 on HTTP error or GraphQL `errors`)
  check URL TOKEN PAGE DASH_DEPT DASH_TRUST SEEDED
                                      check that the answers under load are what the
                                      benchmark means (50 rows; dashboards that count)
  load SERVER_PID OUT_JSON -- OHA_ARGS...
                                      run oha (JSON output to OUT_JSON), print a one-line
                                      JSON summary with where the machine's CPU time went
  pgbench DB_URL SCRIPT LOG_PREFIX CLIENTS DURATION VAR=VALUE...
                                      run a pgbench script with that many clients, print a
                                      JSON summary like `load`'s (p50/p99 from its log)
  busy                                whole-machine CPU busy %, over 2 s
  checkpoint SQLITE_FILE              fold the WAL into the database file
  sqlite DB_FILE QUERY                print the first value of a query (read-only)
  table RESULTS.jsonl                 print the markdown tables of all results
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


def cmd_check(url, token, page_body, dept_body, trust_body, seeded):
    def run(path):
        body = json.load(open(path))
        return Client(url).call(token, body["query"], body.get("variables"))
    edges = [e["node"] for e in run(page_body)["incidents"]["edges"]]
    with_actions = sum(1 for e in edges if e["correctiveActions"])
    dept = run(dept_body)["dashboard"]["incidentCounts"]
    trust = run(trust_body)["dashboard"]["incidentCounts"]
    print(f"[bench] page of {len(edges)} ({with_actions} with corrective actions); "
          f"one department, 90 days: {dept['total']} incidents in {len(dept['buckets'])} days; "
          f"the trust, 5 years: {trust['total']} in {len(trust['buckets'])} months",
          file=sys.stderr)
    # The seed spreads its incidents over five years, so the trust's five years hold
    # nearly all of them, and one department's last 90 days some.
    return 0 if (len(edges) == 50 and len(dept["buckets"]) == 90 and dept["total"] > 0
                 and trust["total"] >= 0.95 * int(seeded)) else 1


def cmd_busy():
    def snap():
        v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(2)
    t1, i1 = snap()
    print(round(100 * (1 - (i1 - i0) / max(1, t1 - t0))))
    return 0


def cmd_checkpoint(path):
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return 0


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


def postgres_ticks_by_pid():
    """CPU ticks of each process named postgres (the server and its backends)."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "postgres":
                    out[pid] = proc_ticks(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


class PostgresSampler:
    """PostgreSQL's CPU over a run, backends that start and end within it included
    (pgbench's connections): each process's ticks sampled every 0.2 s, counted from its
    first sample (or from 0 if it started during the run) to its last."""

    def __init__(self):
        self.first = postgres_ticks_by_pid()
        self.last = dict(self.first)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.wait(0.2):
            for pid, t in postgres_ticks_by_pid().items():
                self.last[pid] = t

    def ticks(self):
        self.stop.set()
        self.thread.join()
        for pid, t in postgres_ticks_by_pid().items():
            self.last[pid] = t
        return sum(t - self.first.get(pid, 0) for pid, t in self.last.items())


def machine_busy_ticks():
    """Busy (non-idle, non-iowait) ticks of the whole machine, summed over cores."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def cmd_load(server_pid, out_path, sep, *oha):
    assert sep == "--"
    before = (machine_busy_ticks(), proc_ticks(server_pid), PostgresSampler(),
              resource.getrusage(resource.RUSAGE_CHILDREN))
    t0 = time.monotonic()
    with open(out_path, "w") as out:
        subprocess.run(oha, stdout=out, check=True)
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy_ticks() - before[0]
    server = proc_ticks(server_pid) - before[1]
    pg = before[2].ticks()
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


WORKLOADS = (("page", "`incidents(first: 50)` + department + corrective actions"),
             ("fhir_page", "`GET /fhir/AdverseEvent?_count=50` (searchset Bundle)"),
             ("dash_dept", "dashboard: one department, 90 days by day, by harm"),
             ("dash_trust", "dashboard: the trust, 5 years by month, by harm"),
             ("sensitive", "`incidents(first: 50)` + description + patient (logged)"),
             ("write", "`reportIncident`"))


def month_runs(start, end):
    """The (grain, first, last) ranges the server reads for a month-by-month series from
    `start` to `end` (dates): whole months from month rows; the partial first and last
    months from week rows (weeks inside the month) and day rows (api/src/dashboard/period.rs)."""
    import datetime as dt

    def month_start(d):
        return d.replace(day=1)

    def next_month(d):
        return (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)

    pieces = []  # (grain, start)
    d = start
    while d <= end:
        nm = next_month(month_start(d))
        if d.day == 1 and nm - dt.timedelta(days=1) <= end:
            pieces.append((3, d)); d = nm; continue
        week_end = d + dt.timedelta(days=6)
        if d.weekday() == 0 and week_end <= end and week_end < nm:
            pieces.append((2, d)); d += dt.timedelta(days=7); continue
        pieces.append((1, d)); d += dt.timedelta(days=1)
    step = {1: lambda d: d + dt.timedelta(days=1), 2: lambda d: d + dt.timedelta(days=7),
            3: next_month}
    runs = []
    for g, d in sorted(pieces):
        if runs and runs[-1][0] == g and step[g](runs[-1][2]) == d:
            runs[-1][2] = d
        else:
            runs.append([g, d, d])
    return runs


def cmd_pgbench(db_url, script, prefix, clients, duration, *variables):
    import datetime as dt
    import glob
    text = open(script).read()
    vars_ = dict(v.split("=", 1) for v in variables)
    if ":runs" in text:
        runs = month_runs(dt.date.fromisoformat(vars_["from5y"]), dt.date.fromisoformat(vars_["today"]))
        text = text.replace(":runs", " OR ".join(
            f"(grain = {g} AND bucket BETWEEN '{a}' AND '{b}')" for g, a, b in runs))
    rendered = prefix + ".sql"
    open(rendered, "w").write(text)
    seconds = int(duration.rstrip("s"))
    args = ["pgbench", "-n", "-M", "prepared", "-c", clients, "-j", "1", "-T", str(seconds),
            "-f", rendered, "-l", f"--log-prefix={prefix}"]
    for k, v in vars_.items():
        args += ["-D", f"{k}={v}"]
    before = (machine_busy_ticks(), PostgresSampler(), None,
              resource.getrusage(resource.RUSAGE_CHILDREN))
    t0 = time.monotonic()
    out = subprocess.run(args + [db_url], capture_output=True, text=True, cwd=os.path.dirname(prefix))
    wall = time.monotonic() - t0
    if out.returncode != 0:
        print(out.stdout[-2000:] + out.stderr[-2000:], file=sys.stderr)
        return 1
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy_ticks() - before[0]
    pg = before[1].ticks()
    bench_s = (ru.ru_utime + ru.ru_stime) - (before[3].ru_utime + before[3].ru_stime)
    lat = []
    failed = 0
    for path in glob.glob(prefix + ".*"):
        if path.endswith(".sql"):
            continue
        for line in open(path):
            f = line.split()
            if len(f) >= 3:
                if f[2] in ("failed", "skipped"):
                    failed += 1
                else:
                    lat.append(int(f[2]))
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, max(0, int(round(p * len(lat))) - 1))] / 1000 if lat else None
    cores = os.cpu_count() or 1
    pct = lambda sec: round(100 * sec / (wall * cores))
    tps = len(lat) / seconds if seconds else 0
    print(json.dumps({
        "rps": round(tps, 1), "p50_ms": q(0.50), "p99_ms": q(0.99), "ok": len(lat),
        "total": len(lat) + failed,
        "cpu_pct": {"machine": pct(busy / HZ), "postgres": pct(pg / HZ), "pgbench": pct(bench_s),
                    "others": max(0, pct(busy / HZ - pg / HZ - bench_s))},
    }))
    return 0


def cmd_table(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    for r in rows:
        print(f"**{r['db']}**, {r['seeded']:,} seeded incidents, build {r['label']}:")
        print()
        print("| workload | requests/s | p50 ms | p99 ms | 200s (other) | server CPU ms/request "
              "| SQL statements | CPU % of machine: server / PostgreSQL / oha / others |")
        print("|---|---:|---:|---:|---|---:|---:|---|")
        for key, label in WORKLOADS:
            w = r.get(key)
            if not w:
                continue
            errs = sum(w["errors"].values())
            extra = f"{w['ok']} ({w['total'] - w['ok']}" + (f", {errs} transport errors)" if errs else ")")
            c = w["cpu_pct"]
            print(f"| {label} | {w['rps']:.0f} | {w['p50_ms']:.1f} | {w['p99_ms']:.1f} | {extra} "
                  f"| {w['server_cpu_ms_per_ok']} | {r.get(key + '_statements', '')} "
                  f"| {c['server']} / {c['postgres']} / {c['oha']} / {c['others']} |")
            for suffix, what in [("", "the same SQL"),
                                 ("_kept", "the SQL of a read whose rollup rows are kept")]:
                p = r.get("pgbench_" + key + suffix)
                if not p:
                    continue
                if suffix == "" and r.get("pgbench_" + key + "_kept"):
                    what = "the SQL of a read whose rollup rows are not kept yet"
                c = p["cpu_pct"]
                print(f"| ↳ {what}, by pgbench | {p['rps']:.0f} | {p['p50_ms']:.1f} "
                      f"| {p['p99_ms']:.1f} | {p['ok']} ({p['total'] - p['ok']}) | – | – "
                      f"| – / {c['postgres']} / {c['pgbench']} (pgbench) / {c['others']} |")
        print()
        notes = [f"server peak RSS {r['vmhwm_kb'] / 1024:.1f} MiB",
                 f"{r['log_problems']} server log warnings/errors",
                 f"machine {r.get('busy_before_pct', '?')}% busy before"]
        if "deltas_folded_after_s" in r:
            notes.append(f"every rollup delta folded {r['deltas_folded_after_s']} s after the last workload")
        if "write_created" in r:
            ok = r["write"]["ok"]
            notes.append(f"{r['write_created']} incidents made by {ok} reports"
                         + ("" if r["write_created"] == ok else " (MISMATCH)"))
        if r.get("access_events") is not None:
            ok = r["sensitive"]["ok"]
            notes.append(f"{r['access_events']} access events for {ok} sensitive pages"
                         + (" (50 each)" if r["access_events"] == 50 * ok else " (MISMATCH)"))
        print("- " + "; ".join(notes))
        print()
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
    cmds = {"gql": cmd_gql, "check": cmd_check, "load": cmd_load, "pgbench": cmd_pgbench,
            "busy": cmd_busy, "checkpoint": cmd_checkpoint, "sqlite": cmd_sqlite,
            "table": cmd_table, "compare": cmd_compare}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
