#!/usr/bin/env bash
# 1,000 concurrent connections on the OneRoster API, then a check that the audit log lost
# nothing: entries written one per read + reads folded into `oneroster.read.aggregated`
# entries = OneRoster requests served (counted by the server itself on /metrics, so requests
# still in flight when wrk stops are counted on both sides).
#
#   scripts/bench-connections.sh                         # SQLite, 1,000 students, 30 s
#   DURATION=5s CONNECTIONS=1000 scripts/bench-connections.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1/rosterhub_conn_bench scripts/bench-connections.sh
#   AUDIT_QUEUE=16 scripts/bench-connections.sh          # a tiny queue: reads get aggregated
#
# Needs wrk (Debian: apt-get install wrk), like scripts/bench-api.sh. The database must be new
# (the audit rows counted are all of its rows): by default a fresh SQLite file in a temporary
# folder; a PostgreSQL database is dropped and created again. Exit 1 if the equation fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

STUDENTS="${STUDENTS:-1000}"
PORT="${PORT:-18182}"
DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-1000}"
AUDIT_QUEUE="${AUDIT_QUEUE:-10000}"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/rosterhub-conn-bench.XXXXXX")"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# One descriptor per connection on both sides, and some to spare.
ulimit -n "$((CONNECTIONS * 2 + 1024))"

if [ -z "${ROSTERHUB_BIN:-}" ]; then
  cargo build --release --quiet
  ROSTERHUB_BIN=./target/release/rosterhub
fi
URL="${DATABASE_URL:-sqlite://$DIR/conn.db}"
case "$URL" in
  postgres*://*)
    ADMIN_URL="${URL%/*}/postgres"; NAME="${URL##*/}"
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $NAME" -c "CREATE DATABASE $NAME" ;;
esac
"$ROSTERHUB_BIN" generate "$DIR/bundle.zip" --students "$STUDENTS" --seed 1 >&2
"$ROSTERHUB_BIN" import "$DIR/bundle.zip" --database-url "$URL" --force --format json > "$DIR/import.json"
bench_client "$URL"

"$ROSTERHUB_BIN" serve --listen "127.0.0.1:$PORT" --database-url "$URL" --temp-dir "$DIR/tmp" \
  --audit-queue "$AUDIT_QUEUE" \
  > "$DIR/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
bench_token "$PORT"

curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/users?limit=100"
WRK=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --timeout 30s --latency -H "Authorization: Bearer $TOKEN" \
  "$BASE/users?limit=100")
sleep 2
METRICS=$(curl -sf "http://127.0.0.1:$PORT/metrics")
# Every OneRoster request the server answered, whatever its status.
SERVED=$(printf '%s\n' "$METRICS" | awk '/^http_request_duration_seconds_count/ && /route="\/ims\/oneroster/ {s += $2} END {printf "%d", s}')
metric() { printf '%s\n' "$METRICS" | awk -v m="$1" '$1 == m {printf "%d", $2; f=1} END {if (!f) printf "0"}'; }
# A graceful stop writes what is still queued.
kill -TERM "$SERVER"; wait "$SERVER" || true
trap - EXIT

Q_READS="SELECT count(*) FROM audit_log WHERE action = 'oneroster.read'"
Q_AGG="SELECT count(*) || ' ' || coalesce(sum(result_count), 0) FROM audit_log WHERE action = 'oneroster.read.aggregated'"
case "$URL" in
  sqlite://*) OPS="${URL#sqlite://}"; OPS="${OPS%.db}-ops.db"
    READS=$(sqlite3 "$OPS" "$Q_READS"); AGG=$(sqlite3 "$OPS" "$Q_AGG") ;;
  *) READS=$(psql -tA "$URL" -c "$Q_READS"); AGG=$(psql -tA "$URL" -c "$Q_AGG") ;;
esac
AGG_ROWS=${AGG% *}; AGG_READS=${AGG#* }

echo "## Audit log under $CONNECTIONS connections"
echo
echo "- machine: $(nproc) CPUs; commit: $(git rev-parse --short HEAD); database: ${URL%%://*}; students: $STUDENTS"
echo "- wrk -t2 -c$CONNECTIONS -d$DURATION on GET /users?limit=100, one warm-up request first; audit queue $AUDIT_QUEUE"
echo "- wrk: $(printf '%s\n' "$WRK" | awk '/requests in/ {print $1, "requests"}'), $(printf '%s\n' "$WRK" | awk '/Requests\/sec/ {print $2}') requests/s, socket errors: $(printf '%s\n' "$WRK" | awk '/Socket errors/ {$1=$2=""; f=1; print} END {if (!f) print "none"}'), responses other than 2xx/3xx: $(printf '%s\n' "$WRK" | awk '/Non-2xx or 3xx/ {print $5; f=1} END {if (!f) print 0}'), latency p50 $(printf '%s\n' "$WRK" | awk '$1 == "50%" {print $2}') p99 $(printf '%s\n' "$WRK" | awk '$1 == "99%" {print $2}')"
echo
echo "| requests served | audit rows (single reads) | aggregate rows | reads in aggregates | rows + aggregated | written_total | aggregated_total | dropped_total |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
echo "| $SERVED | $READS | $AGG_ROWS | $AGG_READS | $((READS + AGG_READS)) | $(metric rosterhub_audit_written_total) | $(metric rosterhub_audit_aggregated_total) | $(metric rosterhub_audit_dropped_total) |"
echo
if [ "$((READS + AGG_READS))" -eq "$SERVED" ]; then
  echo "OK: audit entries written + aggregated = requests served"
  rm -rf "$DIR"
else
  echo "MISMATCH: $((READS + AGG_READS)) audited, $SERVED served (files kept in $DIR)"
  exit 1
fi
