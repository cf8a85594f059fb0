# Shared by scripts/bench.sh and scripts/bench-scale.sh: checked settings, where cargo puts
# the binaries, one bench at a time, the build, hyperfine, a new run folder, and the fixture
# server (always stopped on exit, error or Ctrl-C). Source it from the repository root after
# `set -euo pipefail`.

script=$(basename "$0")
run_dir=""

# die MESSAGE: one line saying why, then exit 1.
die() {
  echo "$script: error: $*" >&2
  exit 1
}

# Every exit says why. A command that fails where nothing checks it (a write to a full
# disk, a tool that crashes) stops the script through `set -e`; this trap names it first.
# errtrace (-E) makes functions inherit the trap; a subshell that fails leaves the line to
# the main shell, which fails in turn, so the user sees it once.
on_error() {
  [ "$BASHPID" = "$$" ] || return 0
  local command=${3%%$'\n'*} # a here-document's command is its first line
  [ "$command" = "$3" ] || command="$command ..."
  echo "$script: error: line $2: \`$command\` failed (exit status $1)${run_dir:+; run folder: $run_dir}" >&2
}
set -E
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

# check_int NAME VALUE MIN MAX [WHY]: VALUE is a whole number from MIN to MAX, or one line
# and exit 2 (before anything is built or run).
check_int() {
  if ! [[ $2 =~ ^(0|[1-9][0-9]{0,8})$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
    echo "$script: error: $1 must be a whole number from $3 to $4${5:+ ($5)}, not '$2'" >&2
    exit 2
  fi
}

# find_target_dir: sets $target_dir to where cargo puts what it builds (target/, or
# CARGO_TARGET_DIR, or a `target-dir` in a cargo config: `cargo metadata` knows which) and
# $bin to its release folder. Running target/release regardless would measure stale
# binaries, or none.
find_target_dir() {
  local metadata
  metadata=$(cargo metadata --format-version 1 --no-deps --offline) ||
    die "cargo metadata failed (see above): cannot tell where cargo puts the binaries"
  target_dir=$(printf '%s' "$metadata" | sed -n 's/.*"target_directory":"\([^"\\]*\)".*/\1/p')
  [ -n "$target_dir" ] ||
    die "cannot read target_directory from cargo metadata (a path with a quote or backslash is not supported)"
  bin=$target_dir/release
}

# take_lock MODE: one bench at a time per target folder, so that no run's numbers include
# another's load, no build replaces binaries under a running bench, and no two runs write
# results/ and the README at once. A second bench says who holds the lock and exits 1.
# flock(1) locks an open file, not a name: the kernel releases it when the last descriptor
# closes, which is when the script and the commands it is waiting for exit, however they
# die (even by SIGKILL), so a lock is never stale. The fixture server, the one child that
# could outlive the script, is started without the descriptor. The file stays behind with
# the last holder's record; only the lock on it matters.
take_lock() {
  command -v flock >/dev/null || die "flock not found (it comes with util-linux)"
  lock_file=$target_dir/bench.lock
  mkdir -p "$target_dir"
  exec {lock_fd}>>"$lock_file" || die "cannot open the lock file $lock_file"
  local status=0 holder
  flock --nonblock --conflict-exit-code 75 "$lock_fd" || status=$?
  if [ "$status" -eq 75 ]; then
    holder=$(head -n 1 "$lock_file" 2>/dev/null) || true
    die "another bench is running (${holder:-holder not recorded yet}); wait for it to finish or stop it (lock: $lock_file)"
  fi
  [ "$status" -eq 0 ] || die "cannot lock $lock_file (flock exit status $status)"
  echo "pid $$, $script $1, started $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$lock_file"
}

build_release() {
  echo "== building (release) into $bin" >&2
  cargo build --release --workspace --quiet
}

# Sets $hyperfine: from PATH, or installed once into tools/ of the target folder (1.20: 2.x
# needs a newer rustc than this project's machines have). It follows the target folder, so
# clones that share one CARGO_TARGET_DIR share one hyperfine.
ensure_hyperfine() {
  hyperfine=$(command -v hyperfine || true)
  if [ -z "$hyperfine" ]; then
    hyperfine=$target_dir/tools/bin/hyperfine
    if [ ! -x "$hyperfine" ]; then
      echo "== installing hyperfine 1.20.0 into $target_dir/tools (once)" >&2
      cargo install hyperfine --locked --version 1.20.0 --root "$target_dir/tools" --quiet
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
  echo "$script: error: the fixture server has stopped; last lines of $run_dir/server.log:" >&2
  tail -n 3 "$run_dir/server.log" >&2
  return 1
}
start_server() {
  [ -n "${lock_fd:-}" ] || die "start_server before take_lock"
  trap stop_server EXIT
  trap on_interrupt INT TERM
  # Without the lock's descriptor ({lock_fd}>&-): a server orphaned by a killed script
  # must not keep the lock.
  "$bin/fixture-server" --port 0 >"$run_dir/server.addr" 2>"$run_dir/server.log" {lock_fd}>&- &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$run_dir/server.addr" ] && break; sleep 0.05; done
  addr=$(head -n 1 "$run_dir/server.addr")
  [ -n "$addr" ] || die "the fixture server did not start: $(cat "$run_dir/server.log")"
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
