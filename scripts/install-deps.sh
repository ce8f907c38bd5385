#!/usr/bin/env bash
# Installs everything herald needs to build, test and run on a fresh Debian 12 machine.
# Safe to run any number of times: apt-get skips what is already installed.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git ca-certificates
    libuv1-dev librdkafka-dev libhiredis-dev
    libprotobuf-c-dev protobuf-c-compiler
    libwslay-dev libmicrohttpd-dev libjansson-dev libinih-dev
    libcmocka-dev uthash-dev nettle-dev
    libcurl4-openssl-dev libsodium-dev libssl-dev openssl
    clang cppcheck clang-format python3
    redis-server redis-tools curl procps tmux
    prometheus
    dpkg-dev fakeroot file systemd python3-yaml
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The tests and scripts/up.sh use the name localhost (certificates are issued for it, clients
# verify it). Debian's /etc/hosts always maps it, but a stripped image may lack the line; the name
# is reserved for loopback (RFC 6761), so put Debian's own line back rather than rely on DNS.
if ! getent hosts localhost >/dev/null 2>&1; then
    echo "install-deps: localhost does not resolve; adding '127.0.0.1 localhost' to /etc/hosts"
    echo "127.0.0.1	localhost" | $SUDO tee -a /etc/hosts >/dev/null
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# prometheus is here for its promtool (integration/test_metrics checks every daemon's /metrics
# with `promtool check metrics`). On a machine run by systemd the package also starts its own
# server on :9090 on every address; herald does not use it, so stop it again when this run
# installed it (docs/operations.md shows how to scrape herald).
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null &&
    [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
# The Debian package starts a system redis on :6379; herald runs its own instances on its own
# ports and never relies on that one, so leave it as the package set it up.
