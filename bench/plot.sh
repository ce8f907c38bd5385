#!/usr/bin/env bash
# bench/plot.sh [RESULTS_DIR]: gnuplot PNGs from the newest raw results of each scenario in
# bench/results/: memory per connection vs connections (idle), deliveries/s per server and
# subscribers (fanout), and latency distributions (fanout, push). Needs gnuplot and jq
# (scripts/install-bench-deps.sh).
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")" && pwd)/results}
newest() { ls -1t "$dir"/"$1"-*.json 2>/dev/null | head -n1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if f=$(newest idle) && [ -n "$f" ]; then
    for key in herald:tcp herald:ws nchan:nchan mosquitto:mqtt; do
        jq -r --arg s "${key%%:*}" --arg p "${key##*:}" \
            'select(.record=="idle" and .server==$s and .proto==$p) | "\(.conns) \(.bytes_per_conn)"' \
            "$f" | sort -n >"$tmp/idle-${key/:/-}.dat"
    done
    gnuplot <<GP
set terminal pngcairo size 900,540
set output "$dir/idle-memory.png"
set title "Memory per idle connection (RSS growth / connections)\n$(basename "$f")"
set xlabel "connections"; set ylabel "bytes per connection"; set logscale y; set grid
set key top left
plot "$tmp/idle-herald-tcp.dat" w lp t "herald TCP", "$tmp/idle-herald-ws.dat" w lp t "herald WebSocket", \
     "$tmp/idle-nchan-nchan.dat" w lp t "nginx+nchan WebSocket", "$tmp/idle-mosquitto-mqtt.dat" w lp t "mosquitto MQTT"
GP
    echo "$dir/idle-memory.png"
fi

if f=$(newest fanout) && [ -n "$f" ]; then
    jq -r 'select(.record=="fanout") | "\(.server)-\(.subs) \(.bench.deliveries_per_s) \(.deliveries_per_cpu_s)"' \
        "$f" >"$tmp/fanout.dat"
    jq -r 'select(.record=="fanout") | .server as $s | .bench.latency.count as $n |
           (reduce .bench.latency.buckets[] as $b ([0, []]; [.[0] + $b[1], .[1] + [[$b[0], .[0] + $b[1]]]]) | .[1][]
            | "\($s) \(.[0] / 1000) \(.[1] / $n)")' "$f" >"$tmp/lat.dat"
    gnuplot <<GP
set terminal pngcairo size 900,540
set output "$dir/fanout-deliveries.png"
set title "Room fan-out: deliveries/s at the clients (10,000 subscribers x 100 msg/s offered = 1 M/s)\n$(basename "$f")"
set style data histograms; set style fill solid 0.6; set boxwidth 0.8
set ylabel "deliveries per second"; set grid ytics; set yrange [0:*]
plot "$tmp/fanout.dat" using 2:xtic(1) t "deliveries/s", "" using 3 t "deliveries per server CPU-second"
GP
    gnuplot <<GP
set terminal pngcairo size 900,540
set output "$dir/fanout-latency.png"
set title "Room fan-out: delivery latency CDF\n$(basename "$f")"
set xlabel "latency (ms)"; set ylabel "fraction of deliveries"; set logscale x; set grid
set key bottom right
plot for [s in "herald herald-ws nchan mosquitto"] "< grep '^".s." ' $tmp/lat.dat" using 2:3 w l lw 2 t s
GP
    echo "$dir/fanout-deliveries.png $dir/fanout-latency.png"
fi

if f=$(newest push) && [ -n "$f" ]; then
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
