#!/usr/bin/env bash
# bench/run.sh <scenario> [options]: runs one benchmark scenario on loopback, stops everything it
# started, prints a result table and appends the raw JSON lines to bench/results/.
#
# Scenarios (bench/README.md):
#   smoke    100 connections (TCP + WebSocket) on herald, room and user pushes for a few seconds;
#            fails unless deliveries happened and the summaries parse. Part of ctest (label bench).
#   idle     memory per idle authenticated connection: comet RSS growth at N connections, TCP and
#            WebSocket, and the peers (nchan WebSocket, mosquitto MQTT) at the same N.
#   fanout   S subscribers of one room × R messages/s for T seconds: deliveries/s at the clients,
#            latency, deliveries per server CPU-second; herald, nchan, mosquitto in the same run.
#   push     user pushes end to end (HTTP → logic → Kafka → job → comet → client) at R/s over N
#            mids, then a ramp of rates to find the saturation point.
#   connect  authenticated connections per second (TCP and WebSocket).
#   rpc      the internal RPC in one process (herald-bench rpc), in clear and over mutual TLS
#            ([rpc] tls_*, a throwaway CA made at start): connect time, calls/s and CPU per call,
#            pipelined small calls, one call at a time, and 4 KiB requests.
#   With --tls, idle and connect add TLS-over-TCP and WSS rows and fanout a herald-tls row (every
#   comet serves [tls] with a throwaway self-signed certificate made at start; full handshakes,
#   no resumption).
#
# Options: --bin DIR (default build/bin), --full (longer runs, 50k/100k connections), --no-peers,
#          --no-save, --conns N, --rate R, --duration T, --subs S, --comets K, --workers W,
#          --linger MS (job's room.linger; default: job's own default), --tls,
#          --perf (perf record -g: the first comet during fanout, the whole system during each push
#          rate; reports in the results folder).
# Environment: SAT_RATES="2000 4000 8000" (push ramp), PUSH_CONNS=64 (pusher connections),
#          IDLE_HOLD=3 (seconds between set-up and the RSS reading), KEEP_TMP=1 (keep the logs).
# Binaries: --bin DIR, or build/bin. When build/bin lacks them, run.sh makes a Release build
# there first (scripts/install-deps.sh, then scripts/build.sh with HERALD_BUILD_TYPE=Release);
# with --bin it only says what is missing. The peers need scripts/install-bench-deps.sh.
# Loopback only. run.sh --help prints this text.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,/^set -euo pipefail$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
scenario=${1:-}
case $scenario in
-h | --help) usage; exit 0 ;;
smoke | idle | fanout | push | connect | rpc) ;;
"") usage >&2; exit 2 ;;
*) echo "unknown scenario $scenario (smoke, idle, fanout, push, connect, rpc; --help)" >&2; exit 2 ;;
esac
shift
RUN_ARGS="$*"
default_bin=$root/build/bin
bin=$default_bin
full=0 peers=1 save=1 perf=0
opt_conns="" opt_rate="" opt_duration="" opt_subs="" opt_comets="" opt_workers="" opt_linger=""
opt_tls=0
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift ;;
    --full) full=1 ;;
    --no-peers) peers=0 ;;
    --no-save) save=0 ;;
    --perf) perf=1 ;;
    --conns) opt_conns=$2; shift ;;
    --rate) opt_rate=$2; shift ;;
    --duration) opt_duration=$2; shift ;;
    --subs) opt_subs=$2; shift ;;
    --comets) opt_comets=$2; shift ;;
    --workers) opt_workers=$2; shift ;;
    --linger) opt_linger=$2; shift ;;
    --tls) opt_tls=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option $1 (bench/run.sh --help)" >&2; exit 2 ;;
    esac
    shift
done
BINARIES=(herald-bench herald-comet herald-logic herald-router herald-job herald-kafka-dev)
missing_binaries() {
    local b
    for b in "${BINARIES[@]}"; do [ -x "$bin/$b" ] || echo "$b"; done
}
if [ -n "$(missing_binaries)" ]; then
    if [ "$bin" != "$default_bin" ]; then
        echo "missing in $bin: $(missing_binaries | tr '\n' ' ')- build them (bench/README.md:" \
            "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2) or give" \
            "--bin the build's bin/ folder" >&2
        exit 1
    fi
    echo "run.sh: no herald binaries in $bin: making a Release build into $root/build" >&2
    "$root/scripts/install-deps.sh" >&2
    HERALD_BUILD_TYPE=Release "$root/scripts/build.sh" >&2
    [ -z "$(missing_binaries)" ] || { echo "build made no $(missing_binaries)" >&2; exit 1; }
fi
bin=$(cd "$bin" && pwd)
ulimit -n 20000 2>/dev/null || true
# Daemons read only the environment below: never the caller's HERALD_* settings.
for v in $(env | sed -n 's/^\(HERALD_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

tmp=$(mktemp -d /tmp/herald-bench.XXXXXX)
# Every daemon proves this run's cluster secret on its RPC connections (docs/security.md).
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/secret")
export HERALD_CLUSTER_SECRET_FILE=$tmp/secret
date_tag=$(date -u +%Y%m%d-%H%M%S)
results_dir=$root/bench/results
results_file=$results_dir/$scenario-$date_tag.json
# perf reports go with the results, or to /tmp with --no-save
perf_dir=$results_dir
[ "$save" = 1 ] || perf_dir=${TMPDIR:-/tmp}
declare -A PID=()
ORDER=()
USED_PORTS=" "

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

stop_one() {
    local name=$1 pid=${PID[$1]:-} n
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((n = 0; n < 100; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

stop_all() {
    local i
    for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do stop_one "${ORDER[$i]}"; done
    ORDER=()
}

cleanup() {
    stop_all
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "logs kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "error: $*" >&2
    local f
    for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
    exit 1
}

# spawn NAME CMD...: starts CMD in its own session, output in $tmp/NAME.log.
spawn() {
    local name=$1
    shift
    (cd "$tmp" && exec setsid "$@") >"$tmp/$name.log" 2>&1 </dev/null &
    PID[$name]=$!
    ORDER+=("$name")
}

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        case $USED_PORTS in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS+="$p "
            echo "$p"
            return
        fi
    done
}

wait_port() {
    local name=$1 port=$2 n
    for ((n = 0; n < 200; n++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "${PID[$name]}" 2>/dev/null || fail "$name exited"
        sleep 0.1
    done
    fail "$name is not listening on $port after 20 s"
}

# jnum LINE KEY: the number of a top-level (or first) "key": in a summary line.
jnum() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1" | head -n1; }

# rss_kib PID...: summed VmRSS of the processes, KiB.
rss_kib() {
    local p t=0 v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# cpu_ticks PID...: summed utime + stime, clock ticks.
cpu_ticks() {
    local p t=0 v
    for p in "$@"; do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)

# record JSON: appends one line to the results file (unless --no-save).
record() {
    if [ "$save" = 1 ]; then
        mkdir -p "$results_dir"
        echo "$1" >>"$results_file"
    fi
}

versions() {
    local commit nginx_v nchan_v mosq_v
    commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$root" diff --quiet HEAD -- src 2>/dev/null || commit="$commit+dirty"
    nginx_v=$(nginx -v 2>&1 | sed 's/.*nginx\///' || true)
    nchan_v=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo none)
    mosq_v=$(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null || echo none)
    echo "{\"record\":\"run\",\"scenario\":\"$scenario\",\"date\":\"$(date -u +%FT%TZ)\",\"herald\":\"$commit\",\"nginx\":\"${nginx_v:-none}\",\"nchan\":\"$nchan_v\",\"mosquitto\":\"$mosq_v\",\"uptime\":\"$(uptime | sed 's/.*load/load/')\",\"cmd\":\"bench/run.sh $scenario ${RUN_ARGS}\"}"
}

# ------------------------------------------------------------------------------------ herald

COMET_PIDS=()
COMET_TCP=()
COMET_WS=()
LOGIC_HTTP=""
JOB_ADMIN=""

# start_herald K: redis, kafka-dev, router, logic (insecure-mid), K comets, job.
start_herald() {
    local k=$1 i redis_port router_rpc logic_rpc brokers n
    redis_port=$(free_port)
    spawn redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$tmp"
    wait_port redis "$redis_port"
    spawn kafka "$bin/herald-kafka-dev"
    for ((n = 0; n < 150; n++)); do
        brokers=$(sed -n 's/^bootstrap=//p' "$tmp/kafka.log" | head -n1)
        [ -n "$brokers" ] && break
        sleep 0.1
    done
    [ -n "$brokers" ] || fail "herald-kafka-dev printed no bootstrap address"
    router_rpc=$(free_port)
    HERALD_LOG_LEVEL=warn HERALD_RPC_LISTEN=127.0.0.1:$router_rpc \
        HERALD_ADMIN_LISTEN=127.0.0.1:$(free_port) spawn router "$bin/herald-router"
    wait_port router "$router_rpc"
    LOGIC_HTTP=$(free_port)
    logic_rpc=$(free_port)
    HERALD_LOG_LEVEL=warn HERALD_HTTP_LISTEN=127.0.0.1:$LOGIC_HTTP \
        HERALD_RPC_LISTEN=127.0.0.1:$logic_rpc HERALD_REDIS_ADDR=127.0.0.1:$redis_port \
        HERALD_KAFKA_BROKERS=$brokers HERALD_ROUTER_ADDRS=127.0.0.1:$router_rpc \
        HERALD_AUTH_MODE=insecure-mid HERALD_REGISTRY_REFRESH=500ms spawn logic "$bin/herald-logic"
    wait_port logic "$LOGIC_HTTP"
    COMET_PIDS=() COMET_TCP=() COMET_WS=() COMET_TLS=() COMET_WSS=()
    [ -f "$tmp/tls.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$tmp/tls.key" -out "$tmp/tls.pem" 2>/dev/null || fail "openssl req failed"
    for ((i = 0; i < k; i++)); do
        local tcp ws tls wss
        tcp=$(free_port)
        ws=$(free_port)
        tls=$(free_port)
        wss=$(free_port)
        HERALD_TLS_LISTEN=127.0.0.1:$tls HERALD_TLS_WSS_LISTEN=127.0.0.1:$wss \
            HERALD_TLS_CERT=$tmp/tls.pem HERALD_TLS_KEY=$tmp/tls.key \
            HERALD_LOG_LEVEL=warn HERALD_SERVER_ID=bench-comet-$i HERALD_TCP_LISTEN=127.0.0.1:$tcp \
            HERALD_WEBSOCKET_LISTEN=127.0.0.1:$ws HERALD_RPC_LISTEN=127.0.0.1:$(free_port) \
            HERALD_ADMIN_LISTEN=127.0.0.1:$(free_port) HERALD_LOGIC_ADDRS=127.0.0.1:$logic_rpc \
            HERALD_SERVER_RENEW_ONLINE_INTERVAL=2s HERALD_SERVER_WORKERS=${opt_workers:-0} \
            HERALD_SERVER_DRAIN_TIME=0 spawn "comet$i" "$bin/herald-comet"
        wait_port "comet$i" "$tcp"
        wait_port "comet$i" "$ws"
        COMET_PIDS+=("${PID[comet$i]}")
        COMET_TCP+=("127.0.0.1:$tcp")
        COMET_WS+=("127.0.0.1:$ws")
        COMET_TLS+=("127.0.0.1:$tls")
        COMET_WSS+=("127.0.0.1:$wss")
    done
    JOB_ADMIN=$(free_port)
    HERALD_LOG_LEVEL=warn HERALD_ADMIN_LISTEN=127.0.0.1:$JOB_ADMIN \
        HERALD_REDIS_ADDR=127.0.0.1:$redis_port HERALD_KAFKA_BROKERS=$brokers \
        HERALD_ROOM_REFRESH=200ms HERALD_COMET_REFRESH=500ms HERALD_KAFKA_FETCH_WAIT_MAX=1ms \
        spawn job env ${opt_linger:+HERALD_ROOM_LINGER=${opt_linger}ms} "$bin/herald-job"
    wait_port job "$JOB_ADMIN"
    for ((n = 0; n < 300; n++)); do
        local m
        m=$(curl -s "http://127.0.0.1:$JOB_ADMIN/metrics" || true)
        [ "$(jnum "$m" comets_connected)" = "$k" ] && break
        sleep 0.1
    done
    [ "$(jnum "$m" comets_connected)" = "$k" ] || fail "job does not see $k comets after 30 s"
    # Warm-up: the first message waits for job's consumer to get its partitions (about a second
    # on herald-kafka-dev); no measured message should.
    curl -s -o /dev/null -X POST -d warmup \
        "http://127.0.0.1:$LOGIC_HTTP/goim/push/room?operation=1000&type=warmup&room=0"
    for ((n = 0; n < 300; n++)); do
        m=$(curl -s "http://127.0.0.1:$JOB_ADMIN/metrics" || true)
        [ "$(jnum "$m" consumed)" -ge 1 ] 2>/dev/null && return 0
        sleep 0.1
    done
    fail "job consumed nothing 30 s after a warm-up push"
}

comet_targets() { # comet_targets tcp|ws|tls|wss
    local IFS=,
    case $1 in
    ws) echo "${COMET_WS[*]}" ;;
    tls | tls-resumed) echo "${COMET_TLS[*]}" ;;
    wss) echo "${COMET_WSS[*]}" ;;
    *) echo "${COMET_TCP[*]}" ;;
    esac
}

# bench_proto tcp|ws|tls|wss: herald-bench's options for it.
bench_proto() {
    case $1 in
    tls) echo "--proto tcp --tls" ;;
    tls-resumed) echo "--proto tcp --tls --tls-resume" ;;
    wss) echo "--proto ws --tls" ;;
    *) echo "--proto $1" ;;
    esac
}

# herald_protos: the herald rows of idle and connect (connect adds resumed TLS handshakes).
herald_protos() { if [ "$opt_tls" = 1 ]; then echo "tcp ws tls wss"; else echo "tcp ws"; fi; }

# ------------------------------------------------------------------------------------ peers

NGINX_PORT=""
NGINX_PIDS=()
MOSQ_PORT=""

start_nchan() { # start_nchan WORKERS
    local workers=$1 n
    NGINX_PORT=$(free_port)
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off;
master_process on;
worker_processes $workers;
worker_rlimit_nofile 20000;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 19900; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    nchan_shared_memory_size 256M;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location ~ /pub/(\w+)$ { nchan_publisher; nchan_channel_id \$1; nchan_message_buffer_length 10; nchan_message_timeout 60s; }
        location ~ /sub/(\w+)$ { nchan_subscriber websocket; nchan_channel_id \$1; }
    }
}
EOF
    spawn nginx nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx"
    wait_port nginx "$NGINX_PORT"
    sleep 0.5
    mapfile -t NGINX_PIDS < <(echo "${PID[nginx]}"; pgrep -P "${PID[nginx]}" || true)
}

start_mosquitto() {
    MOSQ_PORT=$(free_port)
    cat >"$tmp/mosquitto.conf" <<EOF
listener $MOSQ_PORT 127.0.0.1
allow_anonymous true
persistence false
max_connections -1
max_queued_messages 1000
log_type error
EOF
    spawn mosquitto mosquitto -c "$tmp/mosquitto.conf"
    wait_port mosquitto "$MOSQ_PORT"
}

# ----------------------------------------------------------------------------------- clients

# subs_start NAME ARGS...: herald-bench conn in the background; waits for its ready file.
subs_start() {
    local name=$1 n
    shift
    rm -f "$tmp/$name.ready"
    spawn "$name" "$bin/herald-bench" conn --ready-file "$tmp/$name.ready" --duration 0 \
        --progress 5 "$@"
    for ((n = 0; n < 1200; n++)); do
        [ -f "$tmp/$name.ready" ] && return 0
        kill -0 "${PID[$name]}" 2>/dev/null || fail "$name exited before it was ready"
        sleep 0.1
    done
    fail "$name not ready after 120 s"
}

# subs_stop NAME: SIGTERM, then prints the summary line.
subs_stop() {
    stop_one "$1"
    grep '^{' "$tmp/$1.log" | tail -n1
}

procs_for() { echo $((($1 + 14999) / 15000)); }

line() { printf '%s\n' "$*"; }

# ------------------------------------------------------------------------------------ scenarios

scenario_smoke() {
    start_herald 1
    local tcp ws push mids
    subs_start subs_tcp --proto tcp --target "$(comet_targets tcp)" --conns 60 --mid-base 1000 \
        --heartbeat 1
    subs_start subs_ws --proto ws --target "$(comet_targets ws)" --conns 40 --mid-base 2000 \
        --heartbeat 1
    sleep 1 # job's room refresh (200 ms) has seen the room on the comet
    push=$("$bin/herald-bench" push --kind room --target "127.0.0.1:$LOGIC_HTTP" --rate 20 \
        --duration 3 --conns 2 2>>"$tmp/push.log")
    mids=$("$bin/herald-bench" push --kind mids --target "127.0.0.1:$LOGIC_HTTP" --rate 50 \
        --duration 2 --conns 2 --mid-base 1000 --mids 60 2>>"$tmp/push.log")
    sleep 1
    tcp=$(subs_stop subs_tcp)
    ws=$(subs_stop subs_ws)
    local l
    for l in "$push" "$mids" "$tcp" "$ws"; do
        echo "$l"
        record "$l"
        if command -v jq >/dev/null; then
            jq -e . >/dev/null <<<"$l" || fail "summary does not parse: $l"
        elif command -v python3 >/dev/null; then
            python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$l" ||
                fail "summary does not parse: $l"
        fi
        [[ $l == '{"mode":'*'}' ]] || fail "not a summary line: $l"
    done
    local ok sent dt dw rt rw
    ok=$(jnum "$push" ok)
    sent=$(jnum "$push" sent)
    dt=$(jnum "$tcp" deliveries)
    dw=$(jnum "$ws" deliveries)
    rt=$(jnum "$tcp" ready)
    rw=$(jnum "$ws" ready)
    [ "$rt" = 60 ] && [ "$rw" = 40 ] || fail "connections set up: tcp $rt/60, ws $rw/40"
    [ "${ok:-0}" -gt 0 ] && [ "$ok" = "$sent" ] || fail "room pushes accepted $ok of $sent"
    [ "$(jnum "$mids" ok)" -gt 0 ] || fail "no mids push accepted"
    # Every room push reaches every subscriber; the mids pushes add some to the TCP ones.
    [ "$dt" -ge $((ok * 60)) ] || fail "tcp deliveries $dt < $((ok * 60))"
    [ "$dw" -ge $((ok * 40)) ] || fail "ws deliveries $dw < $((ok * 40))"
    [ "$(jnum "$tcp" hb_replies)" -gt 0 ] || fail "no heartbeat replies"
    echo "smoke: OK ($ok room pushes → tcp $dt, ws $dw deliveries; $(jnum "$mids" ok) user pushes)"
}

idle_herald() { # idle_herald PROTO N
    local proto=$1 n=$2 k before after subs per
    k=${opt_comets:-$(((n + 18999) / 19000))}
    start_herald "$k"
    sleep 1
    local c0 c1 c2 setup_cpu idle_cpu
    before=$(rss_kib "${COMET_PIDS[@]}")
    c0=$(cpu_ticks "${COMET_PIDS[@]}")
    # shellcheck disable=SC2046
    subs_start subs $(bench_proto "$proto") --target "$(comet_targets "$proto")" --conns "$n" \
        --procs "$(procs_for "$n")" --src-addrs 8 --rate 5000 --max-inflight 512
    c1=$(cpu_ticks "${COMET_PIDS[@]}")
    sleep "${IDLE_HOLD:-3}"
    c2=$(cpu_ticks "${COMET_PIDS[@]}")
    after=$(rss_kib "${COMET_PIDS[@]}")
    subs=$(subs_stop subs)
    stop_all
    per=$(((after - before) * 1024 / n))
    setup_cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')
    idle_cpu=$(awk -v a="$c1" -v b="$c2" -v hz="$HZ" -v t="${IDLE_HOLD:-3}" \
        'BEGIN {printf "%.3f", (b - a) / hz / t}')
    printf '%-8s %-6s %8d %6d %10d %10d %10d %8d   comet CPU: set-up %s s, idle %s cores\n' \
        herald "$proto" "$n" "$k" "$before" "$after" "$per" "$(jnum "$subs" failed)" \
        "$setup_cpu" "$idle_cpu"
    record "{\"record\":\"idle\",\"server\":\"herald\",\"proto\":\"$proto\",\"conns\":$n,\"processes\":$k,\"rss_before_kib\":$before,\"rss_after_kib\":$after,\"bytes_per_conn\":$per,\"setup_cpu_s\":$setup_cpu,\"idle_cpu_cores\":$idle_cpu,\"bench\":$subs}"
}

idle_peer() { # idle_peer nchan|mqtt N
    local peer=$1 n=$2 before after subs per pids k=1 target
    if [ "$peer" = nchan ]; then
        k=$(((n + 18999) / 19000))
        start_nchan "$k"
        pids=("${NGINX_PIDS[@]}")
        target=127.0.0.1:$NGINX_PORT
    else
        [ "$n" -le 19000 ] || { log "mosquitto: one process holds < 20,000 fds, skipping N=$n"; return; }
        start_mosquitto
        pids=("${PID[mosquitto]}")
        target=127.0.0.1:$MOSQ_PORT
    fi
    sleep 1
    before=$(rss_kib "${pids[@]}")
    subs_start subs --proto "$peer" --target "$target" --conns "$n" --procs "$(procs_for "$n")" \
        --src-addrs 8 --rate 5000 --max-inflight 512
    sleep 3
    after=$(rss_kib "${pids[@]}")
    subs=$(subs_stop subs)
    stop_all
    per=$(((after - before) * 1024 / n))
    local name=$peer
    [ "$peer" = mqtt ] && name=mosquitto
    printf '%-8s %-6s %8d %6d %10d %10d %10d %8d\n' "$name" "$peer" "$n" "$k" "$before" "$after" \
        "$per" "$(jnum "$subs" failed)"
    record "{\"record\":\"idle\",\"server\":\"$name\",\"proto\":\"$peer\",\"conns\":$n,\"processes\":$k,\"rss_before_kib\":$before,\"rss_after_kib\":$after,\"bytes_per_conn\":$per,\"bench\":$subs}"
}

scenario_idle() {
    local ns n proto
    ns=${opt_conns:-"5000 10000 18000"}
    [ "$full" = 1 ] && [ -z "$opt_conns" ] && ns="5000 10000 18000 50000 100000"
    printf '%-8s %-6s %8s %6s %10s %10s %10s %8s\n' server proto conns procs rss0_KiB rss1_KiB \
        B/conn failed
    for n in $ns; do
        for proto in $(herald_protos); do
            idle_herald "$proto" "$n"
        done
        if [ "$peers" = 1 ]; then
            idle_peer nchan "$n"
            idle_peer mqtt "$n"
        fi
    done
}

# fanout_run SERVER: subscribers, pusher, drain; prints a table row and records JSON.
fanout_run() {
    local server=$1 s=$2 r=$3 t=$4 subs push pids cpu0 cpu1 target kind proto extra=()
    case $server in
    herald)
        start_herald "${opt_comets:-1}"
        pids=("${COMET_PIDS[@]}")
        target=$(comet_targets tcp) proto=tcp kind=room
        push_target=127.0.0.1:$LOGIC_HTTP
        ;;
    herald-ws)
        start_herald "${opt_comets:-1}"
        pids=("${COMET_PIDS[@]}")
        target=$(comet_targets ws) proto=ws kind=room
        push_target=127.0.0.1:$LOGIC_HTTP
        ;;
    herald-tls)
        start_herald "${opt_comets:-1}"
        pids=("${COMET_PIDS[@]}")
        target=$(comet_targets tls) proto=tcp kind=room
        push_target=127.0.0.1:$LOGIC_HTTP
        extra=(--tls)
        ;;
    nchan)
        start_nchan 1
        pids=("${NGINX_PIDS[@]}")
        target=127.0.0.1:$NGINX_PORT proto=nchan kind=nchan
        push_target=$target
        extra=(--path /sub/room)
        ;;
    mosquitto)
        start_mosquitto
        pids=("${PID[mosquitto]}")
        target=127.0.0.1:$MOSQ_PORT proto=mqtt kind=mqtt
        push_target=$target
        ;;
    esac
    subs_start subs --proto "$proto" --target "$target" --conns "$s" --procs 2 --src-addrs 8 \
        --max-inflight 512 "${extra[@]}"
    sleep 1.5
    local bench_pids ccpu0 ccpu1 client_cpu
    mapfile -t bench_pids < <(pgrep -P "${PID[subs]}" || true)
    cpu0=$(cpu_ticks "${pids[@]}")
    ccpu0=$(cpu_ticks "${bench_pids[@]}")
    if [ "$perf" = 1 ] && [ "$server" = herald ] && command -v perf >/dev/null; then
        perf record -g -o "$tmp/perf.data" -p "${pids[0]}" -- sleep "$t" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    push=$("$bin/herald-bench" push --kind "$kind" --target "$push_target" --rate "$r" \
        --duration "$t" --conns 4 --path /pub/room 2>>"$tmp/push.log")
    cpu1=$(cpu_ticks "${pids[@]}")
    mapfile -t bench_pids < <(pgrep -P "${PID[subs]}" || true)
    ccpu1=$(cpu_ticks "${bench_pids[@]}")
    local job_metrics='{}'
    [[ $server == herald* ]] && job_metrics=$(curl -s "http://127.0.0.1:$JOB_ADMIN/metrics" || echo '{}')
    sleep 3 # drain: what is still queued arrives or shows up as latency
    subs=$(subs_stop subs)
    if [ -n "${perf_pid:-}" ]; then
        wait "$perf_pid" || true
        mkdir -p "$perf_dir"
        perf report -i "$tmp/perf.data" --no-children --percent-limit 1 --stdio \
            >"$perf_dir/perf-fanout-$date_tag.txt" 2>/dev/null || true
        log "perf report: $perf_dir/perf-fanout-$date_tag.txt"
        perf_pid=""
    fi
    stop_all
    local cpu_s deliv rate p50 p99 ratio
    cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')
    deliv=$(jnum "$subs" deliveries)
    rate=$(jnum "$subs" deliveries_per_s)
    p50=$(jnum "$subs" p50_us)
    p99=$(jnum "$subs" p99_us)
    client_cpu=$(awk -v a="$ccpu0" -v b="$ccpu1" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz}')
    ratio=$(awk -v d="$deliv" -v c="$cpu_s" 'BEGIN {printf "%.0f", (c > 0 ? d / c : 0)}')
    # herald only: room messages per BroadcastRoom call (job's batching, room.linger)
    local per_call
    per_call=$(awk -v m="$(jnum "$job_metrics" batched_messages)" -v b="$(jnum "$job_metrics" batches)" \
        'BEGIN {if (b > 0) printf "%.2f", m / b; else print "-"}')
    printf '%-10s %7d %6d %10d %12.0f %10.1f %10.1f %8s %12s %10s %9s\n' "$server" "$s" "$r" "$deliv" \
        "$rate" "$(awk -v v="$p50" 'BEGIN{print v/1000}')" "$(awk -v v="$p99" 'BEGIN{print v/1000}')" \
        "$cpu_s" "$ratio" "$client_cpu" "$per_call"
    record "{\"record\":\"fanout\",\"server\":\"$server\",\"subs\":$s,\"rate\":$r,\"duration_s\":$t,\"server_cpu_s\":$cpu_s,\"client_cpu_s\":$client_cpu,\"deliveries_per_cpu_s\":$ratio,\"linger_ms\":\"${opt_linger:-default}\",\"job\":$job_metrics,\"push\":$push,\"bench\":$subs}"
}

scenario_fanout() {
    local s=${opt_subs:-10000} r=${opt_rate:-100} t=${opt_duration:-10}
    [ "$full" = 1 ] && [ -z "$opt_duration" ] && t=30
    printf '%-10s %7s %6s %10s %12s %10s %10s %8s %12s %10s %9s\n' server subs msg/s deliveries \
        deliv/s p50_ms p99_ms cpu_s deliv/cpu_s client_cpu msgs/call
    fanout_run herald "$s" "$r" "$t"
    [ "$full" = 1 ] && fanout_run herald-ws "$s" "$r" "$t"
    [ "$opt_tls" = 1 ] && fanout_run herald-tls "$s" "$r" "$t"
    if [ "$peers" = 1 ]; then
        fanout_run nchan "$s" "$r" "$t"
        fanout_run mosquitto "$s" "$r" "$t"
    fi
}

# push_run RATE DURATION N: fresh subscribers on mids 1..N, mids pushes at RATE for DURATION;
# prints a row and records JSON.
push_run() {
    local r=$1 t=$2 n=$3 push subs d cpu0=() cpu1=() cpu=""
    local daemons=(logic job comet0 kafka router redis)
    subs_start subs --proto tcp --target "$(comet_targets tcp)" --conns "$n" --procs 2 \
        --src-addrs 8 --mid-base 1 --max-inflight 512
    for d in "${daemons[@]}"; do cpu0+=("$(cpu_ticks "${PID[$d]}")"); done
    local perf_pid=""
    if [ "$perf" = 1 ] && command -v perf >/dev/null; then
        perf record -a -g -o "$tmp/perf-push.data" -- sleep "$t" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    push=$("$bin/herald-bench" push --kind mids --target "127.0.0.1:$LOGIC_HTTP" --rate "$r" \
        --duration "$t" --conns "${PUSH_CONNS:-64}" --mid-base 1 --mids "$n" 2>>"$tmp/push.log")
    for d in "${daemons[@]}"; do cpu1+=("$(cpu_ticks "${PID[$d]}")"); done
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        mkdir -p "$perf_dir"
        { perf report -i "$tmp/perf-push.data" --no-children --sort comm -g none --stdio
          perf report -i "$tmp/perf-push.data" --no-children --sort comm,dso,sym -g none \
            --percent-limit 0.5 --stdio; } >"$perf_dir/perf-push-$r-$date_tag.txt" 2>/dev/null || true
        log "perf report: $perf_dir/perf-push-$r-$date_tag.txt"
    fi
    for i in "${!daemons[@]}"; do
        cpu+="${cpu:+,}\"${daemons[$i]}\":$(awk -v a="${cpu0[$i]}" -v b="${cpu1[$i]}" -v hz="$HZ" \
            'BEGIN {printf "%.2f", (b - a) / hz}')"
    done
    sleep 2
    subs=$(subs_stop subs)
    printf '%8d %10.1f %10.1f %10d %10.1f %10.1f %10.1f %10.1f\n' "$r" "$(jnum "$push" ok_per_s)" \
        "$(awk -v v="$(jnum "$push" p99_us)" 'BEGIN{print v/1000}')" \
        "$(jnum "$subs" deliveries)" "$(jnum "$subs" deliveries_per_s)" \
        "$(awk -v v="$(jnum "$subs" p50_us)" 'BEGIN{print v/1000}')" \
        "$(awk -v v="$(jnum "$subs" p99_us)" 'BEGIN{print v/1000}')" \
        "$(awk -v v="$(jnum "$subs" p999_us)" 'BEGIN{print v/1000}')"
    echo "         CPU seconds during the run: ${cpu//\"/}"
    record "{\"record\":\"push\",\"offered\":$r,\"duration_s\":$t,\"mids\":$n,\"cpu_s\":{$cpu},\"push\":$push,\"bench\":$subs}"
}

scenario_push() {
    local n=${opt_conns:-10000} r=${opt_rate:-1000} t=${opt_duration:-10} rates
    start_herald "${opt_comets:-1}"
    echo "user push end to end (latency: client clock − pusher's stamp in the body):"
    printf '%8s %10s %10s %10s %10s %10s %10s %10s\n' offered http_ok/s http_p99 delivered \
        deliv/s p50_ms p99_ms p999_ms
    push_run "$r" "$t" "$n"
    # Saturation: each rate with fresh subscribers, so each latency figure is its own.
    rates=${SAT_RATES:-"2000 4000 8000"}
    [ "$full" = 1 ] && rates="2000 4000 8000 16000 32000"
    for r in $rates; do push_run "$r" 5 "$n"; done
}

scenario_connect() {
    local n=${opt_conns:-10000} proto subs k
    k=${opt_comets:-$(((n + 18999) / 19000))}
    printf '%-12s %8s %8s %8s %10s %8s %14s\n' proto conns ready failed conns/s resumed \
        comet_us/conn
    local protos c0 c1 us
    protos=$(herald_protos)
    [ "$opt_tls" = 1 ] && protos+=" tls-resumed"
    for proto in $protos; do
        start_herald "$k"
        c0=$(cpu_ticks "${COMET_PIDS[@]}")
        # shellcheck disable=SC2046
        subs_start subs $(bench_proto "$proto") --target "$(comet_targets "$proto")" \
            --conns "$n" --procs 2 --src-addrs 8 --max-inflight 1000
        c1=$(cpu_ticks "${COMET_PIDS[@]}")
        subs=$(subs_stop subs)
        stop_all
        us=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" 'BEGIN {printf "%.0f", (b - a) / hz / n * 1e6}')
        printf '%-12s %8d %8d %8d %10.0f %8s %14s\n' "$proto" "$n" "$(jnum "$subs" ready)" \
            "$(jnum "$subs" failed)" "$(jnum "$subs" setup_rate)" "$(jnum "$subs" tls_resumed)" "$us"
        record "{\"record\":\"connect\",\"proto\":\"$proto\",\"conns\":$n,\"comets\":$k,\"comet_us_per_conn\":$us,\"bench\":$subs}"
    done
}

# The internal RPC, clear against mutual TLS, each shape back to back under the same load.
scenario_rpc() {
    local pki=$tmp/rpc-pki shape out tls args
    mkdir -p "$pki"
    (
        cd "$pki"
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
            -subj '/CN=bench CA' -keyout ca.key -out ca.pem \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=herald-rpc' \
            -keyout peer.key -out peer.csr
        printf 'subjectAltName=DNS:herald-rpc\nextendedKeyUsage=serverAuth,clientAuth\n' >peer.ext
        openssl x509 -req -in peer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
            -extfile peer.ext -out peer.pem
    ) >"$tmp/rpc-pki.log" 2>&1 || fail "openssl could not make the RPC test PKI ($tmp/rpc-pki.log)"
    printf '%-10s %-5s %12s %12s %12s %12s\n' shape tls connect_us connect_cpu calls/s cpu_us/call
    for shape in "pipelined:--calls 200000 --depth 64 --size 64" \
        "one-by-one:--calls 50000 --depth 1 --size 64" "4k:--calls 100000 --depth 64 --size 4096"; do
        for tls in clear mtls; do
            # shellcheck disable=SC2206 # the shape's options, one per word
            args=(${shape#*:})
            [ "$tls" = mtls ] && args+=(--tls "$pki")
            out=$("$bin/herald-bench" rpc "${args[@]}" --connects 100) || fail "herald-bench rpc failed"
            printf '%-10s %-5s %12s %12s %12s %12s\n' "${shape%%:*}" "$tls" \
                "$(jnum "$out" connect_p50_us)" "$(jnum "$out" connect_cpu_us)" \
                "$(jnum "$out" calls_per_s)" "$(jnum "$out" cpu_us_per_call)"
            record "{\"record\":\"rpc_run\",\"shape\":\"${shape%%:*}\",\"bench\":$out}"
        done
    done
}

record "$(versions)"
log "scenario $scenario; logs in $tmp; load: $(uptime | sed 's/.*load/load/')"
"scenario_$scenario"
[ "$save" = 1 ] && log "raw results: $results_file"
exit 0
