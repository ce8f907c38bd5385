#!/usr/bin/env bash
# One command for the whole test suite on a fresh Debian 12 machine: installs the dependencies,
# builds, and runs every unit and integration test under ctest. Idempotent.
#   scripts/test.sh            everything (unit + integration)
#   scripts/test.sh -L unit    only one label (arguments go to ctest)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
extra=()
if [ "${CI:-}" = "true" ]; then extra+=(-DHERALD_WERROR=ON); fi
"$root/scripts/build.sh" "${extra[@]}"
build=${HERALD_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure --timeout 300 "$@"
