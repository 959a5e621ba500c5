#!/usr/bin/env bash
# Runs every test: C++ (GoogleTest through ctest, plus the fuzz targets over
# their corpora), the same under ASan + UBSan, lint, then pytest (API, CLI, bad input, concurrency, Ray),
# then the distribution: sdist and manylinux wheel built, the wheel installed
# into a fresh virtualenv and tested (scripts/wheel_test.sh; skipped with
# LAZYPATH_WHEEL_TEST=0).
# Installs whatever is missing first (scripts/bootstrap.sh), so it works on
# a fresh machine and can be run again safely.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

log() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }
JOBS=$(nproc)

log "C++: configure and build (build/cpp)"
cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLAZYPATH_BUILD_TESTS=ON >/dev/null
cmake --build build/cpp -j "$JOBS"
log "C++: ctest"
ctest --test-dir build/cpp --output-on-failure -j "$JOBS"

log "C++: ctest under ASan + UBSan (build/asan)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLAZYPATH_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$JOBS"
ctest --test-dir build/asan --output-on-failure -j "$JOBS"

log "lint: layers, ruff and clang-format"
python3 scripts/check_layers.py
.venv/bin/ruff check python tests bench scripts examples doc
if command -v clang-format >/dev/null; then
  git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
fi

log "pytest"
set +e
# A crash after the last test (at interpreter exit) still prints every
# thread's stack, so it can be told apart from a failing test.
PYTHONFAULTHANDLER=1 .venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  log "pytest collected no tests: that is a failure here"
  exit 1
fi
if [ "$rc" != 0 ]; then
  exit "$rc"
fi

if [ "${LAZYPATH_WHEEL_TEST:-1}" = 0 ]; then
  log "wheel: skipped (LAZYPATH_WHEEL_TEST=0)"
  exit 0
fi
log "wheel: sdist and wheel, installed into a fresh virtualenv and tested"
CMAKE_BUILD_PARALLEL_LEVEL=$JOBS bash scripts/wheel_test.sh
