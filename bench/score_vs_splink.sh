#!/usr/bin/env bash
# Scores generated FEBRL-like data sets with idem-matching (native, release build of the `score`
# example, the same `score_csv` code path as `idem score`) and with the reference Splink 4.0.9 +
# DuckDB harness, REPEAT times each, alternating, and prints the medians of wall time, CPU time
# and peak RSS of both and their ratios, twice:
#   whole run     : /usr/bin/time -v of each process (load CSV, block, score, write every pair);
#   predict phase : Splink's own timing of linker.inference.predict() (TF tables, blocking,
#                   scoring into a DuckDB table; no CSV, no output file) against idem's
#                   tf + index + scoring phase (which also formats and writes the pairs CSV, so
#                   it does strictly more than Splink's predict).
# CPU time counts all threads (DuckDB and rayon both use every core). The machine is shared:
# the load average is printed before each run; compare CPU ratios when it is high.
#
#   bench/score_vs_splink.sh            # 200k and 1M rows, 3 runs each (several minutes)
#   SIZES="1000000" REPEAT=5 bench/score_vs_splink.sh
#
# Env: SHARED (default ../shared), WORK (default /tmp/idem-score-bench), VENV / PYTHON (for
# setup.sh), CARGO_TARGET_DIR (default target-matching), REPEAT (default 3). Splink runs with
# --cluster-impl none so both sides do the same work: load, block, score, write every pair.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared}
work=${WORK:-/tmp/idem-score-bench}
sizes=${SIZES:-"200000 1000000"}
repeat=${REPEAT:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target-matching}
venv=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/idem-splink-venv}
settings=$shared/data/febrl/febrl_model.json
mkdir -p "$work"

VENV=$venv bash "$shared/bench/setup.sh" >/dev/null
py=$venv/bin/python
(cd "$root" && cargo build --quiet --release -p idem-matching --example score)
bin=$CARGO_TARGET_DIR/release/examples/score

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
for n in $sizes; do
  csv=$work/synth_$n.csv
  [ -s "$csv" ] || "$py" "$shared/bench/gen_synth.py" --rows "$n" --seed 1 --out "$csv" >/dev/null
  echo "== $n rows"
  echo "   splink: /usr/bin/time -v $py $shared/bench/splink_peer.py $csv $settings --out $work/splink_${n}_R --cluster-impl none"
  echo "   idem:   /usr/bin/time -v $bin $csv $settings $work/idem_${n}_R.pairs.csv"
  for r in $(seq 1 "$repeat"); do
    echo "   run $r: load average before splink $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -v "$py" "$shared/bench/splink_peer.py" "$csv" "$settings" --out "$work/splink_${n}_$r" \
      --cluster-impl none >"$work/splink_${n}_$r.log" 2>"$work/splink_${n}_$r.time"
    echo "   run $r: load average before idem   $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -v "$bin" "$csv" "$settings" "$work/idem_${n}_$r.pairs.csv" 2>"$work/idem_${n}_$r.time"
  done
  python3 - "$n" "$work" "$repeat" <<'PY'
import json, re, statistics, sys
n, work, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
def parse(path):
    t = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", t).group(1).strip().split(":")
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
    cpu = float(re.search(r"User time \(seconds\): (.*)", t).group(1)) + float(re.search(r"System time \(seconds\): (.*)", t).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (.*)", t).group(1)) / 1024
    return secs, cpu, rss
runs = []
for r in range(1, repeat + 1):
    s, i = parse(f"{work}/splink_{n}_{r}.time"), parse(f"{work}/idem_{n}_{r}.time")
    summary = json.load(open(f"{work}/splink_{n}_{r}.summary.json"))
    idem = json.loads(open(f"{work}/idem_{n}_{r}.time").read().split("\n\tCommand being timed")[0])
    runs.append(dict(
        s_wall=s[0], s_cpu=s[1], s_rss=s[2], i_wall=i[0], i_cpu=i[1], i_rss=i[2],
        s_pwall=summary["timings_s"]["predict"], s_pcpu=summary["cpu_s"]["predict"],
        i_pwall=idem["predict_seconds"], i_pcpu=idem["predict_cpu_seconds"],
        i_lwall=idem["load_seconds"], i_lcpu=idem["load_cpu_seconds"],
        s_pairs=summary["candidate_pairs"], i_pairs=idem["candidate_pairs"]))
    x = runs[-1]
    print(f"   run {r}: splink wall {x['s_wall']:.2f} cpu {x['s_cpu']:.2f} predict {x['s_pwall']:.2f}/{x['s_pcpu']:.2f} | "
          f"idem wall {x['i_wall']:.2f} cpu {x['i_cpu']:.2f} predict {x['i_pwall']:.2f}/{x['i_pcpu']:.2f} load {x['i_lwall']:.2f}/{x['i_lcpu']:.2f}")
med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
lines = lambda p: sum(1 for _ in open(p)) - 1
print(f"   candidate pairs splink={med['s_pairs']:.0f} idem={med['i_pairs']:.0f}; pairs written (last run) "
      f"splink={lines(f'{work}/splink_{n}_{repeat}.pairs.csv')} idem={lines(f'{work}/idem_{n}_{repeat}.pairs.csv')}")
print(f"   medians of {repeat} runs      {'wall s':>8}{'cpu s':>8}{'peak RSS MiB':>14}")
print(f"   splink whole run      {med['s_wall']:8.2f}{med['s_cpu']:8.2f}{med['s_rss']:14.0f}")
print(f"   idem   whole run      {med['i_wall']:8.2f}{med['i_cpu']:8.2f}{med['i_rss']:14.0f}")
print(f"   ratio  whole run      {med['s_wall']/med['i_wall']:7.1f}x{med['s_cpu']/med['i_cpu']:7.1f}x{med['s_rss']/med['i_rss']:13.1f}x")
print(f"   splink predict()      {med['s_pwall']:8.2f}{med['s_pcpu']:8.2f}")
print(f"   idem   tf+index+score {med['i_pwall']:8.2f}{med['i_pcpu']:8.2f}   (+ writing the CSV)")
print(f"   ratio  predict phase  {med['s_pwall']/med['i_pwall']:7.1f}x{med['s_pcpu']/med['i_pcpu']:7.1f}x")
print(f"   ratio  splink predict() / idem whole run {med['s_pwall']/med['i_wall']:.1f}x wall, {med['s_pcpu']/med['i_cpu']:.1f}x cpu")
PY
done
