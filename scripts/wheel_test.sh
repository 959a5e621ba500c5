#!/usr/bin/env bash
# CI for the distribution: builds the sdist and the wheel (scripts/wheel.sh),
# installs the wheel with its [test] extras into a fresh virtualenv
# (build/wheel-venv/, versions pinned by requirements-dev.txt), and runs the
# API, CLI and Ray suites against the installed package, from a directory
# where `import lazypath` cannot find the source tree's python/.
# The Python is $PYTHON (default python3). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '\033[1m[wheel-test]\033[0m %s (%ss)\n' "$*" "$SECONDS" >&2; }
die() { printf '\033[1m[wheel-test]\033[0m error: %s\n' "$*" >&2; exit 1; }

bash scripts/wheel.sh
PY=${PYTHON:-python3}
PYTAG=$($PY -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
wheel=$(ls "$ROOT"/dist/lazypath-*-"$PYTAG"-*.whl)

VENV=$ROOT/build/wheel-venv
log "fresh virtualenv build/wheel-venv/, pip install $(basename "$wheel")[test]"
rm -rf "$VENV"
$PY -m venv "$VENV"
# The dev pins as constraints (pip takes no extras there), so the wheel is
# tested with the versions the source tree is.
constraints=$ROOT/build/wheel-constraints.txt
sed -e 's/\[[^]]*\]//' requirements-dev.txt > "$constraints"
# --no-compile: Ray alone is thousands of modules; the suites compile what
# they import.
"$VENV/bin/python" -m pip install -q --no-compile -c "$constraints" "$wheel[test]"

RUN=$ROOT/build/wheel-run
rm -rf "$RUN"
mkdir -p "$RUN"
cd "$RUN"
"$VENV/bin/python" - "$VENV" <<'EOF'
import os, sys
import lazypath, lazypath._core, lazypath._doctor, ray  # noqa: F401
venv = os.path.realpath(sys.argv[1]) + os.sep
for mod in (lazypath, lazypath._core, lazypath._doctor):
    if not os.path.realpath(mod.__file__).startswith(venv):
        sys.exit(f"[wheel-test] error: {mod.__name__} is {mod.__file__}, not from {venv}")
print(f"[wheel-test] lazypath {lazypath.__file__}", file=sys.stderr)
EOF
# libcurl comes in through liblazypath_curl.so on the first request: a
# refused connection (not a loading error) says the wheel's copy loads.
if out=$("$VENV/bin/lazypath" show https://127.0.0.1:9/store prod 2>&1); then
  die "show on a closed port succeeded: $out"
fi
case "$out" in
  *"cannot load libcurl"*) die "the wheel's liblazypath_curl.so does not load: $out" ;;
esac
log "remote stores load libcurl: $out"

log "pytest (installed wheel): tests/test_api.py tests/test_cli.py tests/test_ray_e2e.py"
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  "$ROOT/tests/test_api.py" "$ROOT/tests/test_cli.py" "$ROOT/tests/test_ray_e2e.py" "$@"
rc=$?
set -e
log "pytest exited $rc"
if [ "$rc" = 5 ]; then
  log "pytest collected no tests: that is a failure here"
  exit 1
fi
exit "$rc"
