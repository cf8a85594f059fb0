#!/usr/bin/env bash
# The Python models' environment: a virtual environment under cargo's target folder
# (target/python-venv) with the pinned packages of scripts/python/requirements.txt,
# installed from the package index with pip once, and again only when that file changes.
#
#   scripts/python-env.sh     # create it if needed; print its python's path on stdout
#
# Needs python3 (3.11 or later) with its venv module. Where either is missing it stops
# at once with one line saying what to install (exit 1). `make bench-python` and .ci/run
# call it; `make bench` and `make test` do not need it.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=scripts/python/requirements.txt
python=${PYTHON3:-python3}
need() { echo "python-env: $1" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 ||
  need "python3 not found: install Python 3.11 or later (Debian: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  need "$("$python" --version 2>&1) is too old: install Python 3.11 or later"
"$python" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  need "$python has no venv module: install it (Debian: apt-get install python3-venv)"

# Cargo's target folder (CARGO_TARGET_DIR or a config may move it): the e2e tests look
# for the environment beside target/release.
target=$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') || target=target
venv=$target/python-venv
mkdir -p "$target"

# One creator at a time (CI's tests and a bench started by hand may both ask).
exec 9>"$target/python-venv.lock"
flock 9

# The environment is up to date when it holds the packages of the requirements as they
# are now (a copy is kept inside it once the install has succeeded).
if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$venv/requirements.installed"; then
  echo "$venv/bin/python"
  exit 0
fi
echo "== creating $venv with $("$python" --version) and $requirements (once)" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
  --requirement "$requirements" >&2 ||
  need "pip could not install $requirements into $venv (see above)"
"$venv/bin/python" -c 'import gevent, aiohttp, uvloop, flask, gunicorn, packaging' ||
  need "$venv was installed but cannot import gevent, aiohttp, uvloop, flask, gunicorn and packaging"
cp "$requirements" "$venv/requirements.installed"
echo "$venv/bin/python"
