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
    dpkg-dev fakeroot file systemd python3-yaml
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

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
# The Debian package starts a system redis on :6379; herald runs its own instances on its own
# ports and never relies on that one, so leave it as the package set it up.
