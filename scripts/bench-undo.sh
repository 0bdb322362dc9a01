#!/usr/bin/env bash
# Change log and undo benchmark, printed as Markdown (stdout); progress goes to stderr.
#
# 1. What the change log costs: a first import of SIZE students into an empty database, then a
#    1 %-change delta on it (1 % of the students: two thirds renamed, one third withdrawn with
#    their role, enrollment and demographics; 0.2 % new students), each with BASE_BIN (a build
#    without the change log, e.g. main before it) and with ROSTERHUB_BIN, alternated, RUNS times;
#    the median report `duration_ms` of each.
# 2. Undo: UNDO_SIZE students imported, the 1 % delta of that tenant imported, then
#    `rosterhub import undo` of the delta timed (wall clock of the command, and the report's
#    `duration_ms`); then the undo is undone.
#
# Usage (from anywhere; relative paths are taken from the repository root):
#   BASE_BIN=/path/to/rosterhub-main scripts/bench-undo.sh
#   SIZE=10000 UNDO_SIZE=100000 BACKENDS=sqlite BASE_BIN=… scripts/bench-undo.sh
#
# Environment:
#   SIZE           students of the overhead runs                (default: 100000)
#   UNDO_SIZE      students of the undo run                      (default: 1000000)
#   RUNS           runs of each binary per measurement           (default: 3)
#   BACKENDS       sqlite and/or postgres                        (default: "sqlite postgres")
#   BENCH_DIR      bundles, databases, reports                   (default: ./bench-out)
#   BENCH_PG_URL   PostgreSQL server, without a database         (default: postgres://postgres@127.0.0.1:5432)
#                  the database rosterhub_bench on it is DROPPED and recreated for every run
#   ROSTERHUB_BIN  binary with the change log; if unset, `cargo build --release`
#   BASE_BIN       binary without it; if unset, the overhead runs are skipped
#
# Needs: bash, python3, and psql + pg_isready for PostgreSQL.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_DIR"

SIZE=${SIZE:-100000}
UNDO_SIZE=${UNDO_SIZE:-1000000}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
BENCH_DIR=${BENCH_DIR:-./bench-out}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
BENCH_PG_URL=${BENCH_PG_URL%/}
PG_DB=rosterhub_bench
PG_ADMIN_URL="$BENCH_PG_URL/postgres"
PG_BENCH_URL="$BENCH_PG_URL/$PG_DB"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'bench-undo: error: %s\n' "$*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 is required"
mkdir -p -- "$BENCH_DIR"
BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)

if [[ -z ${ROSTERHUB_BIN:-} ]]; then
    log "building the release binary (cargo build --release) ..."
    cargo build --release --quiet
    ROSTERHUB_BIN="$REPO_DIR/target/release/rosterhub"
fi
[[ -x $ROSTERHUB_BIN ]] || die "not an executable: $ROSTERHUB_BIN"
[[ -z ${BASE_BIN:-} || -x $BASE_BIN ]] || die "not an executable: $BASE_BIN"

# The generated bundle of N students (made once).
bundle() { # N -> path
    local out="$BENCH_DIR/students-$1-seed1.zip"
    if [[ ! -s $out ]]; then
        log "generating $out ..."
        "$ROSTERHUB_BIN" generate "$BENCH_DIR/.partial.zip" --students "$1" --seed 1 2>/dev/null
        mv -- "$BENCH_DIR/.partial.zip" "$out"
    fi
    printf '%s\n' "$out"
}

# The 1 %-change delta of a generated bundle (made once).
delta() { # BULK.zip -> path
    local out="${1%.zip}-delta1pct.zip"
    [[ -s $out ]] || python3 - "$1" "$out" <<'PY'
import csv, io, sys, uuid, zipfile
src, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(src)
def rows(name):
    r = csv.reader(io.StringIO(z.read(name).decode("utf-8")))
    header = next(r)
    return header, list(r)
STAMP = "2025-04-01T00:00:00.000Z"
files = {n: rows(n) for n in ["users.csv", "roles.csv", "enrollments.csv", "demographics.csv"]}
col = {n: {c: i for i, c in enumerate(h)} for n, (h, _) in files.items()}
students = [r for r in files["users.csv"][1] if r[col["users.csv"]["username"]].startswith("s")]
by_user = {}
for n in ["roles.csv", "enrollments.csv"]:
    for r in files[n][1]:
        by_user.setdefault((n, r[col[n]["userSourcedId"]]), r)
demo = {r[0]: r for r in files["demographics.csv"][1]}
outrows = {n: [] for n in files}
def emit(n, row, status):
    row = list(row)
    row[col[n]["status"]] = status
    row[col[n]["dateLastModified"]] = STAMP
    outrows[n].append(row)
chosen = students[::100]
for k, u in enumerate(chosen):
    uid = u[0]
    if k % 3 < 2:
        u = list(u)
        u[col["users.csv"]["givenName"]] += "子"
        emit("users.csv", u, "active")
    else:
        emit("users.csv", u, "tobedeleted")
        for n in ["roles.csv", "enrollments.csv"]:
            if (n, uid) in by_user:
                emit(n, by_user[(n, uid)], "tobedeleted")
        if uid in demo:
            emit("demographics.csv", demo[uid], "tobedeleted")
for k, u in enumerate(students[::500]):
    new = str(uuid.UUID(int=uuid.uuid5(uuid.NAMESPACE_URL, f"bench-new-{k}").int, version=4))
    uid = u[0]
    u = list(u)
    u[0] = new
    for c in ["username", "email"]:
        u[col["users.csv"][c]] = f"n{k:07d}@sample-city.example.ed.jp"
    u[col["users.csv"]["identifier"]] = f"N{k:07d}"
    u[col["users.csv"]["userIds"]] = f"{{Koumu:N{k:07d}}}"
    u[col["users.csv"]["userMasterIdentifier"]] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-master-{k}"))
    emit("users.csv", u, "active")
    for n in ["roles.csv", "enrollments.csv"]:
        if (n, uid) in by_user:
            r = list(by_user[(n, uid)])
            r[0] = str(uuid.UUID(int=uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{n}-{k}").int, version=4))
            r[col[n]["userSourcedId"]] = new
            emit(n, r, "active")
    if uid in demo:
        r = list(demo[uid]); r[0] = new
        emit("demographics.csv", r, "active")
manifest = [l for l in z.read("manifest.csv").decode("utf-8").splitlines()]
out_manifest = []
for l in manifest:
    k, _, v = l.partition(",")
    name = k[len("file."):] + ".csv" if k.startswith("file.") else None
    if name is not None and v != "absent":
        v = "delta" if name in files else "absent"
    out_manifest.append(f"{k},{v}")
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
    w.writestr("manifest.csv", "\n".join(out_manifest) + "\n")
    for n, (h, _) in files.items():
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(h)
        wr.writerows(outrows[n])
        w.writestr(n, buf.getvalue())
PY
    printf '%s\n' "$out"
}

fresh() { # BACKEND NAME -> URL
    case $1 in
        sqlite)
            local db="$BENCH_DIR/undo-$2.db"
            rm -f -- "$db" "$db-wal" "$db-shm" "${db%.db}-ops.db" "${db%.db}-ops.db-wal" "${db%.db}-ops.db-shm"
            printf 'sqlite://%s\n' "$db"
            ;;
        postgres)
            PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -q -X \
                -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
            printf '%s\n' "$PG_BENCH_URL"
            ;;
    esac
}

# Imports BUNDLE into URL with BIN; prints the report's duration_ms (the import must apply).
import_ms() { # BIN BUNDLE URL
    local report
    report=$("$1" import "$2" --database-url "$3" --format json --force 2>/dev/null) \
        || die "import of $2 with $1 failed"
    printf '%s' "$report" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "applied", r["status"]
print(r["duration_ms"], r["import_id"])'
}

median() { python3 -c 'import statistics, sys; print(int(statistics.median(int(x) for x in sys.argv[1:])))' "$@"; }

cat <<EOF
## RosterHub change log and undo benchmark

- machine: $(nproc) CPUs, $(sed -n '/^model name/{s/^model name[[:space:]]*:[[:space:]]*//p;q;}' /proc/cpuinfo)
- binary: ${ROSTERHUB_BIN}; without the change log: ${BASE_BIN:-(not given)}
- bundles: \`rosterhub generate --students N --seed 1\`, and its 1 % delta (this script)

EOF

if [[ -n ${BASE_BIN:-} ]]; then
    bulk=$(bundle "$SIZE")
    d=$(delta "$bulk")
    echo "| backend | run | without log ms | with log ms | cost |"
    echo "|---|---|---:|---:|---:|"
    for backend in $BACKENDS; do
        declare -A first=() deltas=()
        for run in $(seq 1 "$RUNS"); do
            for which in base log; do
                bin=$ROSTERHUB_BIN; [[ $which == base ]] && bin=$BASE_BIN
                url=$(fresh "$backend" "$which")
                log "$backend run $run ($which): first import of $SIZE students, then the delta ..."
                read -r ms _ < <(import_ms "$bin" "$bulk" "$url")
                first[$which]+="$ms "
                read -r ms _ < <(import_ms "$bin" "$d" "$url")
                deltas[$which]+="$ms "
            done
        done
        for what in first deltas; do
            declare -n m=$what
            # shellcheck disable=SC2086
            b=$(median ${m[base]}); l=$(median ${m[log]})
            name="first import"; [[ $what == deltas ]] && name="1 % delta"
            python3 -c "import sys; b,l=int(sys.argv[1]),int(sys.argv[2]); print(f'| $backend | $name ($SIZE students) | {b} | {l} | {(l-b)/b*100:+.1f} % |')" "$b" "$l"
            unset -n m
        done
        unset first deltas
    done
    echo
fi

echo "| backend | students | delta import ms | undo wall s | undo report ms | undo of the undo wall s |"
echo "|---|---:|---:|---:|---:|---:|"
bulk=$(bundle "$UNDO_SIZE")
d=$(delta "$bulk")
for backend in $BACKENDS; do
    url=$(fresh "$backend" big)
    log "$backend: importing $UNDO_SIZE students ..."
    import_ms "$ROSTERHUB_BIN" "$bulk" "$url" >/dev/null
    read -r delta_ms delta_id < <(import_ms "$ROSTERHUB_BIN" "$d" "$url")
    log "$backend: undoing the 1 % delta $delta_id ..."
    start=$(date +%s.%N)
    undo=$("$ROSTERHUB_BIN" import undo "$delta_id" --database-url "$url" --format json 2>/dev/null) \
        || die "undo failed: $undo"
    end=$(date +%s.%N)
    read -r undo_ms undo_id < <(printf '%s' "$undo" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "applied", r
print(r["duration_ms"], r["import_id"])')
    start2=$(date +%s.%N)
    "$ROSTERHUB_BIN" import undo "$undo_id" --database-url "$url" --format json >/dev/null 2>&1 \
        || die "undo of the undo failed"
    end2=$(date +%s.%N)
    python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print(f'| $backend | $UNDO_SIZE | $delta_ms | {b-a:.2f} | $undo_ms | {d-c:.2f} |')" \
        "$start" "$end" "$start2" "$end2"
done
