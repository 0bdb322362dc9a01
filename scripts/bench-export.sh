#!/usr/bin/env bash
# Export benchmark, printed as Markdown (stdout); progress goes to stderr.
#
# For each size, a tenant of N students is imported once from `rosterhub generate --students N
# --seed 1`, then `rosterhub export OUT.zip` (bulk, Japan Profile) is timed RUNS times: rows/s
# = the data rows written / the wall clock of the command; memory is the command's peak RSS
# (GNU time) and its peak anonymous RSS (sampled from /proc every 50 ms): SQLite's readers map
# the database file, and mapped file pages count in RSS though the kernel can drop them at any
# time; the anonymous part is what the export itself holds. Memory is flat when it does not
# grow with the tenant.
#
# Usage (from anywhere; relative paths are taken from the repository root):
#   scripts/bench-export.sh
#   SIZES=100000 RUNS=1 BACKENDS=sqlite scripts/bench-export.sh
#
# Environment:
#   SIZES          students per tenant, space separated        (default: "100000 1000000")
#   RUNS           exports per size and backend                (default: 3)
#   BACKENDS       sqlite and/or postgres                      (default: "sqlite postgres")
#   BENCH_DIR      bundles, databases, exports                 (default: ./bench-out)
#   BENCH_PG_URL   PostgreSQL server, without a database       (default: postgres://postgres@127.0.0.1:5432)
#                  the database rosterhub_bench on it is DROPPED and recreated
#   ROSTERHUB_BIN  binary to benchmark; if unset, `cargo build --release`
#
# Needs: bash, python3, /usr/bin/time (GNU), and psql + pg_isready for PostgreSQL.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_DIR"

SIZES=${SIZES:-100000 1000000}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
BENCH_DIR=${BENCH_DIR:-./bench-out}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
BENCH_PG_URL=${BENCH_PG_URL%/}
PG_ADMIN_URL="$BENCH_PG_URL/postgres"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'bench-export: error: %s\n' "$*" >&2; exit 1; }

[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is required"
command -v python3 >/dev/null || die "python3 is required"
mkdir -p -- "$BENCH_DIR"
BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)

if [[ -z ${ROSTERHUB_BIN:-} ]]; then
    log "building the release binary (cargo build --release) ..."
    cargo build --release --quiet
    ROSTERHUB_BIN="$REPO_DIR/target/release/rosterhub"
fi
[[ -x $ROSTERHUB_BIN ]] || die "not an executable: $ROSTERHUB_BIN"

# A fresh database holding the tenant of $1 students: prints its URL.
tenant_db() { # BACKEND SIZE
    local bundle="$BENCH_DIR/students-$2-seed1.zip" url
    if [[ ! -s $bundle ]]; then
        log "generating $bundle ..."
        "$ROSTERHUB_BIN" generate "$BENCH_DIR/.partial.zip" --students "$2" --seed 1 2>/dev/null \
            || die "generate failed"
        mv -- "$BENCH_DIR/.partial.zip" "$bundle"
    fi
    case $1 in
        sqlite)
            rm -f -- "$BENCH_DIR"/export-"$2"*.db*
            url="sqlite://$BENCH_DIR/export-$2.db"
            ;;
        postgres)
            PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -q -X \
                -c "DROP DATABASE IF EXISTS rosterhub_bench WITH (FORCE)" \
                -c "CREATE DATABASE rosterhub_bench" >/dev/null
            url="$BENCH_PG_URL/rosterhub_bench"
            ;;
    esac
    log "$1: importing $2 students (once) ..."
    "$ROSTERHUB_BIN" import "$bundle" --database-url "$url" --format json --force >/dev/null 2>&1 \
        || die "$1: the import of $2 students failed"
    printf '%s\n' "$url"
}

# The largest RssAnon (KiB) of process $1 until it exits, sampled every 50 ms.
peak_anon() {
    local peak=0 kib
    while kib=$(awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null) && [[ -n $kib ]]; do
        ((kib > peak)) && peak=$kib
        sleep 0.05
    done
    printf '%s\n' "$peak"
}

cat <<EOF
## RosterHub export benchmark

- machine: $(nproc) CPUs, $(sed -n '/^model name/{s/^model name[[:space:]]*:[[:space:]]*//p;q;}' /proc/cpuinfo)
- binary: ${ROSTERHUB_BIN}
- tenants: \`rosterhub generate --students N --seed 1\` imported; \`rosterhub export OUT.zip\` (bulk); medians of $RUNS runs

| backend | students | rows | seconds | rows/s | peak RSS MB | peak anonymous RSS MB | ZIP MB |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF

for backend in $BACKENDS; do
    if [[ $backend == postgres ]] && ! { command -v pg_isready >/dev/null && pg_isready -q -d "$PG_ADMIN_URL"; }; then
        log "skipping postgres: server not ready at $PG_ADMIN_URL"
        echo "| postgres | | skipped: server not ready | | | | | |"
        continue
    fi
    for size in $SIZES; do
        url=$(tenant_db "$backend" "$size")
        secs=() rss=() anon=()
        for run in $(seq 1 "$RUNS"); do
            out="$BENCH_DIR/export-$backend-$size.zip"
            rm -f -- "$out"
            log "$backend, $size students: export run $run ..."
            start=$(date +%s.%N)
            /usr/bin/time -f '%M' -o "$out.rss" \
                "$ROSTERHUB_BIN" export "$out" --database-url "$url" >"$out.log" 2>&1 &
            pid=$!
            # GNU time's child is the export itself.
            sleep 0.05
            child=$(pgrep -P "$pid" || echo "$pid")
            a=$(peak_anon "$child")
            wait "$pid" || die "$backend: the export failed (see $out.log)"
            end=$(date +%s.%N)
            secs+=("$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$end")")
            rss+=("$(tail -n 1 "$out.rss")")
            anon+=("$a")
        done
        # The export's own summary: one "NAME.csv  N rows" line per file.
        rows=$(awk '$1 != "manifest.csv" && $3 == "rows" {n += $2} END {print n + 0}' "$out.log")
        python3 - "$backend" "$size" "$rows" "${secs[*]}" "${rss[*]}" "${anon[*]}" "$(stat -c %s "$out")" <<'PY'
import statistics, sys
backend, size, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
secs, rss, anon = ([float(x) for x in a.split()] for a in sys.argv[4:7])
s = statistics.median(secs)
print(f"| {backend} | {size} | {rows} | {s:.2f} | {rows / s:.0f} | {max(rss) / 1024:.0f} | "
      f"{max(anon) / 1024:.0f} | {int(sys.argv[7]) / 1e6:.0f} |")
PY
    done
done
