#!/usr/bin/env bash
# Benchmark every model binary on the cpu and io workloads with hyperfine.
#
#   scripts/bench.sh          # the seed's settings: N=10, 4 URLs, 100 ms delay, 50 KiB bodies
#                             # (cpu: 1 warm-up + 5 runs; io: 1 + 3, its spread is ~1 ms)
#   scripts/bench.sh quick    # a smoke run in seconds: N=2, 2 URLs, 20 ms, 1 KiB, 2 runs
#   scripts/bench.sh full python   # the same cells over the Python models of scripts/python/
#                             # (make bench-python), in their environment (scripts/python-env.sh),
#                             # then uvloop's claim: python-asyncio against python-uvloop on io
#                             # at N=1,000 (one URL of 100 ms, 1 KiB, per task; quick: N=20, 20 ms)
#
# Each run writes to its own folder, results/runs/<UTC time>-<mode>/, so no earlier run is
# ever overwritten; a full run then copies its cpu.csv, io.csv and summary.csv to results/
# (a python run: to results/python-cpu.csv, python-io.csv and python-summary.csv, and the
# uvloop cells, measured into the run folder's uvloop/, to results/python-uvloop.csv).
# Environment: RESULTS_DIR (default results), RUNS, WARMUP, N to override the mode's values;
# IO_URLS="https://a/ https://b/" to download real URLs instead of the fixture server's;
# MODELS="sync threads" to measure only these (names in the release folder, or paths).
# Every setting is checked before anything is built. One bench (or scale sweep) runs at a
# time per target folder: a second one says which holds the lock, and exits 1.
# The binaries are the ones cargo builds: target/release, or CARGO_TARGET_DIR's release/.
# Exit status: 0 if every cell was measured, 1 if any model failed (its row says why) or the
# run could not go on (one line says why), 2 for a bad setting, 130 on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case "$mode" in
  full)  n=10; runs=5; io_runs=3; warmup=1; delay=100; size=51200; urls=4; uvloop_n=1000 ;;
  quick) n=2;  runs=2; io_runs=2; warmup=0; delay=20;  size=1024;  urls=2; uvloop_n=20 ;;
  *) echo "usage: scripts/bench.sh [full|quick] [rust|python]" >&2; exit 2 ;;
esac
set_name=${2:-rust}
case "$set_name" in
  rust) prefix="" ;;
  python) prefix="python-" ;;
  *) echo "usage: scripts/bench.sh [full|quick] [rust|python]" >&2; exit 2 ;;
esac
n=${N:-$n}; runs=${RUNS:-$runs}; io_runs=${RUNS:-$io_runs}; warmup=${WARMUP:-$warmup}
results=${RESULTS_DIR:-results}


source scripts/lib.sh
# Settings, checked before anything is built: RUNS=0 would make hyperfine run forever, and
# a value a model refuses would fail every cell. N's bound is the models' cpu limit
# (MAX_CPU_N in crates/workload/src/cli.rs; io allows more), as N applies to both.
check_int N "$n" 1 1000 "the models' cpu limit"
check_int RUNS "$runs" 1 1000
check_int WARMUP "$warmup" 0 100
io_urls=()
if [ -n "${IO_URLS:-}" ]; then
  read -r -a io_urls <<<"$IO_URLS"
  # At most the models' 100 URLs (MAX_URLS); each http(s)://host[...], without quotes or
  # backslashes, which hyperfine's command line could not carry.
  [ "${#io_urls[@]}" -ge 1 ] && [ "${#io_urls[@]}" -le 100 ] || {
    echo "$script: error: IO_URLS must hold 1 to 100 URLs separated by spaces, not ${#io_urls[@]}" >&2; exit 2; }
  for u in "${io_urls[@]}"; do
    [[ $u =~ ^https?://[^/?#]+ && $u != *[\'\"\\]* ]] || {
      echo "$script: error: IO_URLS: '$u' is not an http:// or https:// URL" >&2; exit 2; }
  done
fi
model_names=()
if [ -n "${MODELS:-}" ]; then
  read -r -a model_names <<<"$MODELS"
  for i in "${!model_names[@]}"; do
    m=${model_names[$i]}
    if [[ $m == */* ]]; then
      # A relative path is the caller's: this script has moved to the repository root.
      [[ $m == /* ]] || m=$OLDPWD/$m
      model_names[$i]=$m
      [ -f "$m" ] && [ -x "$m" ] || { echo "$script: error: MODELS: $m is not an executable file" >&2; exit 2; }
    elif ! [[ $m =~ ^[A-Za-z0-9_.-]+$ ]]; then
      echo "$script: error: MODELS: '$m' is not a model name" >&2; exit 2
    fi
  done
fi
# A python run measures the six Python models of scripts/python/; MODELS is for Rust runs.
if [ "$set_name" = python ] && [ "${#model_names[@]}" -gt 0 ]; then
  echo "$script: error: MODELS applies to Rust runs, not to a python run" >&2; exit 2
fi
# A python run needs its environment: created here, once, after the settings are checked
# and before anything is built; without python3 or its venv module this stops at once with
# one line saying what to install.
if [ "$set_name" = python ]; then python=$(scripts/python-env.sh); fi
find_target_dir
take_lock "$mode"
build_release
ensure_hyperfine
models=()
# A python run's folder is <time>-python_<mode>-<pid>: the report's run-to-run table reads
# only <time>-full-<pid> folders, which hold Rust runs.
new_run_dir "$results" "${prefix//-/_}$mode"
mkdir "$run_dir/json" "$run_dir/summaries"
start_server

url_args=""
if [ "${#io_urls[@]}" -gt 0 ]; then
  for u in "${io_urls[@]}"; do url_args="$url_args --url $u"; done
else
  for _ in $(seq "$urls"); do url_args="$url_args --url http://$addr/delay/$delay/bytes/$size"; done
fi
# Every model benchkit finds, or those MODELS names: a name is a binary of the release
# folder, a path (with a slash) any executable, measured under its file name. A model runs
# as ${exe[name]} followed by ${script_of[name]} when it has one (a Python model's program).
declare -A exe script_of
if [ "$set_name" = python ]; then
  for name in python-sync python-threads python-procs python-gevent python-asyncio python-uvloop; do
    exe[$name]=$python
    script_of[$name]=scripts/python/${name//-/_}.py
    models+=("$name")
  done
elif [ "${#model_names[@]}" -eq 0 ]; then
  mapfile -t model_names < <("$bin/benchkit" models)
  [ "${#model_names[@]}" -gt 0 ] || die "benchkit found no models"
fi
for m in "${model_names[@]}"; do
  name=$(basename "$m")
  if [[ $m == */* ]]; then exe[$name]=$m; else exe[$name]=$bin/$m; fi
  [ -f "${exe[$name]}" ] && [ -x "${exe[$name]}" ] || die "MODELS: no model $m in $bin"
  models+=("$name")
done
echo "== models: ${models[*]}" >&2
echo "== run folder: $run_dir" >&2
cat >"$run_dir/settings.txt" <<SETTINGS
mode=$mode n=$n cpu_runs=$runs io_runs=$io_runs warmup=$warmup delay_ms=$delay body_bytes=$size urls=$urls io_urls=${IO_URLS:-fixture}
binaries=$bin
hyperfine=$("$hyperfine" --version)
SETTINGS
describe_env >>"$run_dir/settings.txt"
if [ "$set_name" = python ]; then
  echo "python=$("$python" --version 2>&1) packages: $(grep -E '^(gevent|aiohttp|uvloop)==' scripts/python/requirements.txt | tr '\n' ' ')" >>"$run_dir/settings.txt"
  echo "uvloop_cell: one URL per task, $delay ms delay, 1024 bytes; $warmup warm-up + $io_runs runs" >>"$run_dir/settings.txt"
fi

# Ctrl-C mid-workload: drop the interrupted cell (hyperfine creates its JSON empty and
# writes it once the cell is measured: a cell whose JSON is written was measured whole,
# even if the interruption came before the loop moved on), turn the cells measured so far
# into CSVs, then leave.
cell_json=""
save_partial() {
  [ -z "$cell_json" ] || [ -s "$cell_json" ] || rm -f "$cell_json"
  if ls "$run_dir"/json/*.json >/dev/null 2>&1; then "$bin/benchkit" collect "$run_dir"; fi
}

# measure DIR WORKLOAD MODEL RUNS ARGS: one cell, `MODEL ARGS` run by hyperfine $warmup +
# RUNS times, into DIR/json/WORKLOAD-MODEL.json and DIR/summaries/WORKLOAD-MODEL.jsonl. A
# cell that fails is written to DIR/failed.tsv with the model's own last line and counted.
failures=0
measure() {
  local dir=$1 workload=$2 model=$3 cell_runs=$4 args=$5 cell=$2-$3
  cell_json=$dir/json/$cell.json
  server_alive || exit 1
  # One hyperfine per cell: a failing model loses only its own cell. -N runs the
  # command without a shell (it splits the words itself: paths are quoted with %q, for
  # a target or results folder with spaces); every run appends its summary line (time,
  # peak memory of the whole model, checksum) to the cell's .jsonl.
  if ! "$hyperfine" -N --style basic --warmup "$warmup" --runs "$cell_runs" \
       --export-json "$cell_json" --command-name "$model" \
       "$(printf %q "${exe[$model]}")${script_of[$model]:+ ${script_of[$model]}} $args --summary-file $(printf %q "$dir/summaries/$cell.jsonl")" \
       >&2 2>"$dir/$cell.err"; then
    # hyperfine hides the command's own stderr; run it once more for its one-line error.
    # hyperfine only says "terminated by a signal": name the signal (bash reports a
    # command killed by signal S as 128+S).
    local why reason status sig
    why=$("${exe[$model]}" ${script_of[$model]:+"${script_of[$model]}"} $args 2>&1 >/dev/null) && status=0 || status=$?
    reason=$(printf '%s\n' "$why" | grep -v '^\s*$' | tail -n 1 | tr '\t' ' ') || true
    if [ "$status" -gt 128 ] && sig=$(kill -l "$status" 2>/dev/null); then
      reason="${reason:+$reason; }killed by SIG$sig"
    fi
    [ -n "$reason" ] || reason=$(grep -v '^\s*$' "$dir/$cell.err" 2>/dev/null | tail -n 1 | tr '\t' ' ') || true
    [ -n "$reason" ] || reason="hyperfine failed, its message lost; run again, the model exited $status"
    echo "   FAILED: $reason" >&2
    printf '%s\t%s\t%s\n' "$workload" "$model" "$reason" >>"$dir/failed.tsv"
    rm -f "$cell_json"
    failures=$((failures + 1))
  fi
  [ -s "$dir/$cell.err" ] || rm -f "$dir/$cell.err"
}

for workload in cpu io; do
  case "$workload" in
    cpu) args="cpu --n $n"; cell_runs=$runs ;;
    io)  args="io --n $n$url_args"; cell_runs=$io_runs ;;
  esac
  i=0
  for model in "${models[@]}"; do
    i=$((i + 1))
    echo "== $workload [$i/${#models[@]}] $model: $warmup warm-up + $cell_runs runs" >&2
    measure "$run_dir" "$workload" "$model" "$cell_runs" "$args"
  done
  # Collect after each workload, so an interruption later loses nothing already measured.
  "$bin/benchkit" collect "$run_dir"
done

# After the seed's cells: a python run measures uvloop's claim, "at least 2x better
# performance" than plain asyncio: python-asyncio against python-uvloop on io at N=1,000
# (quick: 20), one URL of the fixture server per task, so that the loop's own work (a
# thousand connections at once) is what differs; its own folder, uvloop/, keeps it out of
# the seed's summary.csv. A Rust run measures what blocks a scheduler: the mixed workload
# (requests beside CPU jobs) for every model and variant, one run per cell, into
# mixed.csv; a full run copies it to results/. About 65 s in full mode (19 cells of a 3 s
# request stream), 12 s in quick mode.
if [ "$set_name" = python ]; then
  uvloop_dir=$run_dir/uvloop
  mkdir "$uvloop_dir" "$uvloop_dir/json" "$uvloop_dir/summaries"
  for model in python-asyncio python-uvloop; do
    echo "== io n=$uvloop_n (uvloop's claim) $model: $warmup warm-up + $io_runs runs" >&2
    measure "$uvloop_dir" io "$model" "$io_runs" "io --n $uvloop_n --url http://$addr/delay/$delay/bytes/1024"
  done
  "$bin/benchkit" collect "$uvloop_dir"
elif [ -n "${MODELS:-}" ]; then
  echo "== mixed: not run (MODELS picks the models of the seed's cells only)" >&2
else
  cell=""
  server_alive || exit 1
  mixed_mode=""
  [ "$mode" = full ] || mixed_mode="--quick"
  "$bin/benchkit" mixed --server "$addr" --out "$run_dir" $mixed_mode || failures=$((failures + 1))
  if [ "$mode" = full ] && [ -f "$run_dir/mixed.csv" ]; then cp "$run_dir/mixed.csv" "$results"/; fi
fi

if [ "$mode" = full ]; then
  for csv in cpu io summary; do cp "$run_dir/$csv.csv" "$results/$prefix$csv.csv"; done
  if [ "$set_name" = python ]; then cp "$uvloop_dir/summary.csv" "$results/python-uvloop.csv"; fi
  cp "$run_dir"/settings.txt "$results/${prefix}bench-settings.txt"
  echo "== results: $results/${prefix}cpu.csv ${prefix}io.csv ${prefix}summary.csv (and $run_dir)" >&2
  report "$results"
else
  echo "== results: $run_dir/summary.csv" >&2
fi
[ "$failures" -eq 0 ] || { echo "== $failures cell(s) failed; see failed.tsv in $run_dir" >&2; exit 1; }
