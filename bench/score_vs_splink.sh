#!/usr/bin/env bash
# Scores generated FEBRL-like data sets with idem-matching (native, release build) and with the
# reference Splink 4.0.9 + DuckDB harness, and prints wall time, CPU time and peak RSS of both
# (from /usr/bin/time -v) and their ratios.
#
#   bench/score_vs_splink.sh            # 200k and 1M rows (several minutes)
#   SIZES="200000" bench/score_vs_splink.sh
#
# Env: SHARED (default ../shared), WORK (default /tmp/idem-score-bench), VENV / PYTHON (for
# setup.sh), CARGO_TARGET_DIR (default target-matching). Splink runs with --cluster-impl none so
# both sides do the same work: load, block, score, write every candidate pair.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared}
work=${WORK:-/tmp/idem-score-bench}
sizes=${SIZES:-"200000 1000000"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target-matching}
venv=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/idem-splink-venv}
settings=$shared/data/febrl/febrl_model.json
mkdir -p "$work"

VENV=$venv bash "$shared/bench/setup.sh" >/dev/null
py=$venv/bin/python
(cd "$root" && cargo build --quiet --release -p idem-matching --example score)
bin=$CARGO_TARGET_DIR/release/examples/score

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
  csv=$work/synth_$n.csv
  [ -s "$csv" ] || "$py" "$shared/bench/gen_synth.py" --rows "$n" --seed 1 --out "$csv" >/dev/null
  /usr/bin/time -v "$py" "$shared/bench/splink_peer.py" "$csv" "$settings" --out "$work/splink_$n" \
    --cluster-impl none >"$work/splink_$n.log" 2>"$work/splink_$n.time"
  /usr/bin/time -v "$bin" "$csv" "$settings" "$work/idem_$n.pairs.csv" 2>"$work/idem_$n.time"
  python3 - "$n" "$work" <<'PY'
import json, re, sys
n, work = sys.argv[1], sys.argv[2]
def parse(path):
    t = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", t).group(1).strip().split(":")
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
    cpu = float(re.search(r"User time \(seconds\): (.*)", t).group(1)) + float(re.search(r"System time \(seconds\): (.*)", t).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (.*)", t).group(1)) / 1024
    return secs, cpu, rss
s, i = parse(f"{work}/splink_{n}.time"), parse(f"{work}/idem_{n}.time")
summary = json.load(open(f"{work}/splink_{n}.summary.json"))
idem = json.loads(open(f"{work}/idem_{n}.time").read().split("\n\tCommand being timed")[0])
lines = lambda p: sum(1 for _ in open(p)) - 1
print(f"\n== {n} rows: candidate pairs splink={summary['candidate_pairs']} idem={idem['candidate_pairs']}, "
      f"pairs written splink={lines(f'{work}/splink_{n}.pairs.csv')} idem={lines(f'{work}/idem_{n}.pairs.csv')}")
print(f"{'':10}{'wall s':>10}{'cpu s':>10}{'peak RSS MiB':>14}")
print(f"{'splink':10}{s[0]:10.2f}{s[1]:10.2f}{s[2]:14.0f}   (predict phase {summary['timings_s']['predict']:.2f} s)")
print(f"{'idem':10}{i[0]:10.2f}{i[1]:10.2f}{i[2]:14.0f}   (scoring+write {idem['scoring_seconds']:.2f} s, load {idem['load_seconds']:.2f} s)")
print(f"{'ratio':10}{s[0]/i[0]:9.1f}x{s[1]/i[1]:9.1f}x{s[2]/i[2]:13.1f}x  (splink / idem)")
PY
done
