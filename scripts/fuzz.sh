#!/usr/bin/env bash
# Coverage-guided fuzzing of every store byte format with libFuzzer.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Needs clang (installed through apt when missing). New crashes are written
# to build/fuzz/crashes/<target>/; turn each into a regression seed under
# fuzz/corpus/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
if ! command -v clang++ >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang libclang-rt-dev >/dev/null \
    || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang >/dev/null
fi
CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLAZYPATH_LIBFUZZER=ON -DLAZYPATH_SANITIZE=ON >/dev/null
TARGETS="tree index ref frame s3xml profile gcsjson directory chunklist locator treerecord locations"
# shellcheck disable=SC2086  # word splitting of TARGETS is intended
cmake --build build/fuzz --target $(printf 'fuzz_%s ' $TARGETS)
for t in $TARGETS; do
  mkdir -p "build/fuzz/corpus/$t" "build/fuzz/crashes/$t"
  echo "== fuzz_$t for ${SECONDS_PER_TARGET}s"
  build/fuzz/fuzz_$t -max_total_time="$SECONDS_PER_TARGET" \
    -artifact_prefix="build/fuzz/crashes/$t/" "build/fuzz/corpus/$t" "fuzz/corpus/$t"
done
