#!/usr/bin/env bash
# Stops the local cluster started by scripts/up.sh (Redis keeps its AOF in run/redis/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=$root/run
DAEMONS=(redis kafka-dev router logic comet job)
. "$root/scripts/lib-cluster.sh"
cluster_stop_all
