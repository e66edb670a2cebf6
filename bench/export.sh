#!/usr/bin/env bash
# CSV export benchmark: the time to download GET /export/incidents.csv of a whole seeded
# register (100,000 incidents by default) as a quality lead, every row's description sent
# and its read logged, and the server's memory: resident at rest, the most it held while
# the file downloaded (sampled every 20 ms), after, and its high-water mark (VmHWM). On
# SQLite and PostgreSQL. See docs/BENCHMARKS.md, "CSV export".
#
#   bench/export.sh                               # both databases, 100,000 incidents
#   BENCH_DBS=sqlite BENCH_SEED=10000 bench/export.sh
#   BENCH_BIN=target/debug/candour bench/export.sh   # a debug build (figures not comparable)
#
# Knobs: BENCH_DBS ("sqlite postgres"), BENCH_SEED (100000), BENCH_ROUNDS (3 exports in a
# row on one server), BENCH_BIN (target/release/candour, built unless BENCH_SKIP_BUILD=1),
# BENCH_PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432), CANDOUR_LIMITS__EXPORT_PAGE_SIZE.
# Needs: cargo, curl, python3; for PostgreSQL psql.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DBS="${BENCH_DBS:-sqlite postgres}"
SEED="${BENCH_SEED:-100000}"
ROUNDS="${BENCH_ROUNDS:-3}"
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}"
PG_DB=candour_export_bench
BIN="${BENCH_BIN:-$ROOT/target/release/candour}"

log() { printf '[export %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -z "${BENCH_BIN:-}" && "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "cargo build --release -p candour"
    (cd "$ROOT" && cargo build --release -p candour --quiet)
fi
[[ -x "$BIN" ]] || die "$BIN missing"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

WORK="$(mktemp -d -t candour-export.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export CANDOUR_JWT_SECRET="export-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CANDOUR_DATA_KEY="$("$BIN" generate-data-key)"
export CANDOUR_DATA_KEY CANDOUR_LOG_LEVEL=warn PGOPTIONS='-c client_min_messages=warning'
unset RUST_LOG
QLEAD="$(cd "$WORK" && "$BIN" token --lifetime 2h --subject bench-ql --name 'Bench Quality Lead' --role quality_lead)"

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

for db in $DBS; do
    case "$db" in
        sqlite) url="sqlite://$WORK/candour.db?mode=rwc" ;;
        postgres)
            psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
            psql "$PG_ADMIN_URL/postgres" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
            url="$PG_ADMIN_URL/$PG_DB?sslmode=disable"
            ;;
        *) die "unknown database $db" ;;
    esac
    log "$db: seeding $SEED incidents"
    (cd "$WORK" && CANDOUR_DATABASE_URL="$url" "$BIN" seed --incidents "$SEED" >/dev/null)
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    (cd "$WORK" && CANDOUR_DATABASE_URL="$url" CANDOUR_BIND="127.0.0.1:$port" exec "$BIN" serve) \
        >"$WORK/$db.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$db.log" >&2; die "$db: server exited"; }
        sleep 0.1
    done
    rest="$(kb "$SERVER_PID" VmRSS)"
    for round in $(seq "$ROUNDS"); do
        out="$WORK/incidents.csv"
        # The server's resident memory sampled every 20 ms while the file downloads.
        ( peak=0; while kill -0 "$SERVER_PID" 2>/dev/null; do
              now="$(kb "$SERVER_PID" VmRSS)"; (( now > peak )) && peak=$now && echo "$peak" >"$WORK/peak"
              sleep 0.02
          done ) &
        sampler=$!
        timing="$(curl -sS -o "$out" -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' \
            -H "Authorization: Bearer $QLEAD" "http://127.0.0.1:$port/export/incidents.csv")"
        kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
        read -r code first total bytes <<<"$timing"
        [[ "$code" == 200 ]] || die "$db: HTTP $code: $(head -c 300 "$out")"
        rows="$(python3 -c 'import csv,sys; r=csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")); next(r); print(sum(1 for _ in r))' "$out")"
        [[ "$rows" == "$SEED" ]] || die "$db: $rows rows, not $SEED"
        printf '{"db":"%s","round":%s,"rows":%s,"bytes":%s,"first_byte_s":%s,"total_s":%s,"rss_rest_kb":%s,"rss_during_max_kb":%s,"rss_after_kb":%s,"vmhwm_kb":%s}\n' \
            "$db" "$round" "$rows" "$bytes" "$first" "$total" "$rest" "$(cat "$WORK/peak")" \
            "$(kb "$SERVER_PID" VmRSS)" "$(kb "$SERVER_PID" VmHWM)"
    done
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
done
