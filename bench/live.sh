#!/usr/bin/env bash
# Live-events benchmark (issue: subscribers must not slow reportIncident by more than 10 %):
# two `candour serve` instances on one PostgreSQL; writers report incidents through the
# first as fast as they are answered, while 100 subscribers (half on each instance, each a
# quality lead of their own) hear of every report over graphql-transport-ws. Phases run in
# the order none, subs, subs, none, so that drift shows; each prints one JSON line, and a
# table follows. See docs/BENCHMARKS.md.
#
#   bench/live.sh
#   BENCH_SUBSCRIBERS=100 BENCH_WRITERS=16 BENCH_SECONDS=10 BENCH_SEED=10000 bench/live.sh
#   BENCH_RATE=200 bench/live.sh      # writers paced to 200 reports a second in all
#
# Needs: cargo, python3, curl, psql (Debian's postgresql-client) and PostgreSQL at
# BENCH_PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}"
SUBSCRIBERS="${BENCH_SUBSCRIBERS:-100}"
WRITERS="${BENCH_WRITERS:-16}"
SECONDS_EACH="${BENCH_SECONDS:-10}"
SEED="${BENCH_SEED:-10000}"
PHASES="${BENCH_PHASES:-none,subs,subs,none}"
# Reports a second in all, paced (0: as fast as the server answers; both are worth seeing).
RATE="${BENCH_RATE:-0}"
DB=candour_live_bench

log() { printf '[live %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "cargo build --release (candour, live_bench)"
    (cd "$ROOT" && cargo build --release --quiet -p candour -p candour-tests --bin candour --bin live_bench)
fi
BIN="${BENCH_BIN:-$ROOT/target/release/candour}"
CLIENT="$ROOT/target/release/live_bench"
[[ -x "$BIN" && -x "$CLIENT" ]] || die "build first"

WORK="$(mktemp -d -t candour-live.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export CANDOUR_JWT_SECRET="live-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CANDOUR_DATA_KEY="$("$BIN" generate-data-key)"
export CANDOUR_DATA_KEY CANDOUR_LOG_LEVEL=warn PGOPTIONS='-c client_min_messages=warning'
URL="$PG_ADMIN_URL/$DB?sslmode=disable"

psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $DB" >/dev/null
psql "$PG_ADMIN_URL/postgres" -qAtc "CREATE DATABASE $DB" >/dev/null
log "seeding $SEED incidents"
(cd "$WORK" && CANDOUR_DATABASE_URL="$URL" "$BIN" seed --incidents "$SEED" >/dev/null)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORTS=()
for i in 1 2; do
    port="$(free_port)"
    (cd "$WORK" && CANDOUR_DATABASE_URL="$URL" CANDOUR_BIND="127.0.0.1:$port" exec "$BIN" serve) \
        >"$WORK/server$i.log" 2>&1 &
    PIDS+=($!)
    PORTS+=("$port")
done
for port in "${PORTS[@]}"; do
    for _ in $(seq 300); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || die "server on $port not ready"
done

QLEAD="$(cd "$WORK" && "$BIN" token --lifetime 2h --subject bench-ql --role quality_lead)"
DEPT="$(python3 "$ROOT/bench/bench.py" gql "http://127.0.0.1:${PORTS[0]}/graphql" "$QLEAD" '{ departments { id code } }' \
    | python3 -c 'import json,sys; print([d["id"] for d in json.load(sys.stdin)["departments"] if d["code"] == "CARD"][0])')"

log "two instances on ports ${PORTS[*]}; phases $PHASES, $SECONDS_EACH s each, $WRITERS writers, $SUBSCRIBERS subscribers"
"$CLIENT" --graphql "http://127.0.0.1:${PORTS[0]}/graphql" \
    --subscribe "ws://127.0.0.1:${PORTS[0]}/graphql,ws://127.0.0.1:${PORTS[1]}/graphql" \
    --secret "$CANDOUR_JWT_SECRET" --department "$DEPT" --phases "$PHASES" \
    --subscribers "$SUBSCRIBERS" --writers "$WRITERS" --seconds "$SECONDS_EACH" --rate "$RATE" \
    --pids "$(IFS=,; echo "${PIDS[*]}")" \
    | tee "$WORK/live.jsonl"
[[ -n "${BENCH_RESULTS:-}" ]] && cat "$WORK/live.jsonl" >>"$BENCH_RESULTS"

python3 - "$WORK/live.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print()
print("| phase | subscribers | paced at | reports/s | write p50 / p99 ms | deliveries/s | commit→delivery p50 / p99 / max ms | subscribers missing a report | servers' CPU (% of machine) |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    d = (f"{r['delay_p50_ms']:.1f} / {r['delay_p99_ms']:.1f} / {r['delay_max_ms']:.1f}"
         if r["subscribers"] else "–")
    print(f"| {r['phase']} | {r['subscribers']} | {r['rate'] or 'as fast as answered'} | {r['reports_per_s']:.0f} "
          f"| {r['write_p50_ms']:.1f} / {r['write_p99_ms']:.1f} | {r['deliveries_per_s']:.0f} | {d} "
          f"| {r['subscribers_not_hearing_every_report'] if r['subscribers'] else '–'} "
          f"| {r['servers_cpu_pct_of_machine']:.0f} % |")
none = [r["reports_per_s"] for r in rows if not r["subscribers"]]
subs = [r["reports_per_s"] for r in rows if r["subscribers"]]
if none and subs:
    print(f"\nreportIncident with subscribers: {sum(subs)/len(subs) / (sum(none)/len(none)) * 100:.0f} % of without")
PY
