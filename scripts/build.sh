#!/usr/bin/env bash
# Configures and builds herald into build/ (or $HERALD_BUILD_DIR). Extra arguments go to cmake's
# configure step, e.g. scripts/build.sh -DHERALD_ASAN=ON. Safe to run repeatedly (incremental).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HERALD_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=${HERALD_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
