#!/usr/bin/env bash
# The runs the README once quoted by hand, made by a command instead: what a switch costs
# pinned to one CPU against unpinned, for threads, procs and tokio-async. A ring of 100
# tasks passes the token 2,000 times round (200,000 hand-offs); the cost of one hand-off is
# the model's wall time over the hand-offs, 3 runs each. Pinned (`taskset -c 0`), every
# wake-up stays on one CPU; unpinned, most wake a thread on the other CPU, which is what
# the costs sweep measures.
#
#   scripts/by-hand.sh        # (make bench-by-hand) writes results/by-hand.csv, about 30 s
#
# Columns: experiment, model, pinned, command, runs, min, median, max, unit, date_utc,
# cpu, cores, kernel, git_commit. `make report` shows them in REPORT.md's "By hand" table.
# RESULTS_DIR as in scripts/bench.sh; from a checkout with uncommitted changes it is
# refused (exit 2) unless ALLOW_DIRTY=1, which marks git_commit with `-dirty`. Exit
# status: 0, 1 with one line saying why, or 2 for a refused setting.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

results=${RESULTS_DIR:-results}
command -v taskset >/dev/null || die "taskset not found (it comes with util-linux)"
# It writes results/: committed code only, as for make bench (ALLOW_DIRTY=1 to mark it).
check_clean "$results/by-hand.csv"
find_target_dir
take_lock by-hand
build_release
mkdir -p "$results"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=100 rounds=2000 runs=3
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
commit=$git_commit
[ "$git_dirty" = no ] || commit="$commit-dirty" 

# csv FIELD...: one CSV line, every field quoted (a CPU name may hold a comma).
csv() {
  local out="" f
  for f in "$@"; do out+="${out:+,}\"${f//\"/\"\"}\""; done
  printf '%s\n' "$out"
}

csv experiment model pinned command runs min median max unit date_utc cpu cores kernel git_commit >"$tmp/by-hand.csv"
for model in threads procs tokio-async; do
  for pinned in no yes; do
    cmd="target/release/$model switch --n $n --rounds $rounds"
    [ "$pinned" = no ] || cmd="taskset -c 0 $cmd"
    echo "== $cmd ($runs runs)" >&2
    : >"$tmp/times"
    for _ in $(seq "$runs"); do
      # shellcheck disable=SC2086 # the command's words are split on purpose
      line=$(${cmd/target\/release/$bin} 2>"$tmp/err") || die "$cmd failed: $(tail -n 1 "$tmp/err")"
      wall=$(printf '%s' "$line" | sed -n 's/.*"wall_ms":\([0-9.]*\).*/\1/p')
      [ -n "$wall" ] || die "$cmd printed no summary line"
      awk -v w="$wall" -v h=$((n * rounds)) 'BEGIN { printf "%.3f\n", w * 1000 / h }' >>"$tmp/times"
    done
    sort -g "$tmp/times" >"$tmp/sorted"
    mapfile -t t <"$tmp/sorted"
    csv "switch per hand-off" "$model" "$pinned" "$cmd" "$runs" "${t[0]}" "${t[$((runs / 2))]}" "${t[$((runs - 1))]}" "µs" \
      "$date_utc" "$cpu" "$(nproc)" "$(uname -sr)" "$commit" >>"$tmp/by-hand.csv"
  done
done
cp "$tmp/by-hand.csv" "$results/by-hand.csv"
echo "== results: $results/by-hand.csv" >&2
