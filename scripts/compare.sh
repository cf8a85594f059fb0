#!/usr/bin/env bash
# Two models side by side, by hand: hyperfine -N on one workload, against the fixture server.
#
#   make compare A=threads B=tokio-async WORKLOAD=io
#   scripts/compare.sh threads tokio-async io     # the same
#
# A and B: model binaries of the release folder (sync, threads, ...) or paths to executables.
# WORKLOAD: cpu, io (the default) or sleep, at the seed's settings: N=10 tasks; io downloads
# 4 URLs of the fixture server's /delay/100/bytes/51200 per task, sleep waits 100 ms per task.
# N, RUNS (default 5) and WARMUP (default 1) override; every setting is checked before
# anything is built (a bad one: one line, exit status 2).
# It builds, starts the fixture server on a free loopback port (io only), runs hyperfine,
# which prints its table and "A ran X times faster than B", and stops the server on any
# exit, Ctrl-C too. It takes the bench lock: no bench runs beside it.
# Exit status: hyperfine's (1 when a model fails: its error is hyperfine's last line), 2 for
# a bad setting.
set -euo pipefail
cd "$(dirname "$0")/.."

model_a=${1:-${A:-}}
model_b=${2:-${B:-}}
workload=${3:-${WORKLOAD:-io}}
n=${N:-10}
runs=${RUNS:-5}
warmup=${WARMUP:-1}

source scripts/lib.sh
[ -n "$model_a" ] && [ -n "$model_b" ] || {
  echo "$script: error: A and B name the two models: make compare A=threads B=tokio-async [WORKLOAD=io|cpu|sleep]" >&2
  exit 2
}
case "$workload" in
  cpu) max_n=1000 ;;
  io) max_n=100000 ;;
  sleep) max_n=1000000 ;;
  *) echo "$script: error: WORKLOAD must be cpu, io or sleep, not '$workload'" >&2; exit 2 ;;
esac
check_int N "$n" 1 "$max_n" "the models' $workload limit"
check_int RUNS "$runs" 1 1000
check_int WARMUP "$warmup" 0 100
# The model binaries (lib.sh).
model_bins=$(model_bins)
# check_model VAR VALUE: a path to an executable (a slash in it), or the name of a model
# binary (looked for in the release folder after the build).
check_model() {
  local value=$2
  if [[ $value == */* ]]; then
    [[ $value == /* ]] || value=$OLDPWD/$value
    [ -f "$value" ] && [ -x "$value" ] || { echo "$script: error: $1: $value is not an executable file" >&2; exit 2; }
  elif [[ " $model_bins " != *" $value "* ]]; then
    echo "$script: error: $1: '$value' is not a model (one of: $model_bins; or a path)" >&2
    exit 2
  fi
}
check_model A "$model_a"
check_model B "$model_b"
[[ $model_a != */* || $model_a == /* ]] || model_a=$OLDPWD/$model_a
[[ $model_b != */* || $model_b == /* ]] || model_b=$OLDPWD/$model_b

find_target_dir
take_lock "compare $workload"
build_release
ensure_hyperfine
# Their executables: a path as it is, a name in the release folder.
exe_a=$model_a exe_b=$model_b
[[ $exe_a == */* ]] || exe_a=$bin/$exe_a
[[ $exe_b == */* ]] || exe_b=$bin/$exe_b
for exe in "$exe_a" "$exe_b"; do
  [ -f "$exe" ] && [ -x "$exe" ] || die "no model $(basename "$exe") in $bin"
done

# The server's address file and log, removed on exit.
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
cleanup() { rm -rf "$run_dir"; }
trap on_exit EXIT
case "$workload" in
  cpu) args="cpu --n $n"; what="N=$n" ;;
  sleep) args="sleep --n $n --ms 100"; what="N=$n, 100 ms each" ;;
  io)
    start_server
    args="io --n $n"
    for _ in 1 2 3 4; do args="$args --url http://$addr/delay/100/bytes/51200"; done
    what="N=$n, 4 URLs of 100 ms and 50 KiB each, fixture server at $addr"
    ;;
esac
# Ctrl-C: hyperfine and the models stop with it; the EXIT trap stops the server.
trap 'exit 130' INT TERM
echo "== $(basename "$model_a") against $(basename "$model_b"), $workload ($what): $warmup warm-up + $runs runs each" >&2
"$hyperfine" -N --warmup "$warmup" --runs "$runs" \
  --command-name "$(basename "$model_a")" "$(printf %q "$exe_a") $args" \
  --command-name "$(basename "$model_b")" "$(printf %q "$exe_b") $args"
