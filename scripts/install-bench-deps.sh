#!/usr/bin/env bash
# Installs what bench/run.sh needs beyond scripts/install-deps.sh: the peers measured side by
# side with herald (nginx + nchan, mosquitto), gnuplot and jq for bench/plot.sh. The test suite does not
# need any of these (the bench/smoke test runs herald only). Debian packages; run as root.
set -euo pipefail
pkgs=(nginx libnginx-mod-nchan mosquitto gnuplot-nox jq)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends; policy-rc.d keeps the packages from starting their system services:
    # the bench starts its own instances on loopback with generated configs.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Stop any system instance a package may have started anyway, so only the bench's own run.
for svc in nginx mosquitto; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" 2>/dev/null || true; fi
done
echo "bench dependencies installed: ${pkgs[*]}"
