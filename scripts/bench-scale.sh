#!/usr/bin/env bash
# How far each model goes: sweep N for sleep, io and cpu, skipping cells predicted to harm
# the machine (each skip is a row with its reason), and fit memory per task.
#
#   scripts/bench-scale.sh        # the full sweep (under 15 minutes on 2 cores)
#   scripts/bench-scale.sh tiny   # seconds: small N, short waits (used by the tests)
#
# Every model binary, and the six Python models of scripts/python/ when their environment
# (target/python-venv, scripts/python-env.sh) is ready. The full sweep, the reference, makes
# it first (pip, once); where it cannot (no python3), that sweep runs the Rust models and
# leaves results/ alone (lib.sh's python_for_reference). benchkit says on stderr why the
# Python models are left out, if they are.
# Writes results/runs/<UTC time>-scale-<mode>-<pid>/{scale.csv,scale-fit.csv,
# scale-limits.txt,costs.csv,costs-fit.csv,scale-settings.txt}; a full sweep, the reference,
# then copies them to results/ (and writes the report there, if make bench has run). A full
# sweep measures committed code: from a checkout with uncommitted changes it is refused
# before anything runs, unless ALLOW_DIRTY=1 (then scale-settings.txt says git_dirty=yes).
# scale-settings.txt is the provenance of all five files: mode, date, commit, machine,
# one `key=value` per token. RESULTS_DIR overrides results/. It shares the lock of
# scripts/bench.sh: one bench or sweep at a time per target folder (target/, or
# CARGO_TARGET_DIR, whose release/ holds the binaries it runs).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case "$mode" in
  full) tiny="" ;;
  tiny) tiny="--tiny" ;;
  *) echo "usage: scripts/bench-scale.sh [full|tiny]" >&2; exit 2 ;;
esac
results=${RESULTS_DIR:-results}

source scripts/lib.sh
reference=no
[ "$mode" != full ] || reference=yes
[ "$reference" = no ] || check_clean "$results/scale*.csv and costs*.csv"
find_target_dir
take_lock "$mode"
build_release
new_run_dir "$results" "scale-$mode"
start_server
python_for_reference
settings=$run_dir/scale-settings.txt
{
  echo "mode=$mode reference=$reference"
  echo "binaries=$bin"
  describe_env
  [ -z "$python_line" ] || echo "$python_line"
} >"$settings"
note_dirty
echo "== run folder: $run_dir" >&2
"$bin/benchkit" scale --server "$addr" --out "$run_dir" $tiny
# What one task costs: spawn and switch swept in every model (no server; ~2 min on 2 cores).
"$bin/benchkit" costs --out "$run_dir" $tiny
promote "$run_dir"/scale.csv "$run_dir"/scale-fit.csv "$run_dir"/scale-limits.txt \
  "$run_dir"/costs.csv "$run_dir"/costs-fit.csv "$settings"
