#!/usr/bin/env bash
# Daily delta benchmark, printed as Markdown (stdout); progress goes to stderr.
#
# A tenant of SIZE students is imported once from `rosterhub generate --students SIZE --seed 1`;
# then, RUNS times on a fresh copy of that database, its daily delta
# (`rosterhub generate --delta`: 1 % of the students changed with their role and enrollment,
# 0.1 % withdrawn with theirs) is imported and timed: the wall clock of the command (start of
# the process to its exit, so the commit and SQLite's WAL checkpoint are in it) and the
# report's `duration_ms` (reading, checking, references and writing, up to the commit). The
# report's counts are checked against what the generator wrote.
#
# Usage (from anywhere; relative paths are taken from the repository root):
#   scripts/bench-delta.sh
#   SIZE=100000 RUNS=1 BACKENDS=sqlite scripts/bench-delta.sh
#
# Environment:
#   SIZE           students of the tenant                      (default: 1000000)
#   RUNS           delta imports per backend                   (default: 3)
#   BACKENDS       sqlite and/or postgres                      (default: "sqlite postgres")
#   BENCH_DIR      bundles, databases, reports                 (default: ./bench-out)
#   BENCH_PG_URL   PostgreSQL server, without a database       (default: postgres://postgres@127.0.0.1:5432)
#                  the databases rosterhub_bench and rosterhub_bench_base on it are DROPPED
#   ROSTERHUB_BIN  binary to benchmark; if unset, `cargo build --release`
#
# Needs: bash, python3, /usr/bin/time (GNU), and psql + pg_isready for PostgreSQL.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_DIR"

SIZE=${SIZE:-1000000}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
BENCH_DIR=${BENCH_DIR:-./bench-out}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
BENCH_PG_URL=${BENCH_PG_URL%/}
PG_ADMIN_URL="$BENCH_PG_URL/postgres"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'bench-delta: error: %s\n' "$*" >&2; exit 1; }

[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is required"
command -v python3 >/dev/null || die "python3 is required"
[[ $SIZE =~ ^[0-9]+$ ]] && ((SIZE >= 1000)) || die "SIZE: at least 1000 students"
mkdir -p -- "$BENCH_DIR"
BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)

if [[ -z ${ROSTERHUB_BIN:-} ]]; then
    log "building the release binary (cargo build --release) ..."
    cargo build --release --quiet
    ROSTERHUB_BIN="$REPO_DIR/target/release/rosterhub"
fi
[[ -x $ROSTERHUB_BIN ]] || die "not an executable: $ROSTERHUB_BIN"

# The bundle and its daily delta, generated once.
generated() { # OUT [--delta]
    if [[ ! -s $1 ]]; then
        log "generating $1 ..."
        "$ROSTERHUB_BIN" generate "$BENCH_DIR/.partial.zip" --students "$SIZE" --seed 1 "${@:2}" 2>/dev/null \
            || die "generate failed"
        mv -- "$BENCH_DIR/.partial.zip" "$1"
    fi
}
bulk="$BENCH_DIR/students-$SIZE-seed1.zip"
daily="$BENCH_DIR/students-$SIZE-seed1-daily.zip"
generated "$bulk"
generated "$daily" --delta

psql_admin() { PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -q -X "$@" >/dev/null; }

# The database holding the imported tenant, made once per backend: prints its URL.
base_db() { # BACKEND
    case $1 in
        sqlite)
            local db="$BENCH_DIR/delta-base-$SIZE.db"
            rm -f -- "$BENCH_DIR"/delta-base-"$SIZE"*.db*
            printf 'sqlite://%s\n' "$db"
            ;;
        postgres)
            psql_admin -c "DROP DATABASE IF EXISTS rosterhub_bench_base WITH (FORCE)" \
                -c "CREATE DATABASE rosterhub_bench_base"
            printf '%s\n' "$BENCH_PG_URL/rosterhub_bench_base"
            ;;
    esac
}

# A fresh copy of the base database for one run: prints its URL.
copy_db() { # BACKEND
    case $1 in
        sqlite)
            local from="$BENCH_DIR/delta-base-$SIZE" to="$BENCH_DIR/delta-run-$SIZE"
            rm -f -- "$to".db* "$to"-ops.db*
            cp -- "$from.db" "$to.db"
            cp -- "$from-ops.db" "$to-ops.db"
            sync
            printf 'sqlite://%s.db\n' "$to"
            ;;
        postgres)
            psql_admin -c "DROP DATABASE IF EXISTS rosterhub_bench WITH (FORCE)" \
                -c "CREATE DATABASE rosterhub_bench TEMPLATE rosterhub_bench_base"
            psql "$BENCH_PG_URL/rosterhub_bench" -q -X -c "CHECKPOINT" >/dev/null
            printf '%s\n' "$BENCH_PG_URL/rosterhub_bench"
            ;;
    esac
}

cat <<EOF
## RosterHub daily delta benchmark

- machine: $(nproc) CPUs, $(sed -n '/^model name/{s/^model name[[:space:]]*:[[:space:]]*//p;q;}' /proc/cpuinfo)
- binary: ${ROSTERHUB_BIN}
- tenant: \`rosterhub generate --students $SIZE --seed 1\`; delta: the same with \`--delta\`
- wall s = the \`rosterhub import\` process from start to exit; report s = its \`duration_ms\`; medians of $RUNS runs

| backend | students | delta rows | wall s | report s | peak RSS MB |
|---|---:|---:|---:|---:|---:|
EOF

for backend in $BACKENDS; do
    if [[ $backend == postgres ]] && ! { command -v pg_isready >/dev/null && pg_isready -q -d "$PG_ADMIN_URL"; }; then
        log "skipping postgres: server not ready at $PG_ADMIN_URL"
        echo "| postgres | $SIZE | skipped: server not ready | | | |"
        continue
    fi
    url=$(base_db "$backend")
    log "$backend: importing $SIZE students (once) ..."
    "$ROSTERHUB_BIN" import "$bulk" --database-url "$url" --format json --force >/dev/null 2>&1 \
        || die "$backend: the first import failed"
    walls=() reports=() rss=()
    for run in $(seq 1 "$RUNS"); do
        run_url=$(copy_db "$backend")
        log "$backend run $run: the daily delta ..."
        out="$BENCH_DIR/delta-$backend-$run"
        start=$(date +%s.%N)
        /usr/bin/time -f '%M' -o "$out.rss" \
            "$ROSTERHUB_BIN" import "$daily" --database-url "$run_url" --format json --force \
            >"$out.json" 2>"$out.log" || die "$backend: the delta import failed (see $out.log)"
        end=$(date +%s.%N)
        read -r ms rows < <(python3 - "$out.json" "$SIZE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
size = int(sys.argv[2])
assert r["status"] == "applied", r["status"]
changed, withdrawn = size // 100, size // 1000
# What `generate --delta` writes: the changed records updated, the withdrawn tombstoned.
expected = {e: {"updated": changed, "tombstoned": withdrawn} for e in ("users", "roles", "enrollments")}
expected["demographics"] = {"updated": 0, "tombstoned": withdrawn}
for e, want in expected.items():
    got = r["entities"][e]
    for k, v in want.items():
        assert got[k] == v, f"{e} {k}: {got[k]}, expected {v}"
    assert got["inserted"] == 0, f"{e} inserted {got['inserted']}"
print(r["duration_ms"], sum(int(v) for v in r["rows"].values()))
PY
        ) || die "$backend: unexpected report $out.json"
        walls+=("$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$end")")
        reports+=("$ms")
        rss+=("$(tail -n 1 "$out.rss")")
    done
    python3 - "$backend" "$SIZE" "$rows" "${walls[*]}" "${reports[*]}" "${rss[*]}" <<'PY'
import statistics, sys
backend, size, rows = sys.argv[1:4]
walls, reports, rss = ([float(x) for x in a.split()] for a in sys.argv[4:7])
print(f"| {backend} | {size} | {rows} | {statistics.median(walls):.2f} | "
      f"{statistics.median(reports) / 1000:.2f} | {max(rss) / 1024:.0f} |")
PY
done
