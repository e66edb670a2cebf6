#!/usr/bin/env bash
# Attachment throughput: the time to upload a 10 MB file (POST /attachments, streamed into
# sealed chunks) and to download it (GET /attachments/<id>, every opening access-logged
# first), as MB/s over several rounds, and the server's resident memory: at rest and the
# most it held while the files went through (sampled every 20 ms). On SQLite and
# PostgreSQL. See docs/BENCHMARKS.md, "Attachments".
#
#   bench/attachments.sh                          # both databases, 10 MB, 5 rounds
#   BENCH_DBS=sqlite BENCH_MB=50 bench/attachments.sh
#
# Knobs: BENCH_DBS ("sqlite postgres"), BENCH_MB (10), BENCH_ROUNDS (5), BENCH_BIN
# (target/release/candour, built unless BENCH_SKIP_BUILD=1), BENCH_PG_ADMIN_URL
# (postgres://postgres@127.0.0.1:5432). Needs: cargo, curl, python3; for PostgreSQL psql.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DBS="${BENCH_DBS:-sqlite postgres}"
MB="${BENCH_MB:-10}"
ROUNDS="${BENCH_ROUNDS:-5}"
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}"
PG_DB=candour_attachment_bench
BIN="${BENCH_BIN:-$ROOT/target/release/candour}"

log() { printf '[attachments %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -z "${BENCH_BIN:-}" && "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "cargo build --release -p candour"
    (cd "$ROOT" && cargo build --release -p candour --quiet)
fi
[[ -x "$BIN" ]] || die "$BIN missing"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

WORK="$(mktemp -d -t candour-attachments.XXXXXX)"
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
    [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
    if [[ -n "$SERVER_PID" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export CANDOUR_JWT_SECRET="attach-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CANDOUR_DATA_KEY="$("$BIN" generate-data-key)"
export CANDOUR_DATA_KEY CANDOUR_LOG_LEVEL=warn PGOPTIONS='-c client_min_messages=warning'
export CANDOUR_ATTACHMENTS__MAX_BYTES=$(( (MB + 1) * 1024 * 1024 ))
unset RUST_LOG
ADMIN="$(cd "$WORK" && "$BIN" token --lifetime 2h --subject bench-admin --name 'Bench Admin' --role admin)"
QLEAD="$(cd "$WORK" && "$BIN" token --lifetime 2h --subject bench-ql --name 'Bench Quality Lead' --role quality_lead)"

# The file: a PDF header, then random bytes (incompressible, as a scan or photo is).
FILE="$WORK/evidence.pdf"
{ printf '%%PDF-1.7\n'; head -c $(( MB * 1000 * 1000 - 9 )) /dev/urandom; } >"$FILE"
BYTES="$(stat -c %s "$FILE")"

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
gql() { curl -fsS "http://127.0.0.1:$port/graphql" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2"; }
mbps() { python3 -c "import sys; b,t=float(sys.argv[1]),float(sys.argv[2]); print(f'{b/t/1e6:.1f}')" "$1" "$2"; }

printf '| database | file | upload MB/s (median of %s) | download MB/s (median) | RSS at rest | peak RSS during transfers |\n|---|---|---|---|---|---|\n' "$ROUNDS"
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
    rm -f "$WORK/candour.db"*
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    (cd "$WORK" && CANDOUR_DATABASE_URL="$url" CANDOUR_BIND="127.0.0.1:$port" exec "$BIN" serve) \
        >"$WORK/$db.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/$db.log" >&2; die "$db: server exited"; }
        sleep 0.1
    done
    dept="$(gql "$ADMIN" '{"query":"mutation { createDepartment(input: {code: \"BENCH\", name: \"Bench\"}) { department { id } } }"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createDepartment"]["department"]["id"])')"
    rest="$(kb "$SERVER_PID" VmRSS)"
    echo 0 >"$WORK/peak"
    ( peak=0; while kill -0 "$SERVER_PID" 2>/dev/null; do
          now="$(kb "$SERVER_PID" VmRSS)"; (( now > peak )) && peak=$now && echo "$peak" >"$WORK/peak"
          sleep 0.02
      done ) &
    SAMPLER_PID=$!
    ups=(); ids=()
    for round in $(seq "$ROUNDS"); do
        out="$(curl -fsS -o "$WORK/up.json" -w '%{time_total}' -X POST \
            "http://127.0.0.1:$port/attachments?fileName=evidence-$round.pdf" \
            -H "Authorization: Bearer $QLEAD" --data-binary @"$FILE")"
        ups+=("$out")
        ids+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attachment"]["id"])' "$WORK/up.json")")
    done
    list="$(printf '"%s",' "${ids[@]}")"
    body="$(printf '{"query":"mutation($i: ReportIncidentInput!) { reportIncident(input: $i) { incident { id } } }","variables":{"i":{"title":"Bench","description":"Bench","occurredAt":"2026-01-01T00:00:00Z","departmentId":"%s","kind":"EQUIPMENT","physicalHarm":"NONE","attachmentIds":[%s]}}}' "$dept" "${list%,}")"
    gql "$QLEAD" "$body" | grep -q '"incident"' || die "$db: the report was refused"
    downs=()
    for id in "${ids[@]}"; do
        t="$(curl -fsS -o "$WORK/down.bin" -w '%{time_total}' "http://127.0.0.1:$port/attachments/$id" -H "Authorization: Bearer $QLEAD")"
        cmp -s "$WORK/down.bin" "$FILE" || die "$db: the download differs from the upload"
        downs+=("$t")
    done
    kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
    median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    up_t="$(median "${ups[@]}")"; down_t="$(median "${downs[@]}")"
    log "$db: uploads ${ups[*]} s; downloads ${downs[*]} s"
    printf '| %s | %s MB | %s | %s | %s MiB | %s MiB |\n' "$db" "$MB" "$(mbps "$BYTES" "$up_t")" "$(mbps "$BYTES" "$down_t")" \
        "$(( rest / 1024 ))" "$(( $(cat "$WORK/peak") / 1024 ))"
    kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
done
