#!/usr/bin/env bash
# Every model as a server under open-loop load (issue 16): for each scenario (hello, work,
# backend, connections), model and variant, the rate is raised step by step until p99
# passes the scenario's budget or errors pass 0.1%, and every step is recorded.
#
#   scripts/bench-serve.sh        # the full sweep (under 25 minutes on 2 cores)
#   scripts/bench-serve.sh quick  # seconds: sync, procs and tokio-async, short steps (the tests)
#
# The server under test runs alone on CPU 0 (taskset -c 0); oha 1.16.0 (installed once into
# target/tools, see lib.sh's ensure_oha) and the fixture server, the servers' backend, on
# CPU 1. Every model binary, and the six Python models of scripts/python/ when their
# environment (target/python-venv, scripts/python-env.sh) is ready; the reference sweep
# makes it first, and where it cannot (no python3) leaves results/ alone. MODELS="a b" runs only these (names, or paths to a server
# executable, started as `PATH serve ...`), SCENARIOS="hello backend" only these
# scenarios, and ROUNDS=1 each cell once instead of twice (round 2 checks round 1's knee):
# such a run, like a quick one, writes only its run folder.
# OHA=/path/to/generator takes the load from that executable instead of the pinned oha,
# for tests (target/release/oha-stand-in, a test double that saves compiling oha); a
# benchmark uses the pinned oha: such a run too writes only its run folder.
# serve-settings.txt names the generator that ran (generator=, generator_version=).
# Writes results/runs/<UTC time>-serve-<mode>-<pid>/{serve.csv,serve-knees.csv,
# serve-skips.csv,serve-plan.txt,serve-summaries.jsonl,serve-settings.txt,
# serve-progress.log,logs/}; a full
# sweep whose every ladder ran (skips by a guard excepted), the reference, then copies the
# CSVs and settings to results/. A full sweep measures committed code: from a checkout with
# uncommitted changes it is refused before anything runs, unless ALLOW_DIRTY=1. Ctrl-C
# keeps every step measured in the run folder and leaves no server or oha running.
# RESULTS_DIR overrides results/. It shares the lock of scripts/bench.sh: one bench at a
# time per target folder.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case "$mode" in
  full) quick="" ;;
  quick) quick="--quick" ;;
  *) echo "usage: scripts/bench-serve.sh [full|quick]" >&2; exit 2 ;;
esac
results=${RESULTS_DIR:-results}

source scripts/lib.sh
# The models, checked before anything is built: model binaries, the Python peers, or
# executable files.
read_models python
scenario_list=()
if [ -n "${SCENARIOS:-}" ]; then
  read -r -a scenario_list <<<"$SCENARIOS"
  for s in "${scenario_list[@]}"; do
    case "$s" in
      hello|work|backend|connections) ;;
      *) echo "$script: error: SCENARIOS: no scenario '$s': the scenarios are hello, work, backend, connections" >&2; exit 2 ;;
    esac
  done
fi
if [ -n "${ROUNDS:-}" ] && ! [[ $ROUNDS =~ ^[1-5]$ ]]; then
  echo "$script: error: ROUNDS: '$ROUNDS' is not a number of rounds from 1 to 5" >&2; exit 2
fi
# The generator: the pinned oha (ensure_oha, after the build), or OHA's, checked here.
if [ -n "${OHA:-}" ]; then
  [[ $OHA == /* ]] || OHA=$OLDPWD/$OHA
  [ -f "$OHA" ] && [ -x "$OHA" ] || { echo "$script: error: OHA: $OHA is not an executable file" >&2; exit 2; }
  oha_version=$("$OHA" --version 2>/dev/null) || { echo "$script: error: OHA: \`$OHA --version\` failed" >&2; exit 2; }
fi
command -v taskset >/dev/null || die "taskset not found (it comes with util-linux)"
[ "$(nproc)" -ge 2 ] || die "the serve sweep needs 2 CPUs (the server on CPU 0, the load on CPU 1); this machine gives $(nproc)"
# The reference (copied to results/): a full sweep of every model with the pinned oha.
reference=no
[ "$mode" != full ] || [ "${#model_list[@]}" -gt 0 ] || [ "${#scenario_list[@]}" -gt 0 ] || [ -n "${OHA:-}" ] || [ -n "${ROUNDS:-}" ] || reference=yes
[ "$reference" = no ] || check_clean "$results/serve*.csv"
find_target_dir
take_lock "serve-$mode"
build_release
if [ -n "${OHA:-}" ]; then
  oha=$OHA
  echo "== OHA: the load comes from $oha ($oha_version), not the pinned oha: results/ is left alone" >&2
else
  ensure_oha
  oha_version=$("$oha" --version)
fi
new_run_dir "$results" "serve-$mode"
start_server taskset -c 1
python_for_reference
settings=$run_dir/serve-settings.txt
{
  echo "mode=$mode reference=$reference models=$(token "${model_list[*]:-all}") scenarios=$(token "${scenario_list[*]:-all}") rounds=${ROUNDS:-plan}"
  echo "binaries=$bin"
  echo "generator=$(token "$oha") generator_version=$(token "$oha_version") server_cpu=0 generator_cpu=1 fixture_server_cpu=1 generator_env=TOKIO_WORKER_THREADS=1"
  describe_env
  [ -z "$python_line" ] || echo "$python_line"
} >"$settings"
note_dirty
echo "== run folder: $run_dir" >&2
models_arg=()
if [ "${#model_list[@]}" -gt 0 ]; then
  models_arg=(--models "$(IFS=,; echo "${model_list[*]}")")
fi
if [ "${#scenario_list[@]}" -gt 0 ]; then
  models_arg+=(--scenarios "$(IFS=,; echo "${scenario_list[*]}")")
fi
if [ -n "${ROUNDS:-}" ]; then
  models_arg+=(--rounds "$ROUNDS")
fi
status=0
# The progress lines also go to serve-progress.log: what each step showed, and when. tee
# ignores Ctrl-C, so that it outlives benchkit's own lines about the interruption.
"$bin/benchkit" serve --backend "$addr" --oha "$oha" --out "$run_dir" $quick "${models_arg[@]}" \
  2> >(trap '' INT; tee -a "$run_dir/serve-progress.log" >&2) || status=$?
server_alive || status=1
if [ "$status" -ne 0 ]; then
  echo "== the serve sweep did not complete: results/ left as it was; what was measured is in $run_dir" >&2
  exit "$status"
fi
promote "$run_dir"/serve.csv "$run_dir"/serve-knees.csv "$run_dir"/serve-skips.csv "$settings"
