#!/usr/bin/env bash
# Installs what the web console's browser test (tests/web, ctest label "web") needs on Debian 12:
# Debian's chromium, Node.js and npm (only when no `node` is on the PATH: a newer Node that is
# already installed is kept), and playwright-core as pinned in tests/web/package-lock.json.
# Idempotent, and quick when everything is there. Without these the test reports itself skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-web-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm ci reinstalls from scratch, so skip it when the pinned version is already in place.
web=$root/tests/web
want=$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' "$web/package.json")
installed=$web/node_modules/playwright-core/package.json
have=""
if [ -f "$installed" ]; then have=$(grep -m 1 '"version"' "$installed" | cut -d'"' -f4); fi
if [ "$have" != "$want" ]; then
    echo "install-web-deps: npm ci in tests/web (playwright-core $want)"
    (cd "$web" && npm ci --no-audit --no-fund)
fi
echo "install-web-deps: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}')," \
    "node $(node --version), playwright-core $want"
