#!/usr/bin/env bash
# One command for the whole test suite on a fresh Debian 12 machine: installs the dependencies,
# builds, and runs every unit, integration and web (headless Chromium) test under ctest. Idempotent.
#   scripts/test.sh            everything (unit + integration + web)
#   scripts/test.sh -L unit    only one label (arguments go to ctest)
#   scripts/test.sh --extra    then the sanitizer, fuzz, format and cppcheck passes of
#                              scripts/ci-extra.sh (always under CI=true)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
extra_passes=0
if [ "${1:-}" = "--extra" ]; then
    extra_passes=1
    shift
fi
if [ "${CI:-}" = "true" ]; then extra_passes=1; fi
"$root/scripts/install-deps.sh"
extra=()
if [ "${CI:-}" = "true" ]; then extra+=(-DHERALD_WERROR=ON); fi
"$root/scripts/build.sh" "${extra[@]}"
# Chromium, Node and playwright-core for the web console's test (about a minute the first time,
# under a second after). The suite skips nothing, so without them there is no suite to run.
if ! "$root/scripts/install-web-deps.sh"; then
    echo "test.sh: the web test's dependencies could not be installed (scripts/install-web-deps.sh)" >&2
    exit 1
fi
build=${HERALD_BUILD_DIR:-$root/build}
cd "$build"
start=$(date +%s)
rc=0
ctest --output-on-failure --timeout 300 "$@" || rc=$?
echo "test.sh: ctest $([ $rc -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - start)) s"
# The extra passes run even after a failed suite, so one CI run reports everything.
if [ $extra_passes -eq 1 ]; then
    "$root/scripts/ci-extra.sh" || rc=1
fi
exit $rc
