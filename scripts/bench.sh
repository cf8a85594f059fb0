#!/usr/bin/env bash
# Benchmark every model binary on the cpu and io workloads with hyperfine.
#
#   scripts/bench.sh          # the seed's settings: N=10, 4 URLs, 100 ms delay, 50 KiB bodies
#                             # (cpu: 1 warm-up + 5 runs; io: 1 + 3, its spread is ~1 ms)
#   scripts/bench.sh quick    # a smoke run in seconds: N=2, 2 URLs, 20 ms, 1 KiB, 2 runs
#
# Each run writes to its own folder, results/runs/<UTC time>-<mode>/, so no earlier run is
# ever overwritten; a full run then copies its cpu.csv, io.csv and summary.csv to results/.
# Environment: RESULTS_DIR (default results), RUNS, WARMUP, N to override the mode's values;
# IO_URLS="https://a/ https://b/" to download real URLs instead of the fixture server's.
# Exit status: 0 if every cell was measured, 1 if any model failed (its row says why).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case "$mode" in
  full)  n=10; runs=5; io_runs=3; warmup=1; delay=100; size=51200; urls=4 ;;
  quick) n=2;  runs=2; io_runs=2; warmup=0; delay=20;  size=1024;  urls=2 ;;
  *) echo "usage: scripts/bench.sh [full|quick]" >&2; exit 2 ;;
esac
n=${N:-$n}; runs=${RUNS:-$runs}; io_runs=${RUNS:-$io_runs}; warmup=${WARMUP:-$warmup}
results=${RESULTS_DIR:-results}

source scripts/lib.sh
build_release
ensure_hyperfine
new_run_dir "$results" "$mode"
mkdir "$run_dir/json" "$run_dir/summaries"
start_server

url_args=""
if [ -n "${IO_URLS:-}" ]; then
  for u in $IO_URLS; do url_args="$url_args --url $u"; done
else
  for _ in $(seq "$urls"); do url_args="$url_args --url http://$addr/delay/$delay/bytes/$size"; done
fi
mapfile -t models < <("$bin/benchkit" models)
echo "== models: ${models[*]}" >&2
echo "== run folder: $run_dir" >&2
cat >"$run_dir/settings.txt" <<SETTINGS
mode=$mode n=$n cpu_runs=$runs io_runs=$io_runs warmup=$warmup delay_ms=$delay body_bytes=$size urls=$urls io_urls=${IO_URLS:-fixture}
hyperfine=$("$hyperfine" --version)
SETTINGS
describe_env >>"$run_dir/settings.txt"

# Ctrl-C mid-workload: drop the interrupted cell (hyperfine leaves its JSON empty), turn
# the cells measured so far into CSVs, then leave.
cell=""
save_partial() {
  [ -z "$cell" ] || rm -f "$run_dir/json/$cell.json"
  if ls "$run_dir"/json/*.json >/dev/null 2>&1; then "$bin/benchkit" collect "$run_dir"; fi
}

failures=0
for workload in cpu io; do
  case "$workload" in
    cpu) args="cpu --n $n"; cell_runs=$runs ;;
    io)  args="io --n $n$url_args"; cell_runs=$io_runs ;;
  esac
  i=0
  for model in "${models[@]}"; do
    i=$((i + 1))
    echo "== $workload [$i/${#models[@]}] $model: $warmup warm-up + $cell_runs runs" >&2
    cell="$workload-$model"
    server_alive || exit 1
    # One hyperfine per cell: a failing model loses only its own cell. -N runs the
    # command without a shell; every run appends its summary line (time, peak memory of
    # the whole model, checksum) to the cell's .jsonl.
    if ! "$hyperfine" -N --style basic --warmup "$warmup" --runs "$cell_runs" \
         --export-json "$run_dir/json/$cell.json" --command-name "$model" \
         "$bin/$model $args --summary-file $run_dir/summaries/$cell.jsonl" \
         >&2 2>"$run_dir/$cell.err"; then
      # hyperfine hides the command's own stderr; run it once more for its one-line error.
      reason=$("$bin/$model" $args 2>&1 >/dev/null | tail -n 1 | tr '\t' ' ') || true
      [ -n "$reason" ] || reason=$(grep -v '^\s*$' "$run_dir/$cell.err" | tail -n 1 | tr '\t' ' ')
      printf '%s\t%s\t%s\n' "$workload" "$model" "$reason" >>"$run_dir/failed.tsv"
      rm -f "$run_dir/json/$cell.json"
      echo "   FAILED: $reason" >&2
      failures=$((failures + 1))
    fi
    [ -s "$run_dir/$cell.err" ] || rm -f "$run_dir/$cell.err"
  done
  # Collect after each workload, so an interruption later loses nothing already measured.
  "$bin/benchkit" collect "$run_dir"
done

# What blocks a scheduler: the mixed workload (requests beside CPU jobs) for every model
# and variant, one run per cell, into mixed.csv; a full run copies it to results/. About
# 65 s in full mode (19 cells of a 3 s request stream), 12 s in quick mode.
cell=""
server_alive || exit 1
mixed_mode=""
[ "$mode" = full ] || mixed_mode="--quick"
"$bin/benchkit" mixed --server "$addr" --out "$run_dir" $mixed_mode || failures=$((failures + 1))
if [ "$mode" = full ] && [ -f "$run_dir/mixed.csv" ]; then cp "$run_dir/mixed.csv" "$results"/; fi

if [ "$mode" = full ]; then
  cp "$run_dir"/cpu.csv "$run_dir"/io.csv "$run_dir"/summary.csv "$results"/
  cp "$run_dir"/settings.txt "$results"/bench-settings.txt
  echo "== results: $results/cpu.csv $results/io.csv $results/summary.csv (and $run_dir)" >&2
  report "$results"
else
  echo "== results: $run_dir/summary.csv" >&2
fi
[ "$failures" -eq 0 ] || { echo "== $failures cell(s) failed; see failed.tsv in $run_dir" >&2; exit 1; }
