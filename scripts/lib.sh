# Shared by scripts/bench.sh and scripts/bench-scale.sh: build, hyperfine, a new run
# folder, and the fixture server (always stopped on exit, error or Ctrl-C).
# Source it from the repository root after `set -euo pipefail`.

bin=target/release

build_release() {
  echo "== building (release)" >&2
  cargo build --release --workspace --quiet
}

# Sets $hyperfine: from PATH, or installed once into target/tools (1.20: 2.x needs a newer
# rustc than this project's machines have).
ensure_hyperfine() {
  hyperfine=$(command -v hyperfine || true)
  if [ -z "$hyperfine" ]; then
    hyperfine=target/tools/bin/hyperfine
    if [ ! -x "$hyperfine" ]; then
      echo "== installing hyperfine 1.20.0 into target/tools (once)" >&2
      cargo install hyperfine --locked --version 1.20.0 --root target/tools --quiet
    fi
  fi
}

# new_run_dir RESULTS TAG: sets $run_dir to a fresh results/runs/<UTC time>-TAG-<pid>.
new_run_dir() {
  run_dir="$1/runs/$(date -u +%Y%m%dT%H%M%SZ)-$2-$$"
  mkdir -p "$1/runs"
  mkdir "$run_dir" # fails rather than reuse a folder
}

# start_server: starts the fixture server on a free loopback port, logs in $run_dir, sets
# $addr once /health answers. The EXIT trap stops it whatever happens next.
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
# On Ctrl-C: keep what was measured (a script may define save_partial), then exit; the
# EXIT trap stops the server.
on_interrupt() {
  trap - INT TERM
  if declare -F save_partial >/dev/null; then save_partial || true; fi
  echo "== interrupted; results so far are in $run_dir" >&2
  exit 130
}
# server_alive: fail with the server's last words if it has died.
server_alive() {
  kill -0 "$server_pid" 2>/dev/null && return 0
  echo "== the fixture server has stopped; last lines of $run_dir/server.log:" >&2
  tail -n 3 "$run_dir/server.log" >&2
  return 1
}
start_server() {
  trap stop_server EXIT
  trap on_interrupt INT TERM
  "$bin/fixture-server" --port 0 >"$run_dir/server.addr" 2>"$run_dir/server.log" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$run_dir/server.addr" ] && break; sleep 0.05; done
  addr=$(head -n 1 "$run_dir/server.addr")
  [ -n "$addr" ] || { echo "fixture server did not start: $(cat "$run_dir/server.log")" >&2; exit 1; }
  "$bin/benchkit" wait-health "$addr"
}

# describe_env: the machine and software a run measured, for its run folder.
describe_env() {
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') cores=$(nproc)"
  echo "memory_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  echo "rustc=$(rustc --version)"
  echo "git_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"
  echo "crates: $(awk '/^name = /{n=$3} /^version = /{gsub(/"/,"",n); v=$3; gsub(/"/,"",v); print n"@"v}' Cargo.lock | grep -E '^(tokio|reqwest|hyper|ureq|may|smol|async-std|rayon|num-bigint|plotters)@' | tr '\n' ' ')"
  echo "limits: open_files=$(ulimit -n)/$(ulimit -Hn) pid_max=$(cat /proc/sys/kernel/pid_max) threads_max=$(cat /proc/sys/kernel/threads-max) somaxconn=$(cat /proc/sys/net/core/somaxconn) max_map_count=$(cat /proc/sys/vm/max_map_count)"
}

# report RESULTS: REPORT.md and charts from the CSVs in RESULTS; the README's findings
# block too when RESULTS is the project's own results/ folder.
report() {
  if [ "$1" = results ]; then
    "$bin/benchkit" report "$1" --readme README.md
  else
    "$bin/benchkit" report "$1"
  fi
}
