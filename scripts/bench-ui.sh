#!/usr/bin/env bash
# Web UI benchmark: a tenant of STUDENTS generated students (imported with the CLI), a server,
# a system admin signed in through the session API (POST /api/v1/session), an import with
# thousands of findings uploaded over HTTP, then every UI page requested REQUESTS times on one
# keep-alive connection (curl's time_total per request: server time plus a loopback round trip).
# For the administration pages the tenant also gets AUDIT_ENTRIES audit log entries over the
# last 30 days and DELIVERIES deliveries of one of its 10 webhooks (both written with SQL, as a
# busy year would leave them), and USERS admin users (through the users API).
# A Markdown table of median, p95 and max per page goes to stdout; progress to stderr.
#
# Usage (from anywhere):
#   scripts/bench-ui.sh                               # 1M students, sqlite and postgres
#   STUDENTS=10000 BACKENDS=sqlite scripts/bench-ui.sh
#
# Environment:
#   STUDENTS       students of the tenant                    (default: 1000000)
#   BACKENDS       sqlite and/or postgres                    (default: "sqlite postgres")
#   REQUESTS       timed requests per page, after one warm-up (default: 50)
#   AUDIT_ENTRIES  audit log entries of the tenant             (default: 1000000)
#   DELIVERIES     deliveries of one webhook                    (default: 100000)
#   USERS          admin users of the tenant                    (default: 100)
#   BENCH_DIR      bundles, databases and logs               (default: ./bench-out)
#   BENCH_PG_URL   PostgreSQL server, without a database     (default: postgres://postgres@127.0.0.1:5432)
#                  the database rosterhub_bench_ui on it is DROPPED and recreated
#   ROSTERHUB_BIN  binary to benchmark; if unset, `cargo build --release` and target/release/rosterhub
#
# Needs: bash, curl, python3, sqlite3, and psql + pg_isready for PostgreSQL (skipped when not
# ready).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_DIR"
. "$SCRIPT_DIR/lib.sh"

STUDENTS=${STUDENTS:-1000000}
BACKENDS=${BACKENDS:-sqlite postgres}
REQUESTS=${REQUESTS:-50}
AUDIT_ENTRIES=${AUDIT_ENTRIES:-1000000}
DELIVERIES=${DELIVERIES:-100000}
USERS=${USERS:-100}
BENCH_DIR=${BENCH_DIR:-./bench-out}
BENCH_PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
BENCH_PG_URL=${BENCH_PG_URL%/}
PG_DB=rosterhub_bench_ui
SEED=1
# Only for this throwaway database.
PASSWORD='bench-ui passphrase'

log() { printf '%s\n' "$*" >&2; }
die() { printf 'bench-ui: error: %s\n' "$*" >&2; exit 1; }

command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required"
[[ $STUDENTS =~ ^[0-9]+$ && $REQUESTS =~ ^[0-9]+$ ]] || die "STUDENTS and REQUESTS are numbers"
[[ $AUDIT_ENTRIES =~ ^[1-9][0-9]*$ && $DELIVERIES =~ ^[0-9]+$ && $USERS =~ ^[0-9]+$ ]] \
    || die "AUDIT_ENTRIES (at least 1), DELIVERIES and USERS are numbers"

mkdir -p -- "$BENCH_DIR"
BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)
RESULTS="$BENCH_DIR/ui-times.tsv"
: >"$RESULTS"

if [[ -n ${ROSTERHUB_BIN:-} ]]; then
    BIN=$ROSTERHUB_BIN
else
    log "building the release binary (cargo build --release) ..."
    cargo build --release --quiet
    BIN="$REPO_DIR/target/release/rosterhub"
fi
[[ -x $BIN ]] || die "not an executable: $BIN"
ROSTERHUB_BIN=$BIN
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

# 1. The tenant's bundle, and a bundle with findings in every file: a 2,000-student district
#    whose rows all carry a bulk `dateLastModified` (a warning each, 1,000 listed per file) and
#    whose first user has no sourcedId (an error: the import is rejected, nothing written).
bundle="$BENCH_DIR/students-$STUDENTS-seed$SEED.zip"
if [[ ! -s $bundle ]]; then
    log "generating $bundle ..."
    "$BIN" generate "$BENCH_DIR/.partial.zip" --students "$STUDENTS" --seed "$SEED" 2>/dev/null
    mv -- "$BENCH_DIR/.partial.zip" "$bundle"
fi
findings="$BENCH_DIR/ui-findings.zip"
"$BIN" generate "$BENCH_DIR/ui-findings-src.zip" --students 2000 --seed 2 2>/dev/null
python3 - "$BENCH_DIR/ui-findings-src.zip" "$findings" <<'PY'
import csv, io, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
    for name in zin.namelist():
        data = zin.read(name).decode("utf-8")
        if name != "manifest.csv":
            rows = list(csv.reader(io.StringIO(data)))
            at = rows[0].index("dateLastModified")
            for r in rows[1:]:
                r[at] = "2026-04-01T00:00:00Z"
            if name == "users.csv":
                rows[1][0] = ""
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            data = buf.getvalue()
        zout.writestr(name, data)
PY

fresh_db() { # BACKEND -> prints URL
    case $1 in
        sqlite)
            local db="$BENCH_DIR/ui.db"
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

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# Runs SQL on the operational tables of BACKEND's database URL: the `-ops.db` file beside a
# SQLite database, the database itself on PostgreSQL.
ops_sql() { # BACKEND URL SQL
    case $1 in
        sqlite) sqlite3 -cmd '.timeout 60000' "$(ops_file "$2")" "$3" ;;
        postgres) PGOPTIONS='-c client_min_messages=warning' psql "$2" -v ON_ERROR_STOP=1 -q -X -c "$3" >/dev/null ;;
    esac
}
ops_file() { local db=${1#sqlite://}; printf '%s-ops.db\n' "${db%.db}"; }

# AUDIT_ENTRIES entries of tenant default, one every 30 days / AUDIT_ENTRIES up to now: reads by
# 20 clients, with imports, exports and (one in 1,000) client creations among them; a unique
# request id each.
AUDIT_NOW=
seed_audit() { # BACKEND URL
    local now span step
    now=$(($(date +%s) * 1000))
    AUDIT_NOW=$now
    span=$((30 * 24 * 3600 * 1000))
    step=$((span / AUDIT_ENTRIES))
    local cols="id, tenant_id, at, actor, action, method, path, query, status, result_count, target, source_ip, request_id, user_agent"
    local action="CASE WHEN i % 1000 = 2 THEN 'clients.create' WHEN i % 100 = 0 THEN 'imports.create' WHEN i % 100 = 1 THEN 'exports.create' ELSE 'oneroster.read' END"
    case $1 in
        sqlite)
            ops_sql sqlite "$2" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $AUDIT_ENTRIES - 1)
                INSERT INTO audit_log ($cols) SELECT printf('0190b000-0000-7000-8000-%012d', i), 'default',
                $now - $span + i * $step, 'client:bench' || (i % 20), $action, 'GET', '/ims/oneroster/rostering/v1p2/users',
                'limit=100', 200, 100, NULL, '192.0.2.' || (i % 200),
                printf('%08x-%04x-7000-8000-%012d', ($now - $span + i * $step) >> 16, ($now - $span + i * $step) & 65535, i),
                'bench/1' FROM n"
            ;;
        postgres)
            ops_sql postgres "$2" "INSERT INTO audit_log ($cols) SELECT '0190b000-0000-7000-8000-' || lpad(i::text, 12, '0'), 'default',
                $now - $span + i::bigint * $step, 'client:bench' || (i % 20), $action, 'GET', '/ims/oneroster/rostering/v1p2/users',
                'limit=100', 200, 100, NULL, '192.0.2.' || (i % 200),
                lpad(to_hex(($now - $span + i::bigint * $step) >> 16), 8, '0') || '-' || lpad(to_hex(($now - $span + i::bigint * $step) & 65535), 4, '0')
                  || '-7000-8000-' || lpad(i::text, 12, '0'),
                'bench/1'
                FROM generate_series(0, $AUDIT_ENTRIES - 1) AS i; ANALYZE audit_log"
            ;;
    esac
}

# DELIVERIES delivered events of webhook HOOK, one a minute up to now.
seed_deliveries() { # BACKEND URL HOOK
    (( DELIVERIES > 0 )) || return 0
    local now cols
    now=$(($(date +%s) * 1000))
    cols="id, webhook_id, tenant_id, event, payload, state, attempts, next_attempt_at, last_status, created_at, finished_at"
    case $1 in
        sqlite)
            ops_sql sqlite "$2" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $DELIVERIES - 1)
                INSERT INTO webhook_deliveries ($cols) SELECT printf('0190c000-0000-7000-8000-%012d', i), '$3', 'default',
                'import.completed', '{}', 'succeeded', 1, $now - 60000 * i, 200, $now - 60000 * i, $now - 60000 * i + 80 FROM n"
            ;;
        postgres)
            ops_sql postgres "$2" "INSERT INTO webhook_deliveries ($cols) SELECT '0190c000-0000-7000-8000-' || lpad(i::text, 12, '0'), '$3', 'default',
                'import.completed', '{}', 'succeeded', 1, $now - 60000 * i::bigint, 200, $now - 60000 * i::bigint, $now - 60000 * i::bigint + 80
                FROM generate_series(0, $DELIVERIES - 1) AS i; ANALYZE webhook_deliveries"
            ;;
    esac
}

# Requests URL REQUESTS+1 times on one connection; the first (warm-up) is dropped. Every answer
# must be 200. Appends "backend page ms…" to $RESULTS.
time_page() { # BACKEND PAGE URL [curl options…]
    local backend=$1 page=$2 url=$3
    shift 3
    local args=()
    for _ in $(seq 0 "$REQUESTS"); do args+=(-o /dev/null "$url"); done
    curl -s "$@" -w '%{http_code} %{time_total}\n' "${args[@]}" >"$BENCH_DIR/ui-page.txt"
    python3 - "$backend" "$page" "$BENCH_DIR/ui-page.txt" >>"$RESULTS" <<'PY'
import sys
backend, page, path = sys.argv[1:]
lines = [l.split() for l in open(path) if l.strip()]
bad = [c for c, _ in lines if c != "200"]
if bad:
    sys.exit(f"bench-ui: error: {page}: answered {bad[0]}")
ms = [float(t) * 1000 for _, t in lines[1:]]
print(backend, page, " ".join(f"{m:.2f}" for m in ms), sep="\t")
PY
}

server=
run_backend() { # BACKEND
    local backend=$1 url port jar="$BENCH_DIR/ui-cookies.txt"
    url=$(fresh_db "$backend")
    log "$backend: importing $STUDENTS students ..."
    "$BIN" import "$bundle" --database-url "$url" --format json >"$BENCH_DIR/ui-import-$backend.json" 2>/dev/null
    ROSTERHUB_ADMIN_PASSWORD=$PASSWORD "$BIN" admin create bench --system --database-url "$url" >/dev/null 2>&1
    log "$backend: writing $AUDIT_ENTRIES audit log entries ..."
    seed_audit "$backend" "$url"
    port=$(bench_free_port)
    "$BIN" serve --listen "127.0.0.1:$port" --database-url "$url" --workers 1 >"$BENCH_DIR/ui-server-$backend.log" 2>&1 &
    server=$!
    trap '[[ -n $server ]] && kill "$server" 2>/dev/null' EXIT
    bench_wait_ready "$port" || die "the server did not start (see $BENCH_DIR/ui-server-$backend.log)"
    local base="http://127.0.0.1:$port"
    rm -f -- "$jar"
    local csrf
    csrf=$(curl -sf -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\",\"tenant\":\"default\"}" \
        "$base/api/v1/session" | json_field '["csrf_token"]')
    local auth=(-b "$jar" -H "x-csrf-token: $csrf")
    log "$backend: uploading the bundle with findings ..."
    local fid state
    fid=$(curl -sf "${auth[@]}" -H 'Content-Type: application/zip' --data-binary "@$findings" \
        "$base/api/v1/imports" | json_field '["id"]')
    for _ in $(seq 1 600); do
        state=$(curl -sf "${auth[@]}" "$base/api/v1/imports/$fid?findings_limit=1" | json_field '["state"]')
        [[ $state == queued || $state == running ]] || break
        sleep 0.5
    done
    [[ $state == failed ]] || die "the bundle with findings ended $state, expected failed (rejected)"
    # A delta export since now: the exports page lists a finished export.
    curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
        -d "{\"mode\":\"delta\",\"since\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}" "$base/api/v1/exports" >/dev/null
    # The CLI import of the tenant, as the history lists it.
    local cli_id
    cli_id=$(curl -sf "${auth[@]}" "$base/api/v1/imports?state=succeeded&limit=1" | json_field '["imports"][0]["id"]' 2>/dev/null || true)
    log "$backend: 10 webhooks, $DELIVERIES deliveries of one, $USERS users ..."
    local hook
    for n in $(seq 1 10); do
        hook=$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
            -d "{\"url\":\"https://sis$n.example.jp/rosterhub\",\"events\":[\"*\"],\"description\":\"bench $n\"}" \
            "$base/api/v1/webhooks" | json_field '["id"]')
    done
    seed_deliveries "$backend" "$url" "$hook"
    for n in $(seq 1 "$USERS"); do
        curl -sf "${auth[@]}" -H 'Content-Type: application/json' -o /dev/null \
            -d "{\"username\":\"user$n\",\"password\":\"$PASSWORD $n\",\"role\":\"viewer\"}" "$base/api/v1/users"
    done
    # The middle of the audit log (a keyset page deep in it) and an entry to look up by id.
    local mid=$(( $(date +%s) * 1000 - 15 * 24 * 3600 * 1000 ))
    # The request id of the entry in the middle: a UUIDv7 of its time, as the server makes them.
    local rid
    rid=$(python3 -c 'import sys
n, now = int(sys.argv[1]), int(sys.argv[2])
span = 30 * 24 * 3600 * 1000
i = n // 2
at = now - span + i * (span // n)
print(f"{at >> 16:08x}-{at & 65535:04x}-7000-8000-{i:012d}")' "$AUDIT_ENTRIES" "$AUDIT_NOW")
    local day_from day_to
    day_from=$(TZ=Asia/Tokyo date -d '-10 days' +%Y-%m-%dT09:00)
    day_to=$(TZ=Asia/Tokyo date -d '-10 days' +%Y-%m-%dT17:59)
    # A student (the first student enrollment), her class and school, and her family name's
    # reading for the roster search, read from the bundle.
    local student class school kana
    read -r student class school kana < <(python3 - "$bundle" <<'PY'
import csv, io, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
rows = lambda name: csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8-sig"))
e = next(r for r in rows("enrollments.csv") if r["role"] == "student")
u = next(r for r in rows("users.csv") if r["sourcedId"] == e["userSourcedId"])
kana = u.get("metadata.jp.kanaFamilyName") or u["familyName"]
print(e["userSourcedId"], e["classSourcedId"], e["schoolSourcedId"], kana)
PY
)
    log "$backend: timing pages ($REQUESTS requests each) ..."
    time_page "$backend" "sign-in form \`/ui/login\`" "$base/ui/login"
    time_page "$backend" "dashboard \`/ui\`" "$base/ui" -b "$jar"
    time_page "$backend" "dashboard, English \`/ui?lang=en\`" "$base/ui?lang=en" -b "$jar"
    time_page "$backend" "upload \`/ui/upload\`" "$base/ui/upload" -b "$jar"
    time_page "$backend" "history \`/ui/history\`" "$base/ui/history" -b "$jar"
    time_page "$backend" "import with findings \`/ui/imports/{id}\`" "$base/ui/imports/$fid" -b "$jar"
    time_page "$backend" "its findings, a code, page 10" "$base/ui/imports/$fid?code=bulk_modified_ignored&page=10" -b "$jar"
    if [[ -n $cli_id ]]; then
        time_page "$backend" "the ${STUDENTS}-student import" "$base/ui/imports/$cli_id" -b "$jar"
    fi
    time_page "$backend" "exports \`/ui/exports\`" "$base/ui/exports" -b "$jar"
    time_page "$backend" "roster: users \`/ui/roster?kind=users\`" "$base/ui/roster?kind=users" -b "$jar"
    time_page "$backend" "roster: users, page 100" "$base/ui/roster?kind=users&page=100" -b "$jar"
    time_page "$backend" "roster: users by kana" "$base/ui/roster?kind=users&q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$kana")" -b "$jar"
    time_page "$backend" "roster: classes" "$base/ui/roster?kind=classes" -b "$jar"
    time_page "$backend" "roster: schools" "$base/ui/roster?kind=schools" -b "$jar"
    time_page "$backend" "a student's page" "$base/ui/roster/users/$student" -b "$jar"
    time_page "$backend" "a class's page" "$base/ui/roster/classes/$class" -b "$jar"
    time_page "$backend" "a school's page" "$base/ui/roster/orgs/$school" -b "$jar"
    time_page "$backend" "API clients \`/ui/clients\`" "$base/ui/clients" -b "$jar"
    time_page "$backend" "field mappings \`/ui/mappings\`" "$base/ui/mappings" -b "$jar"
    time_page "$backend" "webhooks \`/ui/webhooks\`" "$base/ui/webhooks" -b "$jar"
    time_page "$backend" "a webhook and its newest deliveries (of $DELIVERIES)" "$base/ui/webhooks/$hook" -b "$jar"
    # 50,000 deliveries back (one a minute): where page 2,000 of 25 starts.
    local dmid=$(( $(date +%s) * 1000 - 60000 * 50000 ))
    time_page "$backend" "its deliveries, 50,000 back" "$base/ui/webhooks/$hook?after=${dmid}_~" -b "$jar"
    time_page "$backend" "users \`/ui/users\` ($((USERS + 1)))" "$base/ui/users" -b "$jar"
    time_page "$backend" "audit log \`/ui/audit\` ($AUDIT_ENTRIES entries)" "$base/ui/audit" -b "$jar"
    time_page "$backend" "audit log, a page 15 days deep" "$base/ui/audit?after=${mid}_~" -b "$jar"
    time_page "$backend" "audit log, one action (1 in 100)" "$base/ui/audit?action=imports.create" -b "$jar"
    time_page "$backend" "audit log, one actor (1 in 20)" "$base/ui/audit?actor=client%3Abench7" -b "$jar"
    time_page "$backend" "audit log, a working day in Tokyo time" "$base/ui/audit?from=$day_from&to=$day_to" -b "$jar"
    time_page "$backend" "audit log, a rare action (1 in 1,000)" "$base/ui/audit?action=clients.create" -b "$jar"
    time_page "$backend" "audit log, one request id (15 days deep)" "$base/ui/audit?request_id=$rid" -b "$jar"
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    trap - EXIT
}

skipped=()
for backend in $BACKENDS; do
    case $backend in
        sqlite) run_backend sqlite ;;
        postgres)
            if command -v pg_isready >/dev/null && pg_isready -q -d "$BENCH_PG_URL/postgres"; then
                run_backend postgres
            else
                skipped+=("postgres: server not ready at $BENCH_PG_URL")
            fi
            ;;
        *) die "BACKENDS: unknown backend: $backend (use sqlite and/or postgres)" ;;
    esac
done

cpu_model=$(sed -n '/^model name/{s/^model name[[:space:]]*:[[:space:]]*//p;q;}' /proc/cpuinfo)
cat <<EOF
## RosterHub web UI benchmark

- machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}
- commit: ${commit}; ${STUDENTS} students (\`rosterhub generate --seed ${SEED}\`); ${AUDIT_ENTRIES} audit log entries, ${DELIVERIES} deliveries of one webhook, $((USERS + 1)) users; ${REQUESTS} requests per page after one warm-up, one keep-alive connection; ms = curl time_total

EOF
python3 - "$RESULTS" <<'PY'
import statistics, sys
print("| backend | page | median ms | p95 ms | max ms |")
print("|---|---|---:|---:|---:|")
for line in open(sys.argv[1]):
    backend, page, times = line.rstrip("\n").split("\t")
    ms = sorted(float(t) for t in times.split())
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
    print(f"| {backend} | {page} | {statistics.median(ms):.1f} | {p95:.1f} | {ms[-1]:.1f} |")
PY
if ((${#skipped[@]} > 0)); then
    printf '\nSkipped:\n'
    printf -- '- %s\n' "${skipped[@]}"
fi
