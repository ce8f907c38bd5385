#!/usr/bin/env bash
# One command to run herald on this machine: installs the dependencies, builds, and starts
# redis-server (with AOF persistence), herald-kafka-dev, herald-router, herald-logic, herald-comet
# and herald-job in the background, then prints where to point a client.
#
# Idempotent: when the cluster from an earlier run is still up, it only prints the addresses.
# State lives in run/ (logs in run/log/, pid files in run/pid/, Redis data in run/redis/).
# Stop everything with scripts/down.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=$root/run
bin=${HERALD_BUILD_DIR:-$root/build}/bin
# Local ports: the daemons' defaults (docs/internals.md); Redis on its own port so that a system
# redis-server on 6379 is never touched.
REDIS_PORT=${HERALD_LOCAL_REDIS_PORT:-3160}
DAEMONS=(redis kafka-dev router logic comet job)

. "$root/scripts/lib-cluster.sh"

if cluster_all_alive; then
    echo "herald is already running (pids in $run/pid)."
    cluster_print_usage
    exit 0
fi
cluster_stop_all # leftovers of a partly running cluster

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
mkdir -p "$run/log" "$run/pid" "$run/redis"

# The cluster secret every daemon proves on its internal RPC connections (docs/security.md):
# made once, kept across runs, readable by this user only. Another machine of the same cluster
# gets a copy of this file (or the same HERALD_CLUSTER_SECRET).
if [ ! -s "$run/secret" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$run/secret.tmp")
    mv "$run/secret.tmp" "$run/secret"
fi
chmod 600 "$run/secret"
export HERALD_CLUSTER_SECRET_FILE=$run/secret

cluster_spawn redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$run/redis" \
    --appendonly yes --appendfsync everysec --save ""
cluster_wait_port redis 127.0.0.1 "$REDIS_PORT"

cluster_spawn kafka-dev "$bin/herald-kafka-dev"
brokers=$(cluster_wait_line kafka-dev '^bootstrap=' | cut -d= -f2)
[ -n "$brokers" ] || cluster_fail kafka-dev "did not print its bootstrap address"
echo "$brokers" >"$run/brokers"

export HERALD_REDIS_ADDR=127.0.0.1:$REDIS_PORT HERALD_KAFKA_BROKERS=$brokers
export HERALD_HTTP_WEB_ROOT=$root/web # logic serves the console at /web/ whatever the cwd
cluster_spawn router "$bin/herald-router" -c "$root/conf/router.ini"
cluster_wait_port router 127.0.0.1 3129
cluster_spawn logic "$bin/herald-logic" -c "$root/conf/logic.ini"
cluster_wait_port logic 127.0.0.1 3119
cluster_wait_port logic 127.0.0.1 3111
cluster_spawn comet "$bin/herald-comet" -c "$root/conf/comet.ini"
cluster_wait_port comet 127.0.0.1 3101
# herald-kafka-dev holds an empty fetch for the whole wait (1ms: no added latency), and takes
# sessions down to 3.5s: a job killed and started again gets its partitions back in about 6s
# instead of 11s (docs/delivery.md, "Failures").
cluster_spawn job env HERALD_KAFKA_FETCH_WAIT_MAX=1ms HERALD_KAFKA_SESSION_TIMEOUT=3500ms \
    "$bin/herald-job" -c "$root/conf/job.ini"
cluster_wait_port job 127.0.0.1 3148

echo "herald is up. Logs: $run/log/"
cluster_print_usage
