#!/usr/bin/env python3
"""Fills a Candour database with a long, correctly sealed trail, to time
`candour verify-trail` (and the sealer) on it. Standard library only; PostgreSQL through
`psql` (COPY). See docs/BENCHMARKS.md.

  bench/trail.py DATABASE_URL EVENTS [UNSEALED]

DATABASE_URL is `sqlite://PATH[?...]` or `postgres://...`, already migrated by the build
under test (`CANDOUR_DATABASE_URL=... candour migrate`). Writes EVENTS sealed events (seq
1..EVENTS, each linked to the one before) and the head row, then UNSEALED (default 0)
events with no place yet, newer than all of them, for the sealer to seal. Sealed events
need a database with no trail events yet; unsealed ones (EVENTS 0) may be added to a trail
this script made before.

The hash is the server's (api/src/trail/chain.rs): SHA-256 over the previous hash, "\\n"
and the canonical form, the JSON array [seq, id, occurred_at (RFC 3339, microseconds, Z),
actor_id, actor_label, actor_roles, entity_type, entity_id, action, changes, request_id],
as serde_json writes it (compact, non-ASCII unescaped), hex; the first event's previous
hash is 64 zeros. Values are stored as the server stores them: on SQLite a UUID is a
16-byte BLOB and a timestamp RFC 3339 text with "+00:00"; on PostgreSQL native uuid and
timestamptz.
"""
import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid

GENESIS = "0" * 64
START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)

# What the trail holds, roughly: reports, triage, comments, candour steps, by named staff
# and (reports) anonymously; some values with quotes and non-ASCII text, so the canonical
# form's escaping is exercised.
STAFF = [
    (uuid.UUID("0193a000-0000-7000-8000-000000000001"), "Bench Handler <handler@example.nhs.uk>", "handler"),
    (uuid.UUID("0193a000-0000-7000-8000-000000000002"), "Zoë O'Brien", "quality_lead"),
    (uuid.UUID("0193a000-0000-7000-8000-000000000003"), "Ana \"Nan\" Jones", "handler staff"),
]
TEMPLATES = [
    ("incident.reported", True, [
        {"field": "reference", "before": None, "after": "INC-2020-000001"},
        {"field": "title", "before": None, "after": "Infusion pump alarm failed"},
        {"field": "status", "before": None, "after": "REPORTED"},
        {"field": "physicalHarm", "before": None, "after": "LOW"},
        {"field": "description", "before": None, "after": None, "sensitive": True},
        {"field": "patient", "before": None, "after": None, "sensitive": True},
    ]),
    ("incident.reported", False, [
        {"field": "reference", "before": None, "after": "INC-2020-000002"},
        {"field": "title", "before": None, "after": "Fall on ward — café corridor"},
        {"field": "status", "before": None, "after": "REPORTED"},
    ]),
    ("incident.triaged", True, [
        {"field": "status", "before": "REPORTED", "after": "UNDER_REVIEW"},
        {"field": "physicalHarm", "before": "LOW", "after": "MODERATE"},
        {"field": "category", "before": None, "after": "Medication \"wrong dose\""},
    ]),
    ("incident.commented", True, [
        {"field": "comment", "before": None, "after": None, "sensitive": True},
    ]),
]


def uuid7(ms, rand):
    """A UUID v7 for Unix time `ms` with 74 bits from `rand` (time-ordered, like the server's)."""
    v = (ms & ((1 << 48) - 1)) << 80
    v |= 0x7 << 76
    v |= ((rand >> 62) & 0xFFF) << 64
    v |= 0b10 << 62
    v |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=v)


def events(first, count, seed):
    """Yields (id, occurred_at, actor_id, label, roles, entity_type, entity_id, action,
    changes, request_id) for events first..first+count-1, ordered by id and time."""
    base_ms = int(START.timestamp() * 1000)
    for i in range(first, first + count):
        h = int.from_bytes(hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=16).digest(), "big")
        ms = base_ms + i * 7  # a few events a second, for years: ids strictly ascending
        eid = uuid7(ms, h)
        # Microseconds within the id's millisecond, some exactly on a millisecond.
        micros = 0 if i % 5 == 0 else h % 1000
        at = START + dt.timedelta(milliseconds=i * 7, microseconds=micros)
        action, named, changes = TEMPLATES[i % len(TEMPLATES)]
        if named:
            actor_id, label, roles = STAFF[i % len(STAFF)]
        else:
            actor_id, label, roles = None, None, None
        entity = uuid7(ms - 1000, h >> 3)
        request_id = None if i % 11 == 0 else f"req-{h & 0xFFFFFFFFFFFF:012x}"
        yield (eid, at, actor_id, label, roles, "Incident", entity, action,
               json.dumps(changes, ensure_ascii=False, separators=(",", ":")), request_id)


def rfc3339_micros_z(at):
    """chrono's to_rfc3339_opts(SecondsFormat::Micros, true)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def link(prev, seq, e):
    eid, at, actor_id, label, roles, etype, entity, action, changes, request_id = e
    canonical = json.dumps(
        [seq, str(eid), rfc3339_micros_z(at), str(actor_id) if actor_id else None, label,
         roles, etype, str(entity), action, changes, request_id],
        ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + "\n" + canonical).encode()).hexdigest()


def sealed(n, seed):
    prev = GENESIS
    for seq, e in enumerate(events(1, n, seed), start=1):
        h = link(prev, seq, e)
        yield e, seq, prev, h
        prev = h


COLS = ("id, occurred_at, actor_id, actor_label, actor_roles, entity_type, entity_id, "
        "action, changes, request_id, seq, prev_hash, hash")


def sqlite_ts(at):
    """How sqlx stores a DateTime<Utc> in SQLite: to_rfc3339_opts(AutoSi, false)."""
    s = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        frac = f"{at.microsecond:06d}"
        s += "." + (frac[:3] if frac.endswith("000") else frac)
    return s + "+00:00"


def fill_sqlite(path, n, unsealed, seed):
    conn = sqlite3.connect(path)
    existing = conn.execute("SELECT count(*) FROM trail_event").fetchone()[0]
    if existing and n:
        sys.exit(f"the trail already has {existing} events: sealed events need an empty one")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    blob = lambda u: u.bytes if u else None
    last = (0, GENESIS)

    def rows():
        nonlocal last
        for e, seq, prev, h in sealed(n, seed):
            last = (seq, h)
            yield row(e) + (seq, prev, h)
        for e in events(existing + n + 1, unsealed, seed):
            yield row(e) + (None, None, None)

    def row(e):
        eid, at, actor_id, label, roles, etype, entity, action, changes, request_id = e
        return (blob(eid), sqlite_ts(at), blob(actor_id), label, roles, etype, blob(entity),
                action, changes, request_id)

    with conn:
        conn.executemany(f"INSERT INTO trail_event ({COLS}) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
        if n:
            conn.execute(
                "INSERT INTO trail_head (id, seq, hash, sealed_at) VALUES (1, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
                "sealed_at = excluded.sealed_at",
                (last[0], last[1], sqlite_ts(dt.datetime.now(dt.timezone.utc))))
    conn.close()
    return last


def copy_text(v):
    if v is None:
        return r"\N"
    if isinstance(v, dt.datetime):
        return v.isoformat()
    s = str(v)
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def fill_postgres(url, n, unsealed, seed):
    existing = int(subprocess.check_output(
        ["psql", url, "-qAtc", "SELECT count(*) FROM trail_event"]).decode())
    if existing and n:
        sys.exit(f"the trail already has {existing} events: sealed events need an empty one")
    psql = subprocess.Popen(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
         f"COPY trail_event ({COLS}) FROM STDIN"],
        stdin=subprocess.PIPE)
    last = (0, GENESIS)
    out = psql.stdin
    buf = []

    def put(values):
        buf.append("\t".join(copy_text(v) for v in values) + "\n")
        if len(buf) >= 10_000:
            out.write("".join(buf).encode())
            buf.clear()

    for e, seq, prev, h in sealed(n, seed):
        last = (seq, h)
        put(e + (seq, prev, h))
    for e in events(existing + n + 1, unsealed, seed):
        put(e + (None, None, None))
    out.write("".join(buf).encode())
    out.close()
    if psql.wait() != 0:
        sys.exit("psql COPY failed")
    if n:
        subprocess.run(
            ["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
             "INSERT INTO trail_head (id, seq, hash, sealed_at) "
             f"VALUES (1, {last[0]}, '{last[1]}', now()) ON CONFLICT (id) DO UPDATE "
             "SET seq = excluded.seq, hash = excluded.hash, sealed_at = excluded.sealed_at"],
            check=True)
    return last


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    url, n = argv[1], int(argv[2])
    unsealed = int(argv[3]) if len(argv) == 4 else 0
    seed = os.environ.get("BENCH_TRAIL_SEED", "candour")
    t0 = time.monotonic()
    if url.startswith("sqlite:"):
        path = url.split(":", 1)[1].removeprefix("//").split("?", 1)[0]
        last = fill_sqlite(path, n, unsealed, seed)
    elif url.startswith(("postgres://", "postgresql://")):
        last = fill_postgres(url, n, unsealed, seed)
    else:
        print("DATABASE_URL: sqlite://PATH or postgres://...", file=sys.stderr)
        return 2
    print(json.dumps({"sealed": n, "unsealed": unsealed, "head_seq": last[0],
                      "head_hash": last[1], "seconds": round(time.monotonic() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
