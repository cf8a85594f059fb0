#!/usr/bin/env bash
# System calls per download and per served request, for every Rust model (issue 18):
# counted by the kernel (perf_event_open on the syscall tracepoints, per task with inherit,
# enabled at the model's exec: every thread and child process of the model, nothing of
# benchkit's), in runs of their own, so the count never slows a timed run.
#
#   scripts/bench-syscalls.sh        # every model, three rounds (a few minutes on 2 cores)
#   scripts/bench-syscalls.sh tiny   # seconds: sync and tokio-async, small runs (the tests)
#
# Two cells, each run at two sizes per round, per unit being the slope between them (what
# a run spends whatever its size, start-up included, cancels): `download`, `<model> io`
# at two N against the fixture server (/delay/10/bytes/1024), and `request`, `<model>
# serve` alone on CPU 0 as the serve sweep pins it, sent a fixed count of `GET /hello` at
# a fixed modest rate over a few keep-alive connections from CPU 1, the server alone
# counted. The plan's sizes are in the run folder's syscalls-plan.txt.
# Needs what perf needs: tracefs (/sys/kernel/tracing) readable, and perf_event_open
# allowed (root, CAP_PERFMON, or kernel.perf_event_paranoid 1 or less). Where it is not,
# the step says why in one line, records it in syscalls-skipped.txt and exits 0 with
# results/ left as it was.
# MODELS="a b" counts only these (model names, or paths to a model executable); such a
# run, like a tiny one, writes only its run folder. TRACEFS=/path reads the tracepoint ids
# from another tracefs mount.
# Writes results/runs/<UTC time>-syscalls-<mode>-<pid>/{syscalls.csv,syscalls-plan.txt,
# syscalls-summaries.jsonl,syscalls-settings.txt}; a full run of every model whose every
# cell was counted, the reference, then copies syscalls.csv and syscalls-settings.txt to
# results/ (and rewrites the report, if make bench has run). A full run measures committed
# code: from a checkout with uncommitted changes it is refused before anything runs,
# unless ALLOW_DIRTY=1. Ctrl-C keeps every cell counted so far in the run folder.
# RESULTS_DIR overrides results/. It shares the lock of scripts/bench.sh: one bench at a
# time per target folder.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case "$mode" in
  full) tiny="" ;;
  tiny) tiny="--tiny" ;;
  *) echo "usage: scripts/bench-syscalls.sh [full|tiny]" >&2; exit 2 ;;
esac
results=${RESULTS_DIR:-results}

source scripts/lib.sh
# The models, checked before anything is built: a model binary's name (a crate under
# crates/models/, or a [[bin]] one of them builds), or an executable file.
read_models
if [ -n "${TRACEFS:-}" ]; then
  [[ $TRACEFS == /* ]] || TRACEFS=$OLDPWD/$TRACEFS
fi
# The reference (copied to results/): a full run of every model.
reference=no
[ "$mode" != full ] || [ "${#model_list[@]}" -gt 0 ] || [ -n "${TRACEFS:-}" ] || reference=yes
[ "$reference" = no ] || check_clean "$results/syscalls.csv"
find_target_dir
take_lock "syscalls-$mode"
build_release
new_run_dir "$results" "syscalls-$mode"
start_server
settings=$run_dir/syscalls-settings.txt
{
  echo "mode=$mode reference=$reference models=$(token "${model_list[*]:-plan}")"
  echo "binaries=$bin"
  describe_env
  echo "perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo unknown) io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo absent)"
} >"$settings"
note_dirty
echo "== run folder: $run_dir" >&2
args=(--server "$addr" --out "$run_dir")
[ -z "$tiny" ] || args+=("$tiny")
if [ "${#model_list[@]}" -gt 0 ]; then
  args+=(--models "$(IFS=,; echo "${model_list[*]}")")
fi
[ -z "${TRACEFS:-}" ] || args+=(--tracefs "$TRACEFS")
status=0
"$bin/benchkit" syscalls "${args[@]}" || status=$?
server_alive || status=1
# The plan and the tracepoints used go with the run's provenance.
[ ! -f "$run_dir/syscalls-plan.txt" ] || cat "$run_dir/syscalls-plan.txt" >>"$settings"
if [ -f "$run_dir/syscalls-skipped.txt" ]; then
  echo "== skipped (recorded in $run_dir/syscalls-skipped.txt): results/ left as it was" >&2
  exit 0
fi
if [ "$status" -ne 0 ]; then
  echo "== the syscall step did not complete: results/ left as it was; what was counted is in $run_dir" >&2
  exit "$status"
fi
promote "$run_dir/syscalls.csv" "$settings"
