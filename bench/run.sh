#!/usr/bin/env bash
# Load benchmark of Candour at scale, on SQLite and PostgreSQL. See docs/BENCHMARKS.md.
#
#   bench/run.sh                          # both databases, 1,000,000 seeded incidents
#   BENCH_DBS=postgres bench/run.sh       # one database
#   BENCH_SEED=100000 bench/run.sh        # a smaller seed (quicker, for trying things)
#   BENCH_BIN=/path/to/candour BENCH_LABEL=before bench/run.sh   # a prebuilt binary
#
# Workloads (oha: BENCH_CONNECTIONS connections for BENCH_DURATION each, one at a time):
#   page        incidents(first: 50) with department and corrective actions (quality lead)
#   fhir_page   GET /fhir/AdverseEvent?_count=50: the same first page as an FHIR searchset
#               Bundle of LFPSE AdverseEvents (quality lead; each read of the reporter's
#               words and the patient's age is logged, as GraphQL's would be)
#   dash_dept   dashboard: one department, the last 90 days by day, split by harm
#   dash_trust  dashboard: the whole trust, the last 5 years by month, split by harm
#   sensitive   incidents(first: 50) with description and patient (each read logged)
#   write       reportIncident (naming a patient; its trail event, rollup delta and the
#               department handlers' emails are written with it)
#   search1     search(query: "defibrillator", first: 20) with highlights (quality lead;
#               the word is in about 1.7 % of the seeded incidents)
#   search3     search(query: "defibrillator alarm failed", first: 20) with highlights
#   search1h    search1 by a handler of one department (CARD) of the eight: the caller's
#               department scoping applies before the best 20 are chosen
# and, on PostgreSQL, the same SQL run by pgbench with as many clients, so that what the
# API adds over the database itself shows (bench/sql/*.sql).
#
# Knobs (environment): BENCH_DBS ("sqlite postgres"), BENCH_SEED (1000000),
# BENCH_WORKLOADS ("page fhir_page dash_dept dash_trust sensitive write search1 search3 search1h"), BENCH_CONNECTIONS (32),
# BENCH_DURATION (10s), BENCH_PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432),
# BENCH_PG_URL_OPTIONS (sslmode=disable: loopback without TLS),
# BENCH_CACHE (/tmp/candour-bench-cache: seeded databases kept between runs),
# BENCH_SKIP_BUILD=1, BENCH_BIN, BENCH_LABEL, BENCH_RESULTS (append the JSON result lines
# to this file, for bench/bench.py compare), BENCH_PGBENCH=0 (skip pgbench), BENCH_KEEP=1.
# Needs: cargo, oha (`cargo install oha --locked`), python3, curl; for PostgreSQL psql and
# pgbench (Debian's postgresql-client / postgresql-contrib).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELPER="$ROOT/bench/bench.py"
DBS="${BENCH_DBS:-sqlite postgres}"
SEED="${BENCH_SEED:-1000000}"
WORKLOADS="${BENCH_WORKLOADS:-page fhir_page dash_dept dash_trust sensitive write search1 search3 search1h}"
CONNS="${BENCH_CONNECTIONS:-32}"
DURATION="${BENCH_DURATION:-10s}"
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}"
# The server and pgbench reach PostgreSQL on loopback, as a database on the same host would
# be set up: without TLS (which Debian's PostgreSQL otherwise offers, and both would use).
PG_URL_OPTIONS="${BENCH_PG_URL_OPTIONS:-sslmode=disable}"
CACHE="${BENCH_CACHE:-/tmp/candour-bench-cache}"
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
    LABEL="$(git -C "$(dirname "$BIN")/../.." rev-parse --short HEAD 2>/dev/null || echo "$BIN")"
fi

WORK="$(mktemp -d -t candour-bench.XXXXXX)"
RESULTS="$WORK/results.jsonl"
SERVER_PID=""
mkdir -p "$CACHE"

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
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
export PGOPTIONS='-c client_min_messages=warning'
unset RUST_LOG CANDOUR_DATA_KEY_PREVIOUS
# One data key for the seeded databases and every server that opens them.
KEYFILE="$CACHE/data-key"
[[ -s "$KEYFILE" ]] || "$BIN" generate-data-key >"$KEYFILE"
CANDOUR_DATA_KEY="$(cat "$KEYFILE")"
export CANDOUR_DATA_KEY

token() { (cd "$WORK" && "$BIN" token --lifetime 2h "$@"); }
QLEAD="$(token --subject bench-ql --name 'Bench Quality Lead' --role quality_lead)"
# A handler of CARD with an address, as real staff have: each report then queues its email
# to them and the seeded handlers of the department.
REPORTER="$(token --subject bench-handler --name 'Bench Handler' --email bench-handler@candour.invalid --role handler --department CARD)"

# The seeded database this build's schema and seed make: keyed by the incident count and
# the code that shapes the rows, so a change to either seeds afresh.
SEED_KEY="$(cat "$ROOT"/migration/src/*.rs "$ROOT/api/src/seed.rs" "$ROOT/api/src/dashboard/rollup.rs" \
    "$ROOT/api/src/incident/reference.rs" | sha256sum | cut -c1-10)"

seeded_template() {  # seeded_template sqlite|postgres: make the seeded copy if missing
    local db="$1" t0
    case "$db" in
        sqlite)
            local file="$CACHE/seed-$SEED-$SEED_KEY.db"
            if [[ ! -s "$file" ]]; then
                log "sqlite: seeding $SEED incidents into $file (once; kept in $CACHE)"
                rm -f "$file" "$file-wal" "$file-shm"
                t0=$SECONDS
                CANDOUR_DATABASE_URL="sqlite://$file.tmp?mode=rwc" "$BIN" seed --incidents "$SEED" >&2
                python3 "$HELPER" checkpoint "$file.tmp"
                mv "$file.tmp" "$file"
                log "sqlite: seeded in $((SECONDS - t0)) s"
            fi
            echo "$file"
            ;;
        postgres)
            local template="candour_bench_seed_${SEED}_$SEED_KEY"
            if [[ "$(psql "$PG_ADMIN_URL/postgres" -qAtc "SELECT count(*) FROM pg_database WHERE datname = '$template'")" != 1 ]]; then
                log "postgres: seeding $SEED incidents into database $template (once)"
                psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS ${template}_tmp" >/dev/null
                psql "$PG_ADMIN_URL/postgres" -qAtc "CREATE DATABASE ${template}_tmp" >/dev/null
                t0=$SECONDS
                CANDOUR_DATABASE_URL="$PG_ADMIN_URL/${template}_tmp" "$BIN" seed --incidents "$SEED" >&2
                psql "$PG_ADMIN_URL/${template}_tmp" -qAtc "VACUUM ANALYZE" >/dev/null
                psql "$PG_ADMIN_URL/postgres" -qAtc "ALTER DATABASE ${template}_tmp RENAME TO $template" >/dev/null
                log "postgres: seeded in $((SECONDS - t0)) s"
            fi
            echo "$template"
            ;;
    esac
}

json_body() {  # json_body QUERY [VARIABLES_JSON]
    python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$1" "${2:-{\}}"
}
# Prints the x-sql-statements header of one request; fails on a non-200 or GraphQL error.
statements() {  # statements TOKEN BODY_FILE
    local hdr="$WORK/hdr" out="$WORK/out" code
    code="$(curl -sS -o "$out" -D "$hdr" -w '%{http_code}' -X POST "$URL" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $1" --data-binary "@$2")"
    [[ "$code" == 200 ]] || die "HTTP $code: $(head -c 500 "$out")"
    if grep -q '"errors"' "$out"; then die "GraphQL errors: $(head -c 500 "$out")"; fi
    tr -d '\r' <"$hdr" | awk -F': ' 'tolower($1)=="x-sql-statements" {print $2}'
}
# The same for a GET of the FHIR search (no statements header check of GraphQL errors).
statements_get() {  # statements_get TOKEN PATH
    local hdr="$WORK/hdr" out="$WORK/out" code
    code="$(curl -sS -o "$out" -D "$hdr" -w '%{http_code}' "$BASE$2" \
        -H 'Accept: application/fhir+json' -H "Authorization: Bearer $1")"
    [[ "$code" == 200 ]] || die "HTTP $code: $(head -c 500 "$out")"
    grep -q '"resourceType":"Bundle"' "$out" || die "not a Bundle: $(head -c 500 "$out")"
    tr -d '\r' <"$hdr" | awk -F': ' 'tolower($1)=="x-sql-statements" {print $2}'
}
sql_value() {  # sql_value QUERY (on the benchmark database)
    case "$DB_KIND" in
        sqlite) python3 "$HELPER" sqlite "$SQLITE_FILE" "$1" ;;
        postgres) psql "$DB_URL" -qAtc "$1" ;;
    esac
}
run_oha() {  # run_oha NAME TOKEN BODY_FILE; prints a JSON summary
    # bench.py runs oha and splits the machine's CPU over the run between the server,
    # oha, PostgreSQL and everything else. -w: requests in flight at the deadline are
    # waited for, so the 200s match what the server did.
    python3 "$HELPER" load "$SERVER_PID" "$WORK/$1.oha.json" -- \
        oha --no-tui --output-format json --worker-threads 1 -w -z "$DURATION" -c "$CONNS" \
        -m POST -H 'Content-Type: application/json' -H "Authorization: Bearer $2" \
        -D "$3" "$URL"
}

run_oha_get() {  # run_oha_get NAME TOKEN PATH; prints a JSON summary
    python3 "$HELPER" load "$SERVER_PID" "$WORK/$1.oha.json" -- \
        oha --no-tui --output-format json --worker-threads 1 -w -z "$DURATION" -c "$CONNS" \
        -H 'Accept: application/fhir+json' -H "Authorization: Bearer $2" "$BASE$3"
}

bench_db() {
    local db="$1" url template
    DB_KIND="$db"
    template="$(seeded_template "$db")"
    case "$db" in
        sqlite)
            mkdir -p "$WORK/sqlite"
            SQLITE_FILE="$WORK/sqlite/candour.db"
            cp "$template" "$SQLITE_FILE"
            url="sqlite://$SQLITE_FILE?mode=rwc"
            ;;
        postgres)
            psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
            psql "$PG_ADMIN_URL/postgres" -qAtc "CREATE DATABASE $PG_DB TEMPLATE $template" >/dev/null
            url="$PG_ADMIN_URL/$PG_DB?$PG_URL_OPTIONS"
            ;;
    esac
    DB_URL="$url"

    local load; load="$(python3 "$HELPER" busy)"
    local port; port="$(free_port)"
    BASE="http://127.0.0.1:$port"
    URL="$BASE/graphql"
    local srvlog="$WORK/$db.server.log"
    log "$db: starting $LABEL serve on 127.0.0.1:$port ($(sql_value 'SELECT count(*) FROM incident') incidents)"
    (cd "$WORK" && CANDOUR_DATABASE_URL="$url" CANDOUR_BIND="127.0.0.1:$port" exec "$BIN" serve) \
        >"$srvlog" 2>&1 &
    SERVER_PID=$!
    local ready=0
    for _ in $(seq 600); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$srvlog" >&2; die "$db: server exited"; }
        if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
        sleep 0.1
    done
    [[ "$ready" == 1 ]] || die "$db: server not ready after 60 s"

    local dept today ninety five
    dept="$(python3 "$HELPER" gql "$URL" "$QLEAD" '{ departments { id code } }' \
        | python3 -c 'import json,sys; print([d["id"] for d in json.load(sys.stdin)["departments"] if d["code"] == "CARD"][0])')"
    today="$(python3 -c 'import datetime; print(datetime.date.today())')"
    ninety="$(python3 -c 'import datetime; print(datetime.date.today() - datetime.timedelta(days=89))')"
    five="$(python3 -c 'import datetime; d = datetime.date.today(); print(d.replace(year=d.year - 5) + datetime.timedelta(days=1))')"

    declare -A BODY TOKEN
    BODY[write]="$WORK/write.json"; TOKEN[write]="$REPORTER"
    json_body 'mutation($d: ID!) { reportIncident(input: {title: "Infusion pump alarm failed", description: "Load test report", occurredAt: "2026-11-01T10:00:00Z", departmentId: $d, kind: EQUIPMENT, physicalHarm: LOW, patient: {nhsNumber: "943 476 5919", name: "Bench Patient"}}) { incident { id reference version } } }' \
        "{\"d\": \"$dept\"}" >"${BODY[write]}"
    BODY[page]="$WORK/page.json"; TOKEN[page]="$QLEAD"
    BODY[fhir_page]="/fhir/AdverseEvent?_count=50"; TOKEN[fhir_page]="$QLEAD"
    json_body 'query { incidents(first: 50) { edges { node { reference title status reportedAt physicalHarm department { code name } correctiveActions { title status dueDate overdue } } } pageInfo { hasNextPage endCursor } } }' \
        >"${BODY[page]}"
    BODY[sensitive]="$WORK/sensitive.json"; TOKEN[sensitive]="$QLEAD"
    json_body 'query { incidents(first: 50) { edges { node { reference title description patient { nhsNumber name } } } } }' \
        >"${BODY[sensitive]}"
    local search='query($q: String!) { search(query: $q, first: 20) { edges { node { kind score highlights { field fragments { text matched } } record { ... on Incident { reference title status } } } } pageInfo { hasNextPage endCursor } } }'
    BODY[search1]="$WORK/search1.json"; TOKEN[search1]="$QLEAD"
    json_body "$search" '{"q": "defibrillator"}' >"${BODY[search1]}"
    BODY[search3]="$WORK/search3.json"; TOKEN[search3]="$QLEAD"
    json_body "$search" '{"q": "defibrillator alarm failed"}' >"${BODY[search3]}"
    BODY[search1h]="$WORK/search1h.json"; TOKEN[search1h]="$REPORTER"
    json_body "$search" '{"q": "defibrillator"}' >"${BODY[search1h]}"
    BODY[dash_dept]="$WORK/dash_dept.json"; TOKEN[dash_dept]="$QLEAD"
    json_body 'query($d: ID!, $from: Date!) { dashboard(filter: {departmentIds: [$d], from: $from}) { incidentCounts(interval: DAY, splitBy: PHYSICAL_HARM) { total buckets { start total split { key count } } } } }' \
        "{\"d\": \"$dept\", \"from\": \"$ninety\"}" >"${BODY[dash_dept]}"
    BODY[dash_trust]="$WORK/dash_trust.json"; TOKEN[dash_trust]="$QLEAD"
    json_body 'query($from: Date!) { dashboard(filter: {from: $from}) { incidentCounts(interval: MONTH, splitBy: PHYSICAL_HARM) { total buckets { start total split { key count } } } } }' \
        "{\"from\": \"$five\"}" >"${BODY[dash_trust]}"

    # One request each first: it checks the answer, counts its statements, and records the
    # caller as a staff member (an upsert that later requests skip).
    declare -A STMTS
    for w in $WORKLOADS; do
        [[ "$w" == write ]] && continue
        if [[ "$w" == fhir_page ]]; then
            statements_get "${TOKEN[$w]}" "${BODY[$w]}" >/dev/null
            STMTS[$w]="$(statements_get "${TOKEN[$w]}" "${BODY[$w]}")"
            continue
        fi
        statements "${TOKEN[$w]}" "${BODY[$w]}" >/dev/null
        STMTS[$w]="$(statements "${TOKEN[$w]}" "${BODY[$w]}")"
    done
    python3 "$HELPER" check "$URL" "$QLEAD" "${BODY[page]}" "${BODY[dash_dept]}" "${BODY[dash_trust]}" "$SEED" >&2 \
        || die "$db: the answers are not what the benchmark expects"

    local line="{\"label\": \"$LABEL\", \"db\": \"$db\", \"seeded\": $SEED, \"busy_before_pct\": $load"
    for w in $WORKLOADS; do
        local before_events=0 before_incidents=0
        if [[ "$w" == write ]]; then
            before_incidents="$(sql_value 'SELECT count(*) FROM incident')"
            statements "${TOKEN[write]}" "${BODY[write]}" >/dev/null
            STMTS[write]="$(statements "${TOKEN[write]}" "${BODY[write]}")"
            before_incidents=$((before_incidents + 2))
        fi
        [[ "$w" == sensitive ]] && before_events="$(sql_value 'SELECT count(*) FROM access_event')"
        log "$db: $w, $CONNS connections, $DURATION"
        local r
        if [[ "$w" == fhir_page ]]; then
            r="$(run_oha_get "$db-$w" "${TOKEN[$w]}" "${BODY[$w]}")"
        else
            r="$(run_oha "$db-$w" "${TOKEN[$w]}" "${BODY[$w]}")"
        fi
        log "$db: $w: $r"
        line+=", \"$w\": $r, \"${w}_statements\": ${STMTS[$w]}"
        if [[ "$w" == sensitive ]]; then
            line+=", \"access_events\": $(( $(sql_value 'SELECT count(*) FROM access_event') - before_events ))"
        fi
        if [[ "$w" == write ]]; then
            line+=", \"write_created\": $(( $(sql_value 'SELECT count(*) FROM incident') - before_incidents ))"
        fi
    done
    # The reports' rollup deltas are folded about a second after they commit; stop only
    # then, so that pgbench reads the tables a running server would leave.
    local waited=0
    while [[ "$(sql_value 'SELECT count(*) FROM incident_rollup_delta')" != 0 && $waited -lt 100 ]]; do
        sleep 0.1; waited=$((waited + 1))
    done
    line+=", \"deltas_folded_after_s\": $(python3 -c "print($waited / 10)")"
    local vmhwm; vmhwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")"
    stop_server
    local problems; problems="$(grep -Eci 'warn|error|panic' "$srvlog" || true)"
    if [[ "$problems" != 0 ]]; then
        log "$db: server log has $problems warning/error lines; first ones:"
        grep -Ei 'warn|error|panic' "$srvlog" | head -5 >&2
    fi
    line+=", \"vmhwm_kb\": $vmhwm, \"log_problems\": $problems"

    if [[ "$db" == postgres && "${BENCH_PGBENCH:-1}" != 0 ]]; then
        command -v pgbench >/dev/null || die "pgbench not found (Debian: postgresql-contrib)"
        local dept_uuid year
        dept_uuid="$(psql "$DB_URL" -qAtc "SELECT id FROM department WHERE code = 'CARD'")"
        year="$(date -u +%Y)"
        for w in $WORKLOADS; do
            [[ "$w" == sensitive || "$w" == fhir_page || "$w" == search* ]] && continue
            log "$db: pgbench $w, $CONNS clients, $DURATION"
            local p; p="$(python3 "$HELPER" pgbench "$DB_URL" "$ROOT/bench/sql/$w.sql" "$WORK/pgbench-$w" "$CONNS" "$DURATION" \
                "dept=$dept_uuid" "year=$year" "from90=$ninety" "from5y=$five" "today=$today")"
            log "$db: pgbench $w: $p"
            line+=", \"pgbench_$w\": $p"
            if [[ -f "$ROOT/bench/sql/${w}_kept.sql" ]]; then
                log "$db: pgbench ${w}_kept, $CONNS clients, $DURATION"
                p="$(python3 "$HELPER" pgbench "$DB_URL" "$ROOT/bench/sql/${w}_kept.sql" "$WORK/pgbench-${w}_kept" "$CONNS" "$DURATION" \
                    "dept=$dept_uuid")"
                log "$db: pgbench ${w}_kept: $p"
                line+=", \"pgbench_${w}_kept\": $p"
            fi
        done
    fi
    echo "$line}" >>"$RESULTS"
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
if [[ -n "${BENCH_RESULTS:-}" ]]; then cat "$RESULTS" >>"$BENCH_RESULTS"; fi
log "done in $((SECONDS - START)) s"
