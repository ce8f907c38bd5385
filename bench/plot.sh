#!/usr/bin/env bash
# bench/plot.sh [RESULTS_DIR]: gnuplot PNGs from the raw results in bench/results/: memory per
# connection vs connections (every idle run; the last figure per point wins), deliveries/s vs
# subscribers (every fanout run), the fan-out latency CDF at 10,000 subscribers and the user
# push latency CDF (newest push run). Needs gnuplot and jq (scripts/install-bench-deps.sh).
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")" && pwd)/results}
newest() { ls -1t "$dir"/"$1"-*.json 2>/dev/null | head -n1; }
all() { ls -1tr "$dir"/"$1"-*.json 2>/dev/null | tr '\n' ' '; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

f=$(all idle)
if [ -n "$f" ]; then
    for key in herald:tcp herald:ws nchan:nchan mosquitto:mqtt; do
        # shellcheck disable=SC2086
        jq -r --arg s "${key%%:*}" --arg p "${key##*:}" \
            'select(.record=="idle" and .server==$s and .proto==$p) | "\(.conns) \(.bytes_per_conn)"' \
            $f | sort -n -s -k1,1 | awk '{v[$1] = $2} END {for (k in v) print k, v[k]}' | sort -n \
            >"$tmp/idle-${key/:/-}.dat"
    done
    gnuplot <<GP
set terminal pngcairo size 900,540
set output "$dir/idle-memory.png"
set title "Memory per idle authenticated connection (server RSS growth / connections)"
set xlabel "connections"; set ylabel "bytes per connection"; set logscale y; set grid
set key top left
plot "$tmp/idle-herald-tcp.dat" w lp t "herald TCP", "$tmp/idle-herald-ws.dat" w lp t "herald WebSocket", \
     "$tmp/idle-nchan-nchan.dat" w lp t "nginx+nchan WebSocket", "$tmp/idle-mosquitto-mqtt.dat" w lp t "mosquitto MQTT"
GP
    echo "$dir/idle-memory.png"
fi

f=$(all fanout)
if [ -n "$f" ]; then
    for srv in herald herald-ws nchan mosquitto; do
        # shellcheck disable=SC2086
        jq -r --arg s "$srv" 'select(.record=="fanout" and .server==$s) | "\(.subs) \(.bench.deliveries_per_s) \(.deliveries_per_cpu_s)"' \
            $f | awk '{v[$1] = $0} END {for (k in v) print v[k]}' | sort -n >"$tmp/fan-$srv.dat"
    done
    # The newest run that measured herald and the peers at 10,000 subscribers.
    # shellcheck disable=SC2046
    lat_file=$(grep -l '"server":"nchan","subs":10000' $(ls -1t "$dir"/fanout-*.json) | head -n1)
    jq -r 'select(.record=="fanout" and .subs==10000) | .server as $s | .bench.latency.count as $n |
           (reduce .bench.latency.buckets[] as $b ([0, []]; [.[0] + $b[1], .[1] + [[$b[0], .[0] + $b[1]]]]) | .[1][]
            | "\($s) \(.[0] / 1000) \(.[1] / $n)")' "$lat_file" >"$tmp/lat.dat"
    gnuplot <<GP
set terminal pngcairo size 900,540
set output "$dir/fanout-deliveries.png"
set title "Room fan-out, 100 messages/s offered: deliveries/s at the clients"
set xlabel "subscribers in the room"; set ylabel "deliveries per second"; set grid; set key top left
plot x*100 w l dt 2 t "offered", \
     "$tmp/fan-herald.dat" u 1:2 w lp lw 2 t "herald (TCP)", "$tmp/fan-nchan.dat" u 1:2 w lp lw 2 t "nginx+nchan", \
     "$tmp/fan-mosquitto.dat" u 1:2 w lp lw 2 t "mosquitto"
GP
    gnuplot <<GP
set terminal pngcairo size 900,540
set output "$dir/fanout-latency.png"
set title "Room fan-out, 10,000 subscribers x 100 msg/s: delivery latency CDF\n$(basename "$lat_file")"
set xlabel "latency (ms)"; set ylabel "fraction of deliveries"; set logscale x; set grid
set key bottom right
plot for [s in "herald herald-ws nchan mosquitto"] "< grep '^".s." ' $tmp/lat.dat" using 2:3 w l lw 2 t s
GP
    echo "$dir/fanout-deliveries.png $dir/fanout-latency.png"
fi

# The newest push run with a ramp (three rates or more).
f=""
while read -r g; do
    if [ "$(grep -c '"record":"push"' "$g")" -ge 3 ]; then f=$g; break; fi
done < <(ls -1t "$dir"/push-*.json 2>/dev/null)
if [ -n "$f" ]; then
    jq -r 'select(.record=="push") | .offered as $r | .bench.latency.count as $n |
           (reduce .bench.latency.buckets[] as $b ([0, []]; [.[0] + $b[1], .[1] + [[$b[0], .[0] + $b[1]]]]) | .[1][]
            | "\($r) \(.[0] / 1000) \(.[1] / $n)")' "$f" >"$tmp/push.dat"
    rates=$(cut -d' ' -f1 "$tmp/push.dat" | sort -un | tr '\n' ' ')
    gnuplot <<GP
set terminal pngcairo size 900,540
set output "$dir/push-latency.png"
set title "User push end to end (HTTP -> logic -> Kafka -> job -> comet -> client): latency CDF\n$(basename "$f")"
set xlabel "latency (ms)"; set ylabel "fraction of deliveries"; set logscale x; set grid
set key bottom right
plot for [r in "$rates"] "< grep '^".r." ' $tmp/push.dat" using 2:3 w l lw 2 t r."/s"
GP
    echo "$dir/push-latency.png"
fi
