#!/usr/bin/env bash
# Benchmark every model binary on the cpu and io workloads with hyperfine.
#
#   scripts/bench.sh          # the seed's settings: N=10, 4 URLs, 100 ms delay, 50 KiB bodies
#                             # (cpu: 1 warm-up + 5 rounds; io: 1 + 3, its spread is ~1 ms)
#   scripts/bench.sh quick    # a smoke run in seconds: N=2, 2 URLs, 20 ms, 1 KiB, 2 rounds
#   scripts/bench.sh full python   # the same cells over the Python models of scripts/python/
#                             # (make bench-python), in their environment (scripts/python-env.sh),
#                             # then uvloop's claim: python-asyncio against python-uvloop on io
#                             # at N=1,000 (one URL of 100 ms, 1 KiB, per task; quick: N=20, 20 ms)
#
# Interleaved rounds: each workload is measured in rounds, every model run once per round
# (hyperfine -N --runs 1, the warm-up once per model before round 1), the rounds repeated
# RUNS times, so that a burst of load from the machine's neighbours lands on every model
# rather than on one. A model that fails in a round is failed for the cell and not run
# again. `benchkit collect` merges the rounds of a cell (its runs' statistics) and takes
# the speedup over sync as the median of the per-round ratios.
#
# Each run writes to its own folder, results/runs/<UTC time>-<tag>-<pid>/, so no earlier
# run is ever overwritten. A reference run, full mode with the seed's settings, then
# copies its cpu.csv, io.csv, summary.csv (and mixed.csv) and bench-settings.txt to
# results/ and writes results/REPORT.md and the README's findings (a python run: to
# results/python-cpu.csv, python-io.csv, python-summary.csv and python-bench-settings.txt,
# and the uvloop cells, measured into the run folder's uvloop/, to
# results/python-uvloop.csv). Any other run, a quick one or a full one with MODELS, N,
# IO_URLS, RUNS or WARMUP changed (tag `partial`), leaves results/ and the README alone
# and writes its REPORT.md into its run folder; PROMOTE=1 makes a changed full run the
# reference all the same. A reference run measures committed code: from a checkout with
# uncommitted changes it is refused before anything runs, unless ALLOW_DIRTY=1 (then its
# settings say git_dirty=yes).
# Environment: RESULTS_DIR (default results), RUNS, WARMUP, N to override the mode's values;
# IO_URLS="https://a/ https://b/" to download real URLs instead of the fixture server's;
# MODELS="sync threads" to measure only these (names in the release folder, or paths);
# PROMOTE=1, ALLOW_DIRTY=1 as above.
# Every setting is checked before anything is built. One bench (or scale sweep) runs at a
# time per target folder: a second one says which holds the lock, and exits 1.
# The binaries are the ones cargo builds: target/release, or CARGO_TARGET_DIR's release/.
# Exit status: 0 if every cell was measured, 1 if any model failed (its row says why) or the
# run could not go on (one line says why), 2 for a bad setting, 130 on Ctrl-C or SIGTERM.
# Started in the background by a script (`scripts/bench.sh &`), it starts with SIGINT
# ignored and keeps it ignored for the whole run, fixture server included: SIGTERM stops
# it then (scripts/lib.sh, start_server).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/bench.sh [full|quick] [rust|python]"
mode=${1:-full}
case "$mode" in
  full)  n=10; runs=5; io_runs=3; warmup=1; delay=100; size=51200; urls=4; uvloop_n=1000 ;;
  quick) n=2;  runs=2; io_runs=2; warmup=0; delay=20;  size=1024;  urls=2; uvloop_n=20 ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
set_name=${2:-rust}
case "$set_name" in
  rust) prefix="" ;;
  python) prefix="python-" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
defaults="$n $runs $io_runs $warmup"
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
read_models
model_names=("${model_list[@]}")
# A python run measures the six Python models of scripts/python/; MODELS is for Rust runs.
if [ "$set_name" = python ] && [ "${#model_names[@]}" -gt 0 ]; then
  echo "$script: error: MODELS applies to Rust runs, not to a python run" >&2; exit 2
fi
# A reference run writes results/ (and the README): full mode with the seed's settings, or
# any full run with PROMOTE=1. Any other run writes only its run folder.
case "${PROMOTE:-}" in
  ""|0|1) ;;
  *) echo "$script: error: PROMOTE must be 1 or 0, not '$PROMOTE'" >&2; exit 2 ;;
esac
changed=()
[ -z "${MODELS:-}" ] || changed+=(MODELS)
[ -z "${IO_URLS:-}" ] || changed+=(IO_URLS)
read -r d_n d_runs d_io_runs d_warmup <<<"$defaults"
[ "$n" = "$d_n" ] || changed+=(N)
[ "$runs $io_runs" = "$d_runs $d_io_runs" ] || changed+=(RUNS)
[ "$warmup" = "$d_warmup" ] || changed+=(WARMUP)
changed_list=$(IFS=,; echo "${changed[*]:-none}")
reference=no
if [ "$mode" = full ] && { [ "${#changed[@]}" -eq 0 ] || [ "${PROMOTE:-0}" = 1 ]; }; then
  reference=yes
elif [ "${PROMOTE:-0}" = 1 ]; then
  echo "$script: error: PROMOTE=1 applies to full runs; a quick run never becomes the reference" >&2; exit 2
fi
# The run folder's tag: `full` for the seed's settings, `partial` for changed ones (the
# report's run-to-run table reads only <time>-full-<pid> folders, which hold Rust runs at
# the seed's settings), `quick`; a python run's is python_<tag>.
tag=$mode
[ "$mode" != full ] || [ "${#changed[@]}" -eq 0 ] || tag=partial
[ "$reference" = no ] || check_clean "$results/${prefix}*.csv"
# A python run needs its environment: created here, once, after the settings are checked
# and before anything is built; without python3 or its venv module this stops at once with
# one line saying what to install.
if [ "$set_name" = python ]; then python=$(scripts/python-env.sh); fi
find_target_dir
take_lock "$mode"
build_release
ensure_hyperfine
models=()
new_run_dir "$results" "${prefix//-/_}$tag"
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
# The run's settings, under the name results/ gives a Rust run's, so that the run folder
# is a results folder `benchkit report` reads as it is (its cells, Rust or Python, in its
# summary.csv): one `key=value` per token (io_urls last, once per URL), then the
# provenance (lib.sh's describe_env).
settings=$run_dir/bench-settings.txt
url_tokens=io_urls=fixture
if [ "${#io_urls[@]}" -gt 0 ]; then
  url_tokens=$(printf 'io_urls=%s ' "${io_urls[@]}")
  url_tokens=${url_tokens% }
fi
{
  echo "mode=$mode n=$n cpu_runs=$runs io_runs=$io_runs warmup=$warmup runs_per_round=1 delay_ms=$delay body_bytes=$size urls=$urls reference=$reference changed=$changed_list $url_tokens"
  echo "binaries=$bin"
  echo "hyperfine=$("$hyperfine" --version | sed 's/^hyperfine //')"
  describe_env
  if [ "$set_name" = python ]; then
    describe_python "$python"
    echo "uvloop_cell: one URL per task, $delay ms delay, 1024 bytes; $warmup warm-up + $io_runs rounds"
  fi
} >"$settings"
note_dirty

# Ctrl-C mid-workload: drop the round under way, every cell of it (a round measured in
# part would weigh its models unevenly), turn the whole rounds measured so far into CSVs,
# then leave.
round_under_way=()
save_partial() {
  if [ "${#round_under_way[@]}" -gt 0 ]; then
    local dir=${round_under_way[0]} workload=${round_under_way[1]} round=${round_under_way[2]}
    rm -f "$dir/json/round-$round/$workload"-*.json "$dir/summaries/round-$round/$workload"-*.jsonl
  fi
  local dir
  for dir in "$run_dir" "$run_dir/uvloop"; do
    if compgen -G "$dir/json/round-*/*.json" >/dev/null; then "$bin/benchkit" collect "$dir"; fi
  done
}

# measure DIR WORKLOAD MODEL ROUND WARMUP ARGS: one run of `MODEL ARGS`, timed by hyperfine
# after WARMUP warm-up runs, into DIR/json/round-ROUND/WORKLOAD-MODEL.json and
# DIR/summaries/round-ROUND/WORKLOAD-MODEL.jsonl; the model's stderr, if it wrote any, in
# DIR/stderr/round-ROUND/WORKLOAD-MODEL.txt. A run that fails is written to DIR/failed.tsv
# with the model's own last line and counted, and fails the model's cell: $cell_ok says
# which (a status would be tested in an `if`, where bash ignores `set -e` in the whole
# function, and a full disk would then go unnoticed).
failures=0
measure() {
  local dir=$1 workload=$2 model=$3 round=$4 warm=$5 args=$6 cell=$2-$3
  local json=$dir/json/round-$round/$cell.json err=$dir/stderr/round-$round/$cell.txt
  mkdir -p "$dir/json/round-$round" "$dir/summaries/round-$round" "$dir/stderr/round-$round"
  server_alive || exit 1
  # -N runs the command without a shell (it splits the words itself: paths are quoted
  # with %q, for a target or results folder with spaces). --output inherit hands the
  # model hyperfine's stderr, a file here, so a failing model's own line is kept from
  # this one run; -i lets hyperfine record the exit status in its JSON (128 + S for a
  # model killed by signal S) instead of stopping with "terminated by a signal". Every
  # run appends its summary line (time, peak memory of the whole model, checksum).
  local status=0
  "$hyperfine" -N -i --style basic --output inherit --warmup "$warm" --runs 1 \
    --export-json "$json" --command-name "$model" \
    "$(printf %q "${exe[$model]}")${script_of[$model]:+ ${script_of[$model]}} $args --summary-file $(printf %q "$dir/summaries/round-$round/$cell.jsonl")" \
    >/dev/null 2>"$err" || status=$?
  local code="" median=""
  if [ "$status" -eq 0 ]; then
    local flat
    flat=$(tr -d ' \n\t' <"$json")
    code=$(sed -n 's/.*"exit_codes":\[\([0-9]*\)\].*/\1/p' <<<"$flat")
    median=$(sed -n 's/.*"median":\([0-9.eE+-]*\).*/\1/p' <<<"$flat")
  fi
  # The model's own stderr: the file up to hyperfine's warnings (a line holding one space,
  # then "  Warning: ..."), which are dropped.
  local own
  own=$(sed 's/\x1b\[[0-9;]*m//g; /^ $/,$d' "$err")
  if [ -n "$own" ]; then printf '%s\n' "$own" >"$err"; else rm -f "$err"; fi
  if [ "$status" -eq 0 ] && [ "$code" = 0 ]; then
    printf '   %-18s %.3f s\n' "$model" "${median:-0}" >&2
    cell_ok=yes
    return
  fi
  # Its last line, then the signal by name (hyperfine only records 128 + S). If hyperfine
  # itself failed (a command it cannot start), hyperfine's error line is the last.
  local reason sig
  reason=$(printf '%s\n' "$own" | grep -v '^\s*$' | tail -n 1 | tr '\t' ' ') || true
  if [ -n "$code" ] && [ "$code" -gt 128 ] && sig=$(kill -l "$((code - 128))" 2>/dev/null); then
    reason="${reason:+$reason; }killed by SIG$sig"
  fi
  [ -n "$reason" ] || reason="exited with status ${code:-unknown}, without a word on stderr"
  # A server that died under the cell is the run's failure, not the model's: stop here.
  server_alive || exit 1
  echo "   FAILED: $model: $reason" >&2
  printf '%s\t%s\t%s\n' "$workload" "$model" "$reason" >>"$dir/failed.tsv"
  rm -f "$json"
  failures=$((failures + 1))
  cell_ok=no
}

# rounds DIR WORKLOAD ROUNDS ARGS MODEL...: ROUNDS rounds of WORKLOAD, each running every
# model that has not failed once, in the order given, then the cells collected.
rounds() {
  local dir=$1 workload=$2 count=$3 args=$4 round model i
  shift 4
  local -a left=("$@")
  for round in $(seq "$count"); do
    round_under_way=("$dir" "$workload" "$round")
    local warm=0
    [ "$round" != 1 ] || warm=$warmup
    echo "== $workload round $round/$count: ${#left[@]} models, one run each after $warm warm-up" >&2
    local -a next=()
    for model in "${left[@]}"; do
      measure "$dir" "$workload" "$model" "$round" "$warm" "$args"
      [ "$cell_ok" = no ] || next+=("$model")
    done
    round_under_way=()
    left=("${next[@]}")
    [ "${#left[@]}" -gt 0 ] || break
  done
  find "$dir/stderr" -type d -empty -delete
  # Collect after each workload, so an interruption later loses nothing already measured.
  "$bin/benchkit" collect "$dir"
}

rounds "$run_dir" cpu "$runs" "cpu --n $n" "${models[@]}"
rounds "$run_dir" io "$io_runs" "io --n $n$url_args" "${models[@]}"

# After the seed's cells: a python run measures uvloop's claim, "at least 2x better
# performance" than plain asyncio: python-asyncio against python-uvloop on io at N=1,000
# (quick: 20), one URL of the fixture server per task, so that the loop's own work (a
# thousand connections at once) is what differs; its own folder, uvloop/, keeps it out of
# the seed's summary.csv. A Rust run measures what blocks a scheduler: the mixed workload
# (requests beside CPU jobs) for every model and variant, one run per cell, into
# mixed.csv; a reference run copies it to results/. About 65 s in full mode (19 cells of a
# 3 s request stream), 12 s in quick mode.
if [ "$set_name" = python ]; then
  uvloop_dir=$run_dir/uvloop
  mkdir "$uvloop_dir" "$uvloop_dir/json" "$uvloop_dir/summaries"
  echo "== io n=$uvloop_n (uvloop's claim)" >&2
  rounds "$uvloop_dir" io "$io_runs" "io --n $uvloop_n --url http://$addr/delay/$delay/bytes/1024" python-asyncio python-uvloop
elif [ -n "${MODELS:-}" ]; then
  echo "== mixed: not run (MODELS picks the models of the seed's cells only)" >&2
else
  server_alive || exit 1
  mixed_mode=""
  [ "$mode" = full ] || mixed_mode="--quick"
  # Its stderr goes to the terminal as it comes, and to mixed.err for failed.tsv (a pipe,
  # so that tee has written it all when the pipeline ends; pipefail gives benchkit's status).
  if ! { "$bin/benchkit" mixed --server "$addr" --out "$run_dir" $mixed_mode 2>&1 >&3 | tee "$run_dir/mixed.err" >&2; } 3>&1; then
    # Its own one line (a dead server, a failed cell), into failed.tsv like any cell's.
    why=$(grep -v '^\s*$' "$run_dir/mixed.err" | tail -n 1 | tr '\t' ' ') || true
    printf 'mixed\t-\t%s\n' "${why:-benchkit mixed failed}" >>"$run_dir/failed.tsv"
    failures=$((failures + 1))
  fi
fi

# A run with a failed cell or step never replaces the reference: results/ keeps the last
# run whose every cell was measured, and this one's report goes to its run folder.
if [ "$reference" = yes ] && [ "$failures" -gt 0 ]; then
  reference=no
  echo "== $failures cell(s) or step(s) failed: results/ and the README left as they were; see $run_dir/failed.tsv" >&2
fi

if [ "$reference" = yes ]; then
  for csv in cpu io summary; do cp "$run_dir/$csv.csv" "$results/$prefix$csv.csv"; done
  if [ "$set_name" = python ]; then cp "$uvloop_dir/summary.csv" "$results/python-uvloop.csv"; fi
  if [ -f "$run_dir/mixed.csv" ]; then cp "$run_dir/mixed.csv" "$results"/; fi
  cp "$settings" "$results/${prefix}bench-settings.txt"
  echo "== results: $results/${prefix}cpu.csv ${prefix}io.csv ${prefix}summary.csv (and $run_dir)" >&2
  # The report needs the Rust run's summary.csv (a python run's first reference may come
  # before it).
  if [ -f "$results/summary.csv" ]; then
    report "$results"
  else
    echo "== no summary.csv yet: make bench writes it, then the report" >&2
  fi
else
  # The run folder is a results folder of its own: its report goes there.
  [ ! -f "$run_dir/summary.csv" ] || report "$run_dir"
  if [ "$failures" -gt 0 ]; then
    :
  elif [ "$mode" = full ]; then
    echo "== partial run ($changed_list changed): $results/*.csv, REPORT.md and the README left as they were (PROMOTE=1 writes them); this run's report: $run_dir/REPORT.md" >&2
  else
    echo "== results: $run_dir/summary.csv and $run_dir/REPORT.md" >&2
  fi
fi
[ "$failures" -eq 0 ] || { echo "== $failures cell(s) failed; see failed.tsv in $run_dir" >&2; exit 1; }
