# Shell functions shared by scripts/up.sh and scripts/down.sh (sourced, not run).
# Expects $run (state folder), $root and the DAEMONS array.

cluster_pid() { cat "$run/pid/$1.pid" 2>/dev/null || true; }

cluster_alive() {
    local pid
    pid=$(cluster_pid "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

cluster_all_alive() {
    local d
    for d in "${DAEMONS[@]}"; do cluster_alive "$d" || return 1; done
}

# Stops in reverse start order: SIGTERM, then SIGKILL after 20 s (a comet with clients first
# drains them over server.drain_time, 10 s by default).
cluster_stop_all() {
    local i d pid n
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        d=${DAEMONS[$i]}
        pid=$(cluster_pid "$d")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((n = 0; n < 200; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                echo "$d (pid $pid) did not stop in 20 s: SIGKILL" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
            echo "stopped $d"
        fi
        rm -f "$run/pid/$d.pid"
    done
}

cluster_fail() {
    echo "error: $1 $2; last lines of $run/log/$1.log:" >&2
    tail -n 20 "$run/log/$1.log" >&2 || true
    exit 1
}

# cluster_spawn NAME CMD ARGS...: starts CMD detached, output to run/log/NAME.log.
cluster_spawn() {
    local name=$1
    shift
    setsid "$@" >"$run/log/$name.log" 2>&1 </dev/null &
    echo $! >"$run/pid/$name.pid"
}

# cluster_wait_port NAME HOST PORT: waits up to 15 s for a listener, failing if NAME died.
cluster_wait_port() {
    local n
    for ((n = 0; n < 150; n++)); do
        (exec 3<>"/dev/tcp/$2/$3") 2>/dev/null && return 0
        cluster_alive "$1" || cluster_fail "$1" "exited"
        sleep 0.1
    done
    cluster_fail "$1" "is not listening on $2:$3 after 15 s"
}

# cluster_wait_line NAME REGEX: prints the first log line of NAME matching REGEX (15 s at most).
cluster_wait_line() {
    local n line
    for ((n = 0; n < 150; n++)); do
        line=$(grep -m1 -E "$2" "$run/log/$1.log" 2>/dev/null || true)
        if [ -n "$line" ]; then echo "$line"; return 0; fi
        cluster_alive "$1" || cluster_fail "$1" "exited"
        sleep 0.1
    done
}

cluster_print_usage() {
    cat <<USAGE

  clients (goim v2 protocol):  TCP 127.0.0.1:3101   WebSocket ws://127.0.0.1:3102/sub
  business HTTP API (logic):   http://127.0.0.1:3111
  web console:                 http://127.0.0.1:3111/web/
  Redis:                       127.0.0.1:${REDIS_PORT}   Kafka (herald-kafka-dev): $(cat "$run/brokers" 2>/dev/null)

  Try it:
    token=\$(build/bin/herald-cli token --logic 127.0.0.1:3111 --mid 42)
    build/bin/herald-cli listen --comet 127.0.0.1:3101 --token "\$token" --room live://1000 &
    curl -s -X POST 'http://127.0.0.1:3111/goim/push/mids?operation=1000&mids=42' -d 'hello'

  Stop: scripts/down.sh
USAGE
}
