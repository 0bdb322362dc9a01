#!/usr/bin/env bash
# Load benchmark of the OneRoster API over a database of N students (default 1,000,000):
# five request shapes with wrk, 64 connections, the load generator on the same machine.
#
#   scripts/bench-api.sh                      # SQLite, 1,000,000 students
#   STUDENTS=100000 scripts/bench-api.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1/rosterhub_api_bench scripts/bench-api.sh
#
# Needs wrk (Debian: apt-get install wrk). Each shape gets one warm-up request first: the first
# request after an import computes the total (and, for deep offsets, the paging anchors) that
# later requests of that generation reuse; its latency is printed separately.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

STUDENTS="${STUDENTS:-1000000}"
DIR="${BENCH_DIR:-./bench-out}"
PORT="${PORT:-18181}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
mkdir -p "$DIR"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

if [ -z "${ROSTERHUB_BIN:-}" ]; then
  cargo build --release --quiet
  ROSTERHUB_BIN=./target/release/rosterhub
fi
BUNDLE="$DIR/students-$STUDENTS-seed1.zip"
[ -f "$BUNDLE" ] || "$ROSTERHUB_BIN" generate "$BUNDLE" --students "$STUDENTS" --seed 1 >&2
URL="${DATABASE_URL:-sqlite://$DIR/api-$STUDENTS.db}"
case "$URL" in
  sqlite://*) DB="${URL#sqlite://}"; if [ ! -f "$DB" ]; then
      "$ROSTERHUB_BIN" import "$BUNDLE" --database-url "$URL" --force --format json > "$DIR/api-import.json"; fi ;;
  *) "$ROSTERHUB_BIN" import "$BUNDLE" --database-url "$URL" --force --format json > "$DIR/api-import.json" ;;
esac

bench_client "$URL"

"$ROSTERHUB_BIN" serve --listen "127.0.0.1:$PORT" --database-url "$URL" > "$DIR/api-serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
bench_token "$PORT"

# A user and an e-mail from the middle of the data, found through the API itself.
MID=$((STUDENTS / 2))
PROBE=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/users?limit=1&offset=$MID&fields=sourcedId,email")
USER_ID=$(printf '%s' "$PROBE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["users"][0]["sourcedId"])')
EMAIL=$(printf '%s' "$PROBE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["users"][0]["email"])')
DEEP=$(( (STUDENTS / 100 - 10) * 100 ))

declare -a NAMES=("page of 100 users" "single user" "filter on email" "delta filter" "deep offset")
declare -a PATHS=(
  "/users?limit=100"
  "/users/$USER_ID"
  "/users?filter=email%3D%27$EMAIL%27"
  "/users?filter=dateLastModified%3E%272025-01-01T00%3A00%3A00.000Z%27&limit=100"
  "/users?limit=100&offset=$DEEP"
)

echo "## RosterHub API benchmark"
echo
echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "- commit: $(git rev-parse --short HEAD); database: ${URL%%://*}; students: $STUDENTS"
echo "- wrk -t2 -c$CONNECTIONS -d$DURATION on the same machine; one warm-up request per shape first"
echo
echo "| shape | first request (cold) | requests/s | p50 | p99 | max | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for i in "${!NAMES[@]}"; do
  path="${PATHS[$i]}"
  cold=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$BASE$path")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$BASE$path")
  rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
  p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
  max=$(printf '%s\n' "$out" | awk '$1 == "Latency" {print $4}')
  bad=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
  printf '| %s | %.0f ms | %s | %s | %s | %s | %s |\n' "${NAMES[$i]}" "$(awk -v t="$cold" 'BEGIN {print t * 1000}')" "$rps" "$p50" "$p99" "$max" "${bad:-0}"
done

# Uncached: every request a different page (a client walking all pages).
LUA="$DIR/random-offset.lua"
cat > "$LUA" <<LUA
math.randomseed(1)
request = function()
  local off = math.random(0, $STUDENTS / 100 - 1) * 100
  return wrk.format("GET", "/ims/oneroster/rostering/v1p2/users?limit=100&offset=" .. off,
    {["Authorization"] = "Bearer $TOKEN"})
end
LUA
out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "http://127.0.0.1:$PORT")
printf '| %s | - | %s | %s | %s | %s | %s |\n' "random pages of 100 (uncached)" \
  "$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')" \
  "$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')" \
  "$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')" \
  "$(printf '%s\n' "$out" | awk '$1 == "Latency" {print $4}')" \
  "$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')"
