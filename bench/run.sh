#!/usr/bin/env bash
# Load benchmark for Candour on SQLite and PostgreSQL. See docs/BENCHMARKS.md.
#
#   bench/run.sh                 # both databases
#   BENCH_DBS=sqlite bench/run.sh
#   BENCH_BIN=/path/to/candour BENCH_LABEL=before bench/run.sh   # a prebuilt binary
#
# Knobs (environment): BENCH_DBS ("sqlite postgres"), BENCH_SEED (2000 incidents),
# BENCH_COMMENTS (100), BENCH_CONNECTIONS (32), BENCH_DURATION (10s),
# BENCH_PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432), BENCH_SKIP_BUILD=1,
# BENCH_BIN (a prebuilt candour binary; no build then), BENCH_LABEL (names the build in the
# tables; default: the commit of the checkout the binary was built in, else its path),
# BENCH_RESULTS (also append the JSON result lines to this file),
# BENCH_KEEP=1 (keep the work dir and the candour_bench database).
# Needs: cargo, oha (`cargo install oha --locked`), python3, curl, psql (for PostgreSQL).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELPER="$ROOT/bench/bench.py"
DBS="${BENCH_DBS:-sqlite postgres}"
SEED="${BENCH_SEED:-2000}"
COMMENTS="${BENCH_COMMENTS:-100}"
CONNS="${BENCH_CONNECTIONS:-32}"
DURATION="${BENCH_DURATION:-10s}"
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}"
PG_DB=candour_bench
BIN="${BENCH_BIN:-$ROOT/target/release/candour}"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in oha python3 curl; do
    command -v "$tool" >/dev/null || die "$tool not found (oha: cargo install oha --locked)"
done

if [[ -z "${BENCH_BIN:-}" && "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "cargo build --release -p candour"
    (cd "$ROOT" && cargo build --release -p candour --quiet)
fi
[[ -x "$BIN" ]] || die "$BIN missing"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
if [[ -n "${BENCH_LABEL:-}" ]]; then
    LABEL="$BENCH_LABEL"
else
    # <checkout>/target/release/candour: name it by that checkout's commit.
    LABEL="$(git -C "$(dirname "$BIN")/../.." rev-parse --short HEAD 2>/dev/null || echo "$BIN")"
fi

WORK="$(mktemp -d -t candour-bench.XXXXXX)"
RESULTS="$WORK/results.jsonl"
SERVER_PID=""

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

cleanup() {
    stop_server
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        if [[ " $DBS " == *" postgres "* ]]; then
            psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
        fi
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

export CANDOUR_JWT_SECRET="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export CANDOUR_DIAGNOSTICS__SQL_STATEMENT_COUNT=true
export CANDOUR_LOG_LEVEL=warn
export PGOPTIONS='-c client_min_messages=warning'  # no NOTICE from DROP ... IF EXISTS
unset RUST_LOG
# Builds that seal patient details (commit 10e41d6 on) need a data key, or they write a
# development key file into their working directory. Earlier builds do not know the
# setting and refuse unknown CANDOUR_ variables, so it is set only for a binary that can
# make one.
unset CANDOUR_DATA_KEY CANDOUR_DATA_KEY_PREVIOUS
if "$BIN" generate-data-key >/dev/null 2>&1; then
    CANDOUR_DATA_KEY="$("$BIN" generate-data-key)"
    export CANDOUR_DATA_KEY
fi

# In the work dir: nothing the binary might write lands in the caller's directory.
token() { (cd "$WORK" && "$BIN" token --lifetime 2h "$@"); }
ADMIN="$(token --subject bench-admin --name 'Bench Admin' --role admin)"
# With an address, as real staff have: each report then queues its email to the handler.
HANDLER="$(token --subject bench-handler --name 'Bench Handler' --email bench-handler@candour.invalid --role handler --department CARD)"
QLEAD="$(token --subject bench-ql --name 'Bench Quality Lead' --role quality_lead)"
REPORTER="$HANDLER"  # any token may report; the handler is also a known staff member

# The list page under load (first: 50); the same shape with first: 5 for the statement count.
page_query() {
    printf 'query { incidents(first: %s) { totalCount edges { node { reference title status department { name } comments { body author { name } } } } } }' "$1"
}
# The page with sensitive fields: from 10e41d6 on each read of them is noted and written
# to the access log (one access_event row per incident) before the response is sent.
sensitive_query() {
    printf 'query { incidents(first: %s) { edges { node { reference title description patient { nhsNumber name } comments { body } } } } }' "$1"
}
json_body() {  # json_body QUERY [VARIABLES_JSON]
    python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$1" "${2:-{\}}"
}
# Prints the x-sql-statements header of one request (and fails on a non-200 or GraphQL error).
statements() {  # statements TOKEN BODY_FILE
    local hdr="$WORK/hdr" out="$WORK/out" code
    code="$(curl -sS -o "$out" -D "$hdr" -w '%{http_code}' -X POST "$URL" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $1" --data-binary "@$2")"
    [[ "$code" == 200 ]] || die "HTTP $code: $(head -c 500 "$out")"
    if grep -q '"errors"' "$out"; then die "GraphQL errors: $(head -c 500 "$out")"; fi
    tr -d '\r' <"$hdr" | awk -F': ' 'tolower($1)=="x-sql-statements" {print $2}'
}
total_count() {
    python3 "$HELPER" gql "$URL" "$QLEAD" 'query { incidents(first: 1) { totalCount } }' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["incidents"]["totalCount"])'
}
busy_pct() {  # whole-machine CPU busy %, over 2 s
    python3 -c '
import time
def snap():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(2); t1, i1 = snap()
print(round(100 * (1 - (i1 - i0) / max(1, t1 - t0))))'
}
# One value from the benchmark database (bench_db sets DB_KIND, DB_URL and SQLITE_FILE).
sql_value() {  # sql_value QUERY
    case "$DB_KIND" in
        sqlite) python3 "$HELPER" sqlite "$SQLITE_FILE" "$1" ;;
        postgres) psql "$DB_URL" -qAtc "$1" ;;
    esac
}
has_table() {  # has_table NAME: prints 1 or 0
    case "$DB_KIND" in
        sqlite) sql_value "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '$1'" ;;
        postgres) sql_value "SELECT count(*) FROM information_schema.tables WHERE table_name = '$1'" ;;
    esac
}
run_oha() {  # run_oha NAME TOKEN BODY_FILE; prints a JSON summary
    # bench.py runs oha and splits the machine's CPU time over the run between the server,
    # oha, PostgreSQL and everything else (other people's work on a shared machine).
    # -w: requests still in flight at the deadline are waited for, not dropped, so the
    # count of 200s matches what the server did. One oha thread: the generator shares the
    # machine with the server, and one thread drives 32 connections at these rates easily.
    python3 "$HELPER" load "$SERVER_PID" "$WORK/$1.oha.json" -- \
        oha --no-tui --output-format json --worker-threads 1 -w -z "$DURATION" -c "$CONNS" \
        -m POST -H 'Content-Type: application/json' -H "Authorization: Bearer $2" \
        -D "$3" "$URL"
}

bench_db() {
    local db="$1" url
    DB_KIND="$db"
    case "$db" in
        sqlite)
            mkdir -p "$WORK/sqlite"
            SQLITE_FILE="$WORK/sqlite/candour.db"
            url="sqlite://$SQLITE_FILE?mode=rwc"
            ;;
        postgres)
            command -v psql >/dev/null || die "psql not found"
            psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
            psql "$PG_ADMIN_URL/postgres" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
            url="$PG_ADMIN_URL/$PG_DB"
            ;;
        *) die "unknown database $db (sqlite or postgres)" ;;
    esac
    DB_URL="$url"

    # The machine may be shared: note how busy it was (others' work) just before this run.
    local load; load="$(busy_pct)"
    local port; port="$(free_port)"
    URL="http://127.0.0.1:$port/graphql"
    local srvlog="$WORK/$db.server.log"
    log "$db: starting $LABEL ($BIN) serve on 127.0.0.1:$port"
    (cd "$WORK" && CANDOUR_DATABASE_URL="$url" CANDOUR_BIND="127.0.0.1:$port" exec "$BIN" serve) \
        >"$srvlog" 2>&1 &
    SERVER_PID=$!
    local ready=0
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$srvlog" >&2; die "$db: server exited"; }
        if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
        sleep 0.1
    done
    [[ "$ready" == 1 ]] || die "$db: server not ready after 10 s"

    local dept
    dept="$(python3 "$HELPER" gql "$URL" "$ADMIN" \
        'mutation { createDepartment(input: {code: "CARD", name: "Cardiology"}) { department { id } } }' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["createDepartment"]["department"]["id"])')"

    log "$db: seeding $SEED incidents (each naming a patient) and $COMMENTS comments"
    local seed
    seed="$(python3 "$HELPER" seed "$URL" "$dept" "$REPORTER" "$HANDLER" "$SEED" "$COMMENTS" 8)"
    log "$db: seeded: $seed"

    # Request bodies. The write names a patient too: from 10e41d6 on, its details are
    # sealed (AES-256-GCM) and given a keyed look-up hash.
    local write_body="$WORK/write.json" read_body="$WORK/read50.json" read5="$WORK/read5.json"
    local sens_body="$WORK/sensitive50.json"
    json_body 'mutation($d: ID!) { reportIncident(input: {title: "Infusion pump alarm failed", description: "Load test report", occurredAt: "2026-11-01T10:00:00Z", departmentId: $d, kind: EQUIPMENT, physicalHarm: LOW, patient: {nhsNumber: "943 476 5919", name: "Bench Patient"}}) { incident { id reference version } } }' \
        "{\"d\": \"$dept\"}" >"$write_body"
    json_body "$(page_query 50)" >"$read_body"
    json_body "$(page_query 5)" >"$read5"
    json_body "$(sensitive_query 50)" >"$sens_body"

    # Statements per page, before the load (the newest 50 include the commented ones).
    # One request first: a token's first request also records its holder as a staff member
    # (an upsert that later requests skip), which is not the page's cost.
    local s5 s50 sw ssens
    statements "$QLEAD" "$read5" >/dev/null
    s5="$(statements "$QLEAD" "$read5")"
    s50="$(statements "$QLEAD" "$read_body")"
    ssens="$(statements "$QLEAD" "$sens_body")"
    python3 "$HELPER" check-pages "$URL" "$QLEAD" "$read_body" "$sens_body" >&2 \
        || die "$db: the pages are not what the benchmark expects"
    log "$db: x-sql-statements: first:5 -> $s5, first:50 -> $s50, sensitive first:50 -> $ssens"

    # (b) and (c) read first: the write run adds thousands of newer, uncommented incidents
    # that would otherwise fill the first page.
    log "$db: (b) incidents(first: 50), $CONNS connections, $DURATION"
    local read; read="$(run_oha "$db-read" "$QLEAD" "$read_body")"
    log "$db: $read"

    # (c) the page with sensitive fields. Where there is an access log, every 200 must have
    # written one access event per row of the page: 50.
    local access_log ae0=0 ae1=0
    access_log="$(has_table access_event)"
    if [[ "$access_log" == 1 ]]; then ae0="$(sql_value 'SELECT count(*) FROM access_event')"; fi
    log "$db: (c) incidents(first: 50) with sensitive fields, $CONNS connections, $DURATION"
    local sens; sens="$(run_oha "$db-sensitive" "$QLEAD" "$sens_body")"
    log "$db: $sens"
    if [[ "$access_log" == 1 ]]; then
        ae1="$(sql_value 'SELECT count(*) FROM access_event')"
        log "$db: access events written during (c): $((ae1 - ae0))"
    fi

    local before after; before="$(total_count)"
    sw="$(statements "$REPORTER" "$write_body")"
    log "$db: (a) reportIncident, $CONNS connections, $DURATION"
    local write; write="$(run_oha "$db-write" "$REPORTER" "$write_body")"
    log "$db: $write"
    # Where trail events are sealed into a hash chain after commit (10e41d6 on): the backlog
    # left when the write run ends, and how long the sealer then takes to clear it.
    local chain unsealed=-1 seal_wait=-1
    chain="$(has_table trail_head)"
    if [[ "$chain" == 1 ]]; then
        local t0 pending; t0="$(date +%s.%N)"
        unsealed="$(sql_value 'SELECT count(*) FROM trail_event WHERE seq IS NULL')"
        pending="$unsealed"
        for _ in $(seq 1200); do
            [[ "$pending" == 0 ]] && break
            sleep 0.1
            pending="$(sql_value 'SELECT count(*) FROM trail_event WHERE seq IS NULL')"
        done
        seal_wait="$(python3 -c 'import sys, time; print(round(time.time() - float(sys.argv[1]), 1))' "$t0")"
        log "$db: unsealed trail events when the write run ended: $unsealed; all sealed after $seal_wait s"
    fi
    after="$(total_count)"
    local created=$((after - before - 1))  # -1: the statement-count request
    log "$db: incidents created during the write run: $created"

    local vmhwm; vmhwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")"
    stop_server
    local problems; problems="$(grep -Eci 'warn|error|panic' "$srvlog" || true)"
    if [[ "$problems" != 0 ]]; then
        log "$db: server log has $problems warning/error lines; first ones:"
        grep -Ei 'warn|error|panic' "$srvlog" | head -5 >&2
    fi

    python3 - "$db" "$seed" "$write" "$read" "$s5" "$s50" "$sw" "$vmhwm" "$problems" "$created" "$load" \
        "$LABEL" "$sens" "$ssens" "$access_log" "$((ae1 - ae0))" "$unsealed" "$seal_wait" <<'EOF' >>"$RESULTS"
import json, sys
(db, seed, write, read, s5, s50, sw, vmhwm, problems, created, load,
 label, sens, ssens, access_log, access_events, unsealed, seal_wait) = sys.argv[1:]
print(json.dumps({"label": label, "db": db, "seed": json.loads(seed),
                  "write": json.loads(write), "read": json.loads(read),
                  "sensitive": json.loads(sens), "stmts_5": int(s5), "stmts_50": int(s50),
                  "write_statements": int(sw), "read_statements": int(s50),
                  "sensitive_statements": int(ssens),
                  "access_events": int(access_events) if access_log == "1" else None,
                  "unsealed_after_write": int(unsealed) if int(unsealed) >= 0 else None,
                  "seal_wait_s": float(seal_wait) if float(seal_wait) >= 0 else None,
                  "vmhwm_kb": int(vmhwm), "log_problems": int(problems),
                  "write_created": int(created), "busy_before_pct": int(load)}))
EOF
    if [[ "$db" == postgres && "${BENCH_KEEP:-0}" != 1 ]]; then
        psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
    fi
}

START=$SECONDS
for db in $DBS; do bench_db "$db"; done
echo
echo "Candour load benchmark of $LABEL, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), oha -c $CONNS -z $DURATION, $SEED seeded incidents"
echo
python3 "$HELPER" table "$RESULTS"
echo
python3 - "$RESULTS" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    w = r["write"]
    print(f"- {r['db']}: write run: {w['ok']} HTTP 200s, {r['write_created']} incidents created"
          + ("" if w["ok"] == r["write_created"] else " (MISMATCH: some 200s carried GraphQL errors?)"))
    if r.get("access_events") is not None:
        ok = r["sensitive"]["ok"]
        print(f"- {r['db']}: sensitive read run: {ok} HTTP 200s, {r['access_events']} access events"
              + (" (50 per page)" if r["access_events"] == 50 * ok else f" (MISMATCH: expected {50 * ok})"))
EOF
if [[ -n "${BENCH_RESULTS:-}" ]]; then cat "$RESULTS" >>"$BENCH_RESULTS"; fi
log "done in $((SECONDS - START)) s"
