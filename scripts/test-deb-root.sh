#!/usr/bin/env bash
# test-deb-root.sh - step 5 of scripts/test-deb.sh, run by it as root inside a private mount
# namespace (unshare -m) with SCRATCH set: $SCRATCH/herald.deb is installed with `dpkg -i` into
# an overlay of this machine's root whose writes all land in $SCRATCH/ov/u, then a cluster is run
# from the installed package as user herald, the daemons started by their units' ExecStart lines.
# The mounts exist only in this namespace; the processes it starts are stopped on exit.
set -euo pipefail
: "${SCRATCH:?run by scripts/test-deb.sh}"
m=$SCRATCH/ov/m
units=$m/usr/lib/systemd/system
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
pids=()
stop_all() { # SIGTERM, and SIGKILL for what has not exited 10 s later
    [ ${#pids[@]} -gt 0 ] || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    (sleep 10 && kill -KILL "${pids[@]}" 2>/dev/null) &
    local killer=$!
    wait "${pids[@]}" 2>/dev/null || true
    kill "$killer" 2>/dev/null || true
}
trap stop_all EXIT

mount -t overlay overlay -o "lowerdir=/,upperdir=$SCRATCH/ov/u,workdir=$SCRATCH/ov/w" "$m"
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
mount -t tmpfs tmpfs "$m/tmp"
mount -t tmpfs tmpfs "$m/run"
cp "$SCRATCH/herald.deb" "$SCRATCH/render-config.sh" "$m/tmp/"

# dpkg -i, with the postinst.
chroot "$m" dpkg -i /tmp/herald.deb >"$SCRATCH/dpkg.log" 2>&1 || { cat "$SCRATCH/dpkg.log" >&2; fail "dpkg -i"; }
chroot "$m" dpkg -s herald | grep -q '^Status: install ok installed$' || fail "dpkg -s herald"
chroot "$m" getent passwd herald >/dev/null || fail "postinst made no herald user"
perms=$(chroot "$m" stat -c %a:%U:%G /etc/herald)
[ "$perms" = 750:root:herald ] || fail "/etc/herald is $perms, not 750:root:herald"
chroot "$m" systemd-analyze verify /usr/lib/systemd/system/herald-{router,logic,job}.service \
    /usr/lib/systemd/system/herald-comet@1.service || fail "systemd-analyze verify"
echo "test-deb: dpkg -i in a throwaway root: installed, user herald and /etc/herald made, units verified"

# Configuration: the packaged examples rendered with free loopback ports, and a secret.
read -r p_redis p_rr p_ra p_http p_lr p_ja p_t1 p_w1 p_r1 p_a1 p_t2 p_w2 p_r2 p_a2 < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(14)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
(umask 027; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$m/etc/herald/secret")
chroot "$m" chgrp herald /etc/herald/secret
ex=/usr/share/doc/herald/examples
render() { # OUT EXAMPLE VAR=VALUE...
    local out=$1 example=$2
    shift 2
    chroot "$m" env HERALD_CLUSTER_SECRET_FILE=/etc/herald/secret "$@" \
        sh /tmp/render-config.sh "$ex/$example" "/etc/herald/$out" 2>/dev/null
    local kv
    for kv in "$@"; do grep -qx "[a-z_]* = ${kv#*=}" "$m/etc/herald/$out" || fail "$out: $kv not rendered"; done
}
render router.ini router.ini HERALD_RPC_LISTEN=127.0.0.1:$p_rr HERALD_ADMIN_LISTEN=127.0.0.1:$p_ra
render logic.ini logic.ini HERALD_HTTP_LISTEN=127.0.0.1:$p_http HERALD_RPC_LISTEN=127.0.0.1:$p_lr \
    HERALD_ROUTER_ADDRS=127.0.0.1:$p_rr HERALD_REDIS_ADDR=127.0.0.1:$p_redis
render job.ini job.ini HERALD_ADMIN_LISTEN=127.0.0.1:$p_ja HERALD_REDIS_ADDR=127.0.0.1:$p_redis
render comet-1.ini comet.ini HERALD_SERVER_ID=deb-comet-1 HERALD_TCP_LISTEN=127.0.0.1:$p_t1 \
    HERALD_WEBSOCKET_LISTEN=127.0.0.1:$p_w1 HERALD_RPC_LISTEN=127.0.0.1:$p_r1 \
    HERALD_ADMIN_LISTEN=127.0.0.1:$p_a1 HERALD_LOGIC_ADDRS=127.0.0.1:$p_lr
render comet-2.ini comet.ini HERALD_SERVER_ID=deb-comet-2 HERALD_TCP_LISTEN=127.0.0.1:$p_t2 \
    HERALD_WEBSOCKET_LISTEN=127.0.0.1:$p_w2 HERALD_RPC_LISTEN=127.0.0.1:$p_r2 \
    HERALD_ADMIN_LISTEN=127.0.0.1:$p_a2 HERALD_LOGIC_ADDRS=127.0.0.1:$p_lr

as_herald() { chroot "$m" setpriv --reuid=herald --regid=herald --init-groups "$@"; }
spawn() { # NAME CMD...: in the background, as herald, output to $SCRATCH/NAME.log
    local name=$1
    shift
    # chroot and setpriv exec, so $! is the daemon itself (a function here would fork a subshell)
    chroot "$m" setpriv --reuid=herald --regid=herald --init-groups "$@" \
        >"$SCRATCH/$name.log" 2>&1 </dev/null &
    pids+=($!)
}
# A unit as systemd would run it: its User, WorkingDirectory and ExecStart (%i: the instance).
spawn_unit() { # NAME UNIT [INSTANCE]
    local f=$units/$2 exec wd
    exec=$(sed -n 's/^ExecStart=//p' "$f")
    exec=${exec//%i/${3:-}}
    wd=$(sed -n 's/^WorkingDirectory=//p' "$f")
    grep -qx 'User=herald' "$f" || fail "$2: not User=herald"
    spawn "$1" sh -c "cd '$wd' && exec $exec"
}
wait_port() { # NAME PORT
    local n
    for ((n = 0; n < 150; n++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
        sleep 0.1
    done
    tail -n 20 "$SCRATCH/$1.log" >&2
    fail "$1 is not listening on $2 after 15 s"
}

spawn redis redis-server --port "$p_redis" --bind 127.0.0.1 --save "" --appendonly no --dir /tmp
wait_port redis "$p_redis"
spawn kafka-dev herald-kafka-dev
for ((n = 0; n < 150; n++)); do
    brokers=$(sed -n 's/^bootstrap=//p' "$SCRATCH/kafka-dev.log")
    [ -n "$brokers" ] && break
    sleep 0.1
done
[ -n "$brokers" ] || fail "herald-kafka-dev printed no bootstrap line"
for f in logic.ini job.ini; do
    chroot "$m" env HERALD_KAFKA_BROKERS="$brokers" HERALD_KAFKA_FETCH_WAIT_MAX=1ms \
        sh /tmp/render-config.sh "/etc/herald/$f" "/etc/herald/$f" 2>/dev/null
done
spawn_unit router herald-router.service
wait_port router "$p_rr"
spawn_unit logic herald-logic.service
wait_port logic "$p_http"
spawn_unit comet-1 herald-comet@.service 1
spawn_unit comet-2 herald-comet@.service 2
wait_port comet-1 "$p_t1"
wait_port comet-2 "$p_t2"
spawn_unit job herald-job.service
wait_port job "$p_ja"

# logic finds the packaged web console through http.web_root = web and the unit's directory.
curl -sf "http://127.0.0.1:$p_http/web/" | grep -qi '<html' || fail "logic does not serve /web/"
# A push reaches a client on each comet instance.
for i in 1 2; do
    mid=$((4200 + i))
    port_var=p_t$i
    token=$(as_herald herald-cli token --logic "127.0.0.1:$p_http" --mid "$mid") || fail "herald-cli token"
    chroot "$m" setpriv --reuid=herald --regid=herald --init-groups herald-cli listen --comet "127.0.0.1:${!port_var}" --token "$token" --count 1 --timeout-ms 20000 \
        >"$SCRATCH/listen-$i.out" 2>"$SCRATCH/listen-$i.err" &
    listener=$!
    got=0
    for ((n = 0; n < 60; n++)); do
        sleep 0.3
        curl -s -X POST "http://127.0.0.1:$p_http/goim/push/mids?operation=1000&mids=$mid" \
            -d "hello deb $i" >/dev/null || true
        if ! kill -0 "$listener" 2>/dev/null; then got=1; break; fi
    done
    wait "$listener" || { cat "$SCRATCH/listen-$i.err" >&2; tail -n 20 "$SCRATCH"/{logic,job,comet-$i}.log >&2; fail "no push reached comet-$i"; }
    [ "$got" = 1 ] && grep -q "body=hello deb $i" "$SCRATCH/listen-$i.out" ||
        fail "comet-$i client got '$(cat "$SCRATCH/listen-$i.out")'"
done
echo "test-deb: the package's router, logic, job, herald-comet@1 and @2 run as herald from their units; /web/ served; a push reached a client on each comet"
