#!/usr/bin/env bash
# The whole import run (fetch, stage, load, score, match, finish) on generated FEBRL-like data sets,
# each into a fresh database: wall time per step (from the run's own step timings), total time, and the
# peak RSS of the idem process (from /usr/bin/time -v; PostgreSQL's memory is its own). Then the same
# import again into a fresh database, stopped (killed) as soon as its load step starts: the peak RSS of
# fetching and staging alone, which streams the file and should not grow with it (the whole run's peak
# is the score step's, which holds every record's compared fields).
#
#   bench/import_run.sh                  # 200k and 1M rows
#   SIZES="200000" bench/import_run.sh
#
# Env: SHARED (default ../shared), WORK (default /tmp/idem-import-bench), PYTHON (a Python with numpy and
# pandas for gen_synth.py; default: the test venv of scripts/test-venv.sh), DATABASE (default
# postgres://postgres@127.0.0.1:5432), CARGO_TARGET_DIR (default target).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared}
work=${WORK:-/tmp/idem-import-bench}
sizes=${SIZES:-"200000 1000000"}
database=${DATABASE:-postgres://postgres@127.0.0.1:5432}
py=${PYTHON:-$("$root/scripts/test-venv.sh")}
target=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$work"

(cd "$root" && cargo build --quiet --release --locked -p idem-api --bin idem)
idem=$target/release/idem

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
  csv=$work/synth_$n.csv
  [ -s "$csv" ] || "$py" "$shared/bench/gen_synth.py" --rows "$n" --seed 42 --out "$csv" >/dev/null
  db=idem_import_bench_$n
  psql "$database/postgres" -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null
  export DATABASE_URL=$database/$db
  "$idem" migrate >/dev/null 2>&1
  /usr/bin/time -v -o "$work/time_$n.txt" \
    "$idem" import "$csv" --config "$shared/data/febrl/febrl_model.json" --wait 2>"$work/stderr_$n.txt" \
    | tee "$work/summary_$n.txt" | grep -E "succeeded|failed|time per step|records|pairs"
  rss=$(awk -F: '/Maximum resident/ {print $2}' "$work/time_$n.txt")
  cpu=$(awk -F: '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u + s}' "$work/time_$n.txt")
  echo "rows $n: idem peak RSS $((rss / 1024)) MiB, idem CPU ${cpu} s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
  psql "$database/postgres" -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null

  "$idem" migrate >/dev/null 2>&1
  /usr/bin/time -v -o "$work/time_stage_$n.txt" \
    "$idem" import "$csv" --config "$shared/data/febrl/febrl_model.json" --wait >/dev/null 2>&1 &
  timed=$!
  until [ "$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM workflow_steps WHERE name = 'load' AND status = 'running'" 2>/dev/null)" = 1 ]; do
    kill -0 "$timed" 2>/dev/null || { echo "rows $n: the import ended before its load step started"; exit 1; }
    sleep 0.05
  done
  pkill -KILL -P "$timed"
  wait "$timed" || true
  staged=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM person_record_staging")
  rss=$(awk -F: '/Maximum resident/ {print $2}' "$work/time_stage_$n.txt")
  echo "rows $n: fetch and stage only ($staged rows staged): idem peak RSS $((rss / 1024)) MiB"
  psql "$database/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null
done
