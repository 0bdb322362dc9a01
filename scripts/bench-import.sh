#!/usr/bin/env bash
# Import benchmark: first import and unchanged re-import of generated bundles on SQLite and
# PostgreSQL, printed as a Markdown table (stdout); progress goes to stderr.
#
# Usage (from anywhere; relative paths are taken from the repository root):
#   scripts/bench-import.sh                       # 100k and 1M students, sqlite and postgres
#   SIZES=10000 BACKENDS=sqlite scripts/bench-import.sh
#
# Environment:
#   SIZES          students per bundle, space separated     (default: "100000 1000000")
#   BACKENDS       sqlite and/or postgres                    (default: "sqlite postgres")
#   BENCH_DIR      bundles, databases, reports and logs      (default: ./bench-out)
#   BENCH_PG_URL   PostgreSQL server, without a database     (default: postgres://postgres@127.0.0.1:5432)
#                  the database rosterhub_bench on it is DROPPED and recreated for every run
#   ROSTERHUB_BIN  binary to benchmark; if unset, `cargo build --release` and target/release/rosterhub
#
# Needs: bash, python3, /usr/bin/time (GNU), and psql + pg_isready for PostgreSQL.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_DIR"

SIZES=${SIZES:-100000 1000000}
BACKENDS=${BACKENDS:-sqlite postgres}
BENCH_DIR=${BENCH_DIR:-./bench-out}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
BENCH_PG_URL=${BENCH_PG_URL%/}
PG_DB=rosterhub_bench
PG_ADMIN_URL="$BENCH_PG_URL/postgres"
PG_BENCH_URL="$BENCH_PG_URL/$PG_DB"
SEED=1

log() { printf '%s\n' "$*" >&2; }
die() { printf 'bench-import: error: %s\n' "$*" >&2; exit 1; }

[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is required"
command -v python3 >/dev/null || die "python3 is required"

mkdir -p -- "$BENCH_DIR"
BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)
RUNS_FILE="$BENCH_DIR/runs.tsv"
: >"$RUNS_FILE"

started=$SECONDS
for size in $SIZES; do
    [[ $size =~ ^[0-9]+$ ]] || die "SIZES: not a number: $size"
done
for backend in $BACKENDS; do
    [[ $backend == sqlite || $backend == postgres ]] \
        || die "BACKENDS: unknown backend: $backend (use sqlite and/or postgres)"
done

# 1. The binary.
if [[ -n ${ROSTERHUB_BIN:-} ]]; then
    BIN=$ROSTERHUB_BIN
else
    log "building the release binary (cargo build --release) ..."
    cargo build --release --quiet
    BIN="$REPO_DIR/target/release/rosterhub"
fi
[[ -x $BIN ]] || die "not an executable: $BIN"
# The commit the binary was (presumably) built from, noted now rather than after a long run.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git diff --quiet HEAD -- 2>/dev/null; then
    commit="$commit (with uncommitted changes)"
fi

# Checks one JSON report; prints nothing, exits non-zero with a message if it is not acceptable.
check_report() { # REPORT_JSON RUN(first|reimport)
    python3 - "$1" "$2" <<'PY'
import json, sys
path, run = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        r = json.load(f)
except Exception as e:
    sys.exit(f"bench-import: error: {path}: not a JSON report ({e})")
problems = []
if r.get("status") != "applied":
    problems.append(f"status is {r.get('status')!r}, expected 'applied' "
                    f"(errors {r.get('error_count')}, warnings {r.get('warning_count')})")
if run == "reimport":
    for name, c in r.get("entities", {}).items():
        for k in ("inserted", "updated", "tombstoned"):
            if c.get(k, 0):
                problems.append(f"re-import {name}: {k} {c[k]}, expected 0")
for k in ("rows", "timings_ms", "duration_ms"):
    if k not in r:
        problems.append(f"report has no {k!r}")
if problems:
    sys.exit("bench-import: error: " + path + ":\n  " + "\n  ".join(problems))
PY
}

# Runs one import under /usr/bin/time; records it in runs.tsv.
run_import() { # SIZE BACKEND RUN BUNDLE URL
    local size=$1 backend=$2 run=$3 bundle=$4 url=$5
    local base="$BENCH_DIR/report-$size-$backend-$run"
    local rc=0
    log "  ${run/reimport/unchanged re-import} ..."
    /usr/bin/time -f '%e %M' -o "$base.rss" \
        "$BIN" import "$bundle" --database-url "$url" --format json --force \
        >"$base.json" 2>"$base.log" || rc=$?
    if ((rc != 0)); then
        log "bench-import: error: import exited with $rc ($size students, $backend, $run); last log lines:"
        tail -n 20 -- "$base.log" >&2 || true
        if [[ -s $base.json ]]; then
            check_report "$base.json" "$run" || true
        fi
        exit 1
    fi
    check_report "$base.json" "$run"
    printf '%s\t%s\t%s\t%s\t%s\n' "$size" "$backend" "$run" "$base.json" "$base.rss" >>"$RUNS_FILE"
}

fresh_sqlite() { # SIZE -> prints URL
    local db="$BENCH_DIR/bench-$1.db"
    rm -f -- "$db" "$db-wal" "$db-shm"
    printf 'sqlite://%s\n' "$db"
}

fresh_postgres() {
    PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -q -X \
        -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
        -c "CREATE DATABASE $PG_DB" >/dev/null
}

pg_ok=unknown
postgres_available() {
    if [[ $pg_ok == unknown ]]; then
        if command -v pg_isready >/dev/null && command -v psql >/dev/null \
            && pg_isready -q -d "$PG_ADMIN_URL"; then
            pg_ok=yes
        else
            pg_ok=no
        fi
    fi
    [[ $pg_ok == yes ]]
}

skipped=()
for size in $SIZES; do
    # 2. The bundle, generated once per size.
    bundle="$BENCH_DIR/students-$size-seed$SEED.zip"
    if [[ -s $bundle ]]; then
        log "reusing $bundle"
    else
        log "generating $bundle ..."
        "$BIN" generate "$BENCH_DIR/.partial.zip" --students "$size" --seed "$SEED" 2>"$BENCH_DIR/generate-$size.log" \
            || { cat -- "$BENCH_DIR/generate-$size.log" >&2; die "generate failed for $size students"; }
        mv -- "$BENCH_DIR/.partial.zip" "$bundle"
    fi

    # 3. Each backend from an empty database: first import, then unchanged re-import.
    for backend in $BACKENDS; do
        case $backend in
            sqlite)
                url=$(fresh_sqlite "$size")
                ;;
            postgres)
                if ! postgres_available; then
                    log "skipping postgres: server not ready at $PG_ADMIN_URL (pg_isready failed)"
                    skipped+=("postgres ($size students): server not ready")
                    continue
                fi
                fresh_postgres
                url=$PG_BENCH_URL
                ;;
            *) die "BACKENDS: unknown backend: $backend (use sqlite and/or postgres)" ;;
        esac
        log "$size students, $backend:"
        run_import "$size" "$backend" first "$bundle" "$url"
        run_import "$size" "$backend" reimport "$bundle" "$url"
    done
done

# 4. The table.
cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*:[[:space:]]*//p;q;}' /proc/cpuinfo)

cpus=$(nproc)
cat <<EOF
## RosterHub import benchmark

- machine: ${cpus} CPUs, ${cpu_model:-unknown CPU}
- commit: ${commit}
- binary: ${BIN}
- bundles: \`rosterhub generate OUT.zip --students N --seed ${SEED}\`
- seconds = report \`duration_ms\` (up to the commit); rows/s = rows / seconds; wall s = the command from start to exit (commit, dashboard counts and SQLite's checkpoint included); entity rows/s = rows / (read + apply ms); peak RSS from GNU time %M

EOF

python3 - "$RUNS_FILE" <<'PY'
import json, sys

ENTITIES = ["users", "roles", "enrollments", "demographics"]
RUN_NAMES = {"first": "first", "reimport": "re-import"}

def rate(rows, ms):
    return str(round(rows * 1000 / ms)) if ms > 0 else "-"

header = ["students", "backend", "run", "rows", "seconds", "rows/s", "wall s", "peak RSS MB"] + \
         [f"{e} rows/s" for e in ENTITIES]
print("| " + " | ".join(header) + " |")
print("|" + "|".join("---" if h in ("backend", "run") else "---:" for h in header) + "|")
with open(sys.argv[1]) as runs:
    for line in runs:
        size, backend, run, report_path, rss_path = line.rstrip("\n").split("\t")
        with open(report_path) as f:
            r = json.load(f)
        with open(rss_path) as f:
            wall, rss_kib = f.read().split()[-2:]
            rss_kib = int(rss_kib)
        rows = r["rows"]
        total = sum(int(v) for v in rows.values())
        ms = int(r["duration_ms"])
        cells = [size, backend, RUN_NAMES[run], str(total), f"{ms / 1000:.2f}", rate(total, ms),
                 wall, f"{rss_kib / 1024:.1f}"]
        for e in ENTITIES:
            t = r["timings_ms"].get(e, {})
            cells.append(rate(int(rows.get(e, 0)), int(t.get("read", 0)) + int(t.get("apply", 0))))
        print("| " + " | ".join(cells) + " |")
PY

if ((${#skipped[@]} > 0)); then
    printf '\nSkipped:\n'
    printf -- '- %s\n' "${skipped[@]}"
fi
printf '\nwall time: %ss (whole script)\n' "$((SECONDS - started))"
