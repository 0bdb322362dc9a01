#!/usr/bin/env bash
# Upload benchmark: a generated bundle imported through the HTTP admin API (POST /api/v1/imports,
# then polling until the job has succeeded) against the same bundle imported by the CLI, into an
# empty database each time, with the peak memory (RSS) of the server and of the CLI. Markdown
# table on stdout; progress on stderr.
#
# Usage (relative paths are taken from the repository root):
#   scripts/bench-upload.sh                        # 1M students, sqlite and postgres
#   SIZES="100000 1000000" BACKENDS=sqlite scripts/bench-upload.sh
#
# Environment:
#   SIZES          students per bundle, space separated     (default: "1000000")
#   BACKENDS       sqlite and/or postgres                    (default: "sqlite postgres")
#   BENCH_DIR      bundles, databases and logs               (default: ./bench-out)
#   BENCH_PG_URL   PostgreSQL server, without a database     (default: postgres://postgres@127.0.0.1:5432)
#                  the database rosterhub_bench on it is DROPPED and recreated for every run
#   ROSTERHUB_BIN  binary to benchmark; if unset, `cargo build --release` and target/release/rosterhub
#
# Needs: bash, curl, python3, /usr/bin/time (GNU), and psql + pg_isready for PostgreSQL.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_DIR"

SIZES=${SIZES:-1000000}
BACKENDS=${BACKENDS:-sqlite postgres}
BENCH_DIR=${BENCH_DIR:-./bench-out}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
BENCH_PG_URL=${BENCH_PG_URL%/}
PG_DB=rosterhub_bench
SEED=1

log() { printf '%s\n' "$*" >&2; }
die() { printf 'bench-upload: error: %s\n' "$*" >&2; exit 1; }

[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is required"
command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required"

mkdir -p -- "$BENCH_DIR"
BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)
RUNS="$BENCH_DIR/upload-runs.tsv"
: >"$RUNS"

if [[ -n ${ROSTERHUB_BIN:-} ]]; then
    BIN=$ROSTERHUB_BIN
else
    log "building the release binary (cargo build --release) ..."
    cargo build --release --quiet
    BIN="$REPO_DIR/target/release/rosterhub"
fi
[[ -x $BIN ]] || die "not an executable: $BIN"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

now() { python3 -c 'import time; print(f"{time.time():.3f}")'; }

fresh_db() { # BACKEND SIZE -> prints URL
    case $1 in
        sqlite)
            local db="$BENCH_DIR/upload-$2.db"
            rm -f -- "$db" "$db-wal" "$db-shm" "${db%.db}-ops.db" "${db%.db}-ops.db-wal" "${db%.db}-ops.db-shm"
            printf 'sqlite://%s\n' "$db"
            ;;
        postgres)
            PGOPTIONS='-c client_min_messages=warning' psql "$BENCH_PG_URL/postgres" -v ON_ERROR_STOP=1 -q -X \
                -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
            printf '%s/%s\n' "$BENCH_PG_URL" "$PG_DB"
            ;;
    esac
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The CLI import: seconds from start to exit, peak RSS in KiB.
cli_run() { # SIZE BACKEND BUNDLE
    local url; url=$(fresh_db "$2" "$1")
    "$BIN" migrate --database-url "$url" 2>/dev/null
    local t0 t1; t0=$(now)
    /usr/bin/time -f '%M' -o "$BENCH_DIR/cli.rss" \
        "$BIN" import "$3" --database-url "$url" --format json >"$BENCH_DIR/cli-$1-$2.json" 2>"$BENCH_DIR/cli.log" \
        || die "CLI import failed: $(tail -n 5 "$BENCH_DIR/cli.log")"
    t1=$(now)
    printf '%s\t%s\n' "$(python3 -c "print(round($t1 - $t0, 2))")" "$(cat "$BENCH_DIR/cli.rss")"
}

# The HTTP upload: seconds from the first byte of the upload to `succeeded`, server peak RSS.
http_run() { # SIZE BACKEND BUNDLE
    local url; url=$(fresh_db "$2" "$1")
    "$BIN" migrate --database-url "$url" 2>/dev/null
    local secret_json; secret_json=$("$BIN" client create --name bench --scopes rosterhub.import --database-url "$url")
    local id secret
    id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$secret_json")
    secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$secret_json")
    local port; port=$(free_port)
    /usr/bin/time -f '%M' -o "$BENCH_DIR/server.rss" \
        "$BIN" serve --listen "127.0.0.1:$port" --database-url "$url" --workers 1 \
        >"$BENCH_DIR/server.log" 2>&1 &
    local server=$!
    for _ in $(seq 1 200); do
        curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
        sleep 0.05
    done
    local token
    token=$(curl -sf -u "$id:$secret" -d grant_type=client_credentials -d scope=rosterhub.import \
        "http://127.0.0.1:$port/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    local t0 t1; t0=$(now)
    local job
    job=$(curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/zip' \
        --data-binary "@$3" "http://127.0.0.1:$port/api/v1/imports" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || die "upload failed"
    local state=queued
    while [[ $state == queued || $state == running ]]; do
        sleep 0.2
        state=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/imports/$job" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    done
    t1=$(now)
    curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/imports/$job" >"$BENCH_DIR/http-$1-$2.json"
    # SIGTERM to the server itself (the child of GNU time), so that time reports its peak RSS.
    pkill -TERM -P "$server" || true
    wait "$server" || true
    [[ $state == succeeded ]] || die "the upload ended $state (see $BENCH_DIR/http-$1-$2.json)"
    printf '%s\t%s\n' "$(python3 -c "print(round($t1 - $t0, 2))")" "$(cat "$BENCH_DIR/server.rss")"
}

for size in $SIZES; do
    bundle="$BENCH_DIR/students-$size-seed$SEED.zip"
    if [[ ! -s $bundle ]]; then
        log "generating $bundle ..."
        "$BIN" generate "$BENCH_DIR/.partial.zip" --students "$size" --seed "$SEED" 2>/dev/null
        mv -- "$BENCH_DIR/.partial.zip" "$bundle"
    fi
    mib=$(python3 -c "import os; print(round(os.path.getsize('$bundle') / 2**20, 1))")
    for backend in $BACKENDS; do
        if [[ $backend == postgres ]] && ! pg_isready -q -d "$BENCH_PG_URL/postgres"; then
            log "skipping postgres: not ready"; continue
        fi
        log "$size students ($mib MiB), $backend: CLI import ..."
        cli=$(cli_run "$size" "$backend" "$bundle")
        log "$size students, $backend: HTTP upload ..."
        http=$(http_run "$size" "$backend" "$bundle")
        printf '%s\t%s\t%s\t%s\t%s\n' "$size" "$mib" "$backend" "$cli" "$http" >>"$RUNS"
    done
done

cat <<EOF
## RosterHub upload benchmark

- machine: $(nproc) CPUs; commit: ${commit}
- bundles: \`rosterhub generate OUT.zip --students N --seed ${SEED}\`, imported into an empty database
- CLI: \`rosterhub import\`, start to exit; HTTP: \`POST /api/v1/imports\` from the first byte of the upload until \`GET\` says \`succeeded\` (polled every 0.2 s); RSS: GNU time %M of the CLI / of the server process over its whole life

| students | bundle MiB | backend | CLI s | HTTP s | HTTP / CLI | CLI peak RSS MiB | server peak RSS MiB |
|---:|---:|---|---:|---:|---:|---:|---:|
EOF
while IFS=$'\t' read -r size mib backend cli_s cli_rss http_s http_rss; do
    python3 - "$size" "$mib" "$backend" "$cli_s" "$cli_rss" "$http_s" "$http_rss" <<'PY'
import sys
size, mib, backend, cli_s, cli_rss, http_s, http_rss = sys.argv[1:]
ratio = float(http_s) / float(cli_s)
print(f"| {int(size):,} | {mib} | {backend} | {cli_s} | {http_s} | {ratio:.2f} | "
      f"{round(int(cli_rss) / 1024)} | {round(int(http_rss) / 1024)} |")
PY
done <"$RUNS"
