#!/usr/bin/env bash
# A school list of N students (default 100,000; Shift_JIS, 和暦 birth dates, 氏名 with a
# full-width space) and its staff list imported through the mapping, against the same data as
# the OneRoster bundle `map convert` writes from them, each into a fresh database. Prints both
# median times over RUNS alternating runs (default 3) and their ratio (target ≤ 1.3).
#
#   scripts/bench-mapping.sh
#   STUDENTS=10000 scripts/bench-mapping.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1 scripts/bench-mapping.sh   # two new databases
set -euo pipefail
cd "$(dirname "$0")/.."

STUDENTS="${STUDENTS:-100000}"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/rosterhub-map-bench.XXXXXX")"
trap 'rm -rf "$DIR"' EXIT

if [ -z "${ROSTERHUB_BIN:-}" ]; then
  cargo build --release --quiet
  ROSTERHUB_BIN=./target/release/rosterhub
fi

# Deterministic lists: 6 grades × as many classes of 35 as needed, one 担任 per class.
python3 - "$STUDENTS" "$DIR" <<'EOF'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
family = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"]
given = ["太郎", "花子", "一郎", "美咲", "健太", "結衣", "大翔", "陽菜", "蓮", "葵"]
kf = ["ヤマダ", "サトウ", "スズキ", "タカハシ", "タナカ", "イトウ", "ワタナベ", "ナカムラ", "コバヤシ", "カトウ"]
kg = ["タロウ", "ハナコ", "イチロウ", "ミサキ", "ケンタ", "ユイ", "ヒロト", "ヒナ", "レン", "アオイ"]
per_grade = -(-n // 6)
classes = -(-per_grade // 35)
rows = ["児童生徒番号,学年,組,出席番号,氏名,フリガナ,性別,生年月日"]
for i in range(n):
    g, k = i % 6, (i // 6) // 35 % classes
    seat = (i // 6) % 35 + 1
    year = 2018 - g  # 平成30年 for 小1 in 年度 2025
    rows.append(f"S{i + 1:07d},小{g + 1},{k + 1},{seat},{family[i % 10]}\u3000{given[i // 10 % 10]},"
                f"{kf[i % 10]}\u3000{kg[i // 10 % 10]},{'男' if i % 2 else '女'},"
                f"平成{year - 1988}年{i % 12 + 1}月{i % 28 + 1}日")
open(f"{out}/児童名簿.csv", "wb").write(("\r\n".join(rows) + "\r\n").encode("cp932"))
staff = ["教職員番号,氏名,ふりがな,担任学年,担任組"]
for g in range(6):
    for k in range(classes):
        t = g * classes + k
        staff.append(f"T{t + 1:05d},{family[t % 10]}\u3000{given[t // 10 % 10]},"
                     f"{kf[t % 10]}\u3000{kg[t // 10 % 10]},小{g + 1},{k + 1}")
open(f"{out}/教職員名簿.csv", "w", encoding="utf-8-sig").write("\n".join(staff) + "\n")
EOF
cat > "$DIR/profile.json" <<'EOF'
{"version": 1, "school": {"code": "B113210000019", "name": "ベンチ小学校", "type": "elementary"}, "schoolYear": 2025}
EOF
LISTS=("$DIR/児童名簿.csv" "$DIR/教職員名簿.csv")
"$ROSTERHUB_BIN" map convert "$DIR/profile.json" "${LISTS[@]}" "$DIR/bundle.zip" >"$DIR/convert.txt" \
  || { tail -20 "$DIR/convert.txt" >&2; exit 1; }

db_url() {
  if [ -n "${DATABASE_URL:-}" ]; then
    local name="rosterhub_map_bench_$1"
    psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
    # The server part of the URL (a database path, if any, replaced by the bench database).
    [[ $DATABASE_URL =~ ^(postgres(ql)?://[^/?]+) ]] || { echo "DATABASE_URL: not a postgres:// URL" >&2; exit 2; }
    echo "${BASH_REMATCH[1]}/$name"
  else
    echo "sqlite://$DIR/$1.db"
  fi
}

# Seconds (wall clock) of one command.
timed() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.2f}')"
}

URL_B=$(db_url bundle)
"$ROSTERHUB_BIN" migrate --database-url "$URL_B" >/dev/null 2>&1
URL_M=$(db_url mapped)
"$ROSTERHUB_BIN" migrate --database-url "$URL_M" >/dev/null 2>&1
# RUNS alternating runs of each into a fresh database; the medians are compared (one slow run
# on a noisy machine moves neither).
RUNS="${RUNS:-3}"
T_BUNDLES=()
T_MAPPEDS=()
for _ in $(seq 1 "$RUNS"); do
  URL_B=$(db_url bundle)
  "$ROSTERHUB_BIN" migrate --database-url "$URL_B" >/dev/null 2>&1
  T_BUNDLES+=("$(timed "$ROSTERHUB_BIN" import "$DIR/bundle.zip" --database-url "$URL_B")")
  URL_M=$(db_url mapped)
  "$ROSTERHUB_BIN" migrate --database-url "$URL_M" >/dev/null 2>&1
  T_MAPPEDS+=("$(timed "$ROSTERHUB_BIN" import --mapping "$DIR/profile.json" "${LISTS[@]}" --database-url "$URL_M")")
  [ -n "${DATABASE_URL:-}" ] || rm -f "$DIR"/bundle.db* "$DIR"/mapped.db*
done
python3 - "$STUDENTS" "${T_BUNDLES[*]}" "${T_MAPPEDS[*]}" <<'PY'
import statistics, sys
n, b, m = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
mb, mm = statistics.median(b), statistics.median(m)
print(f"students: {n}")
print(f"bundle (map convert output): {mb:.2f} s  (runs: {' '.join(f'{x:.2f}' for x in b)})")
print(f"lists through the mapping:   {mm:.2f} s  (runs: {' '.join(f'{x:.2f}' for x in m)})")
print(f"ratio of the medians: {mm / mb:.2f} (target <= 1.3)")
PY
