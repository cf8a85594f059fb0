# Shared by every bench script (bench.sh, bench-scale.sh, bench-serve.sh, bench-syscalls.sh): checked settings, where cargo puts
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

# model_bins: the model binaries, one line, by name: each [[bin]] of crates/models/*/Cargo.toml
# (a crate may build more than one: monoio-async also builds monoio-epoll), known before the
# build, as `benchkit models` finds them after it.
model_bins() {
  awk '/^\[\[bin\]\]/ { bin = 1; next } /^\[/ { bin = 0 } bin && /^name = / { gsub(/"/, "", $3); print $3 }' \
    crates/models/*/Cargo.toml | sort -u | paste -sd' ' -
}

# python_peers: the Python servers' model names (python-<x> for scripts/python/serve_<x>.py),
# each after a space.
python_peers() {
  local f x
  for f in scripts/python/serve_*.py; do
    x=${f#scripts/python/serve_}
    x=${x%.py}
    [ "$x" = app ] || [ "$x" = gunicorn ] || printf ' python-%s' "$x"
  done
}

# read_models [python]: MODELS="a b", checked before anything is built, into the array
# model_list: each a model binary's name (model_bins), a path to an executable (a relative
# path is the caller's: the scripts have moved to the repository root), or with `python`
# a Python peer (python_peers). Anything else is one line and exit 2.
read_models() {
  model_list=()
  [ -n "${MODELS:-}" ] || return 0
  local names m peers=""
  [ "${1:-}" != python ] || peers=$(python_peers)
  read -r -a names <<<"$MODELS"
  for m in "${names[@]}"; do
    if [[ $m == */* ]]; then
      [[ $m == /* ]] || m=$OLDPWD/$m
      [ -f "$m" ] && [ -x "$m" ] || { echo "$script: error: MODELS: $m is not an executable file" >&2; exit 2; }
    elif ! [[ $m =~ ^[A-Za-z0-9_.-]+$ ]]; then
      echo "$script: error: MODELS: '$m' is not a model name" >&2; exit 2
    elif [[ " $(model_bins)$peers " != *" $m "* ]]; then
      echo "$script: error: MODELS: no model '$m' (the models: $(model_bins)$peers; or give a path to an executable)" >&2; exit 2
    fi
    model_list+=("$m")
  done
}

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

# The build, without the variables a cargo that runs this script sets for its crates (the
# end-to-end tests under `cargo test`: CARGO_MANIFEST_DIR, CARGO_PKG_NAME, ...): ring's
# build script reruns when one of them changes, and ring, rustls and every model over them
# were rebuilt (4 minutes on 2 cores) at each switch between such a run and a plain
# `cargo build`.
build_release() {
  echo "== building (release) into $bin" >&2
  local name unset=()
  while IFS= read -r -d '' name; do
    name=${name%%=*}
    case "$name" in
      CARGO_MANIFEST_*|CARGO_PKG_*|CARGO_CRATE_NAME|CARGO_BIN_NAME|CARGO_BIN_EXE_*|CARGO_PRIMARY_PACKAGE|CARGO_TARGET_TMPDIR|CARGO_RUSTC_CURRENT_DIR|OUT_DIR)
        unset+=(-u "$name") ;;
    esac
  done < <(env -0)
  env "${unset[@]}" cargo build --release --workspace --quiet
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

# Sets $oha: oha 1.16.0, the open-loop load generator of scripts/bench-serve.sh, installed
# once into tools/ of the target folder like hyperfine (pinned, so every run loads the
# servers alike; never taken from PATH, whose version could be any). Default features:
# TLS on rustls and aws-lc-rs, whose aws-lc-sys 0.44 builds with the C compiler alone
# (cmake only as its fallback), as oha's jemalloc and bundled SQLite need one anyway;
# --no-default-features does not compile (1.16's client.rs needs a TLS feature).
ensure_oha() {
  oha=$target_dir/tools/bin/oha
  if [ ! -x "$oha" ] || [ "$("$oha" --version 2>/dev/null)" != "oha 1.16.0" ]; then
    echo "== installing oha 1.16.0 into $target_dir/tools (once; a few minutes)" >&2
    cargo install oha --locked --version 1.16.0 --root "$target_dir/tools" --quiet --force
  fi
}

# new_run_dir RESULTS TAG: sets $run_dir to a fresh results/runs/<UTC time>-TAG-<pid>.
new_run_dir() {
  run_dir="$1/runs/$(date -u +%Y%m%dT%H%M%SZ)-$2-$$"
  mkdir -p "$1/runs"
  mkdir "$run_dir" # fails rather than reuse a folder
}

# start_server [PREFIX...]: starts the fixture server on a free loopback port, logs in
# $run_dir, sets $addr once /health answers. The EXIT trap stops it whatever happens next.
# PREFIX, if given, is a command the server runs under (`taskset -c 1`: pinned to CPU 1;
# it must exec the server, so that $server_pid is the server's).
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
# A driver started with SIGINT ignored (`scripts/bench.sh &` in a script: a shell without
# job control starts background commands so, and bash cannot trap a signal ignored on
# entry) leaves SIGINT ignored for the whole run: its commands inherit the ignore, and the
# fixture server keeps it (it handles SIGINT only when not ignored), so a SIGINT to the
# group changes nothing, where it once stopped the server alone under a run that went on.
# SIGTERM (`kill PID`) then stops the run as Ctrl-C would. start_server says so.
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
# On exit, however it comes: the server stopped, then what a script's own `cleanup`
# (when it defines one) removes.
on_exit() {
  stop_server
  if declare -F cleanup >/dev/null; then cleanup || true; fi
}
start_server() {
  [ -n "${lock_fd:-}" ] || die "start_server before take_lock"
  trap on_exit EXIT
  trap on_interrupt INT TERM
  # SigIgn: the signals ignored since this shell started, a hex mask; SIGINT is bit 2.
  if (( 0x$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status) & 2 )); then
    echo "== SIGINT is ignored (started in the background by a script), and so it is for the whole run: stop it with SIGTERM (kill $$)" >&2
  fi
  # Without the lock's descriptor ({lock_fd}>&-): a server orphaned by a killed script
  # must not keep the lock.
  # --exit-with-parent $$: the server ends with this script, even if it is killed by
  # SIGKILL and cannot stop it (an orphaned server would serve on, unseen). $$, not
  # $BASHPID, which a background command expands in the child; and so start_server must
  # run in the script's own shell, not in a subshell or a pipeline.
  "$@" "$bin/fixture-server" --port 0 --exit-with-parent $$ >"$run_dir/server.addr" 2>"$run_dir/server.log" {lock_fd}>&- &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$run_dir/server.addr" ] && break; sleep 0.05; done
  addr=$(head -n 1 "$run_dir/server.addr")
  [ -n "$addr" ] || die "the fixture server did not start: $(cat "$run_dir/server.log")"
  "$bin/benchkit" wait-health "$addr"
}

# token TEXT: TEXT as one whitespace-free token (runs of blanks become one `_`), so that
# every settings line is `key=value` tokens a reader can split on whitespace.
token() {
  printf '%s' "$*" | tr -s ' \t\n' '_' | sed 's/^_//; s/_$//'
}

# git_state: sets $git_commit (short hash of HEAD, or `unknown` outside a git checkout) and
# $git_dirty: `no` when the checkout matches HEAD, `yes` when a file differs from it or is
# new (not ignored), `unknown` without git. What a run writes (results/, README.md) does
# not count: a second bench after a first would otherwise always be dirty.
git_state() {
  local changes
  if git_commit=$(git rev-parse --short HEAD 2>/dev/null) &&
     changes=$(git status --porcelain --untracked-files=normal -- ':(top)' ':(top,exclude)results' ':(top,exclude)README.md' 2>/dev/null); then
    if [ -z "$changes" ]; then git_dirty=no; else git_dirty=yes; fi
  else
    git_commit=unknown git_dirty=unknown
  fi
}

# check_clean WHAT: a reference run (one that writes results/) measures committed code:
# from a checkout with uncommitted changes, or without git, it is refused in one line
# (exit 2) before anything is built, unless ALLOW_DIRTY=1 (then its settings say
# git_dirty=yes, and the report warns). WHAT names what the run would write.
check_clean() {
  case "${ALLOW_DIRTY:-}" in
    ""|0|1) ;;
    *) echo "$script: error: ALLOW_DIRTY must be 1 or 0, not '$ALLOW_DIRTY'" >&2; exit 2 ;;
  esac
  git_state
  if [ "$git_dirty" != no ] && [ "${ALLOW_DIRTY:-0}" != 1 ]; then
    local why="the checkout has uncommitted changes (git status)"
    [ "$git_dirty" = yes ] || why="the commit is unknown (no git checkout)"
    echo "$script: error: $why, and this run would write $1; commit first, or ALLOW_DIRTY=1 to write it marked git_dirty=$git_dirty" >&2
    exit 2
  fi
}

# describe_env: the run's provenance (date, commit, machine, software), one `key=value`
# per token, for its settings file: date_utc, git_commit, git_dirty, cpu (the model name,
# blanks as `_`), cores, memory_total (`23.5_GiB`), kernel (`uname -r`), rustc, crates, then the
# host's limits (open_files, pid_max, threads_max, somaxconn, max_map_count).
describe_env() {
  git_state
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git_commit=$git_commit git_dirty=$git_dirty"
  echo "cpu=$(token "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)") cores=$(nproc)"
  echo "memory_total=$(awk '/MemTotal/ {printf "%.1f_GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(token "$(uname -r)")"
  echo "rustc=$(token "$(rustc --version | sed 's/^rustc //')")"
  echo "crates=$(awk '/^name = /{n=$3} /^version = /{gsub(/"/,"",n); v=$3; gsub(/"/,"",v); print n"@"v}' Cargo.lock | grep -E '^(tokio|reqwest|hyper|ureq|may|smol|async-std|monoio|rayon|num-bigint|plotters)@' | paste -sd, -)"
  echo "open_files=$(ulimit -n)/$(ulimit -Hn) pid_max=$(cat /proc/sys/kernel/pid_max) threads_max=$(cat /proc/sys/kernel/threads-max) somaxconn=$(cat /proc/sys/net/core/somaxconn) max_map_count=$(cat /proc/sys/vm/max_map_count)"
  # Whether monoio-async can have io_uring here (0: allowed; absent on kernels before 6.6,
  # where a seccomp profile may still block it: each summary line's `driver` says what ran).
  echo "io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo absent) memlock=$(ulimit -l)"
}

# python_for_reference: a reference sweep (reference=yes) measures the Python models too,
# so it makes their environment first (scripts/python-env.sh: pip, once); where that fails
# (no python3 or venv module), the sweep goes on with the Rust models but sets reference=no:
# a run without the Python models never replaces results/ that hold them. Any other run
# takes the environment only if it is ready. Sets $python_line, describe_python's line for
# the settings ("" without the environment). Call it before the settings are written.
python_for_reference() {
  local venv=$target_dir/python-venv why
  python_line=""
  if [ "$reference" = yes ] && ! { [ -x "$venv/bin/python" ] && cmp -s scripts/python/requirements.txt "$venv/requirements.installed"; }; then
    echo "== the Python models' environment: scripts/python-env.sh (pip, once)" >&2
    if ! why=$(scripts/python-env.sh 2>&1 >/dev/null); then
      echo "== Python models left out (${why##*$'\n'}): this run will not replace $results/; install what that line names and run again" >&2
      reference=no
    fi
  fi
  if [ -x "$venv/bin/python" ] && cmp -s scripts/python/requirements.txt "$venv/requirements.installed"; then
    python_line=$(describe_python "$venv/bin/python")
  fi
}

# describe_python PYTHON: the Python models' interpreter and packages, as tokens.
describe_python() {
  echo "python=$(token "$("$1" --version 2>&1 | sed 's/^Python //')") python_packages=$(grep -E '^(gevent|aiohttp|uvloop)==' scripts/python/requirements.txt | paste -sd, -)"
}

# note_dirty: a reference run of a checkout with uncommitted changes (ALLOW_DIRTY=1) says
# so on stderr, as its settings do (git_dirty, set by describe_env).
note_dirty() {
  if [ "$reference" = yes ] && [ "$git_dirty" != no ]; then
    echo "== ALLOW_DIRTY=1: this reference run is marked git_dirty=$git_dirty (commit $git_commit)" >&2
  fi
}

# promote FILE...: a reference run (reference=yes) copies these files of its run folder
# into $results/ and writes the report there (once make bench has written summary.csv);
# any other run leaves $results/ alone and names its run folder's files.
promote() {
  if [ "$reference" != yes ]; then
    echo "== results: $* (results/ left as it was)" >&2
    return 0
  fi
  cp "$@" "$results"/
  echo "== results: $(for f in "$@"; do printf '%s ' "$results/${f##*/}"; done)" >&2
  if [ -f "$results/summary.csv" ]; then
    report "$results"
  else
    echo "== no summary.csv yet: make bench writes it, then the report" >&2
  fi
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
