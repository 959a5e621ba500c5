#!/usr/bin/env bash
# Installs whatever is missing for lazypath's demo, tests and benchmarks, and
# (re)installs the package into .venv/. Safe to run again: each step is
# skipped when it is already done.
#   system packages (apt): compiler, CMake, Ninja, OpenSSL, zstd, nlohmann-json,
#                          expat, GoogleTest, Google Benchmark, nginx, ccache
#   .venv/               : requirements-dev.txt, then `pip install .`
# With --system, only the system packages (scripts/wheel.sh needs no .venv/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Two copies at once (a test run and a demo) would race on .venv/: serialise.
exec 9>"$ROOT/.bootstrap.lock"
flock 9

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

APT_PACKAGES=(build-essential cmake ninja-build pkg-config git libssl-dev libzstd-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev ccache zstd
  python3-venv python3-dev clang-format libcurl4-openssl-dev nginx-light openssl
  libutf8proc-dev libexpat1-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Python and CMake from elsewhere (pyenv, pip) are fine too.
if ((${#missing[@]})); then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      cmake) command -v cmake >/dev/null || filtered+=("$p") ;;
      ninja-build) command -v ninja >/dev/null || filtered+=("$p") ;;
      python3-venv|python3-dev) python3 -c 'import venv, sysconfig, os; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = --system ]; then
  exit 0
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv/ with $($PY --version)"
  $PY -m venv .venv
fi
stamp=.venv/.lazypath-requirements
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pip install -r requirements-dev.txt (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
log "pip install . (incremental build in build/)"
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
  .venv/bin/python -m pip install -q --no-build-isolation --no-deps "$ROOT"
.venv/bin/python -c 'import lazypath' >/dev/null
log "ready: .venv/bin/lazypath"
