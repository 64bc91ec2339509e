#!/bin/sh
# demo.sh BUILD_DIR - the samskap demo on loopback: a broker, two nodes, jobs
# through the bus (including a node killed mid-job and its jobs finishing on
# the other node), then the three kernels on the bundled data and the main
# job: the bundled region's scenario.  Results go to results/demo/ (or
# $SAMSKAP_DEMO_OUT); everything started here is stopped at the end.  Exits
# non-zero when the scenario did not produce its table.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/$BUILD
[ -x "$BIN/samskap-broker" ] || BIN=$BUILD
OUT=${SAMSKAP_DEMO_OUT:-$ROOT/results/demo}
PORT=${SAMSKAP_DEMO_PORT:-15570}
FRONT=tcp://127.0.0.1:$PORT
BACK=tcp://127.0.0.1:$((PORT + 1))
mkdir -p "$OUT"
LOG=$OUT/logs
mkdir -p "$LOG"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }
sk() { "$BIN/samskap" "$@" --broker "$FRONT"; }

say "starting a broker on $FRONT / $BACK and two nodes (logs in $LOG)"
rm -rf "$OUT/broker-data"
"$BIN/samskap-broker" --frontend "$FRONT" --backend "$BACK" --heartbeat-ms 250 --liveness 8 --insecure \
    --data-dir "$OUT/broker-data" \
    2>"$LOG/broker.log" & pids="$pids $!"
"$BIN/samskap-node" --broker "$BACK" --name alesund --jobs 2 --heartbeat-ms 250 --plugins "$ROOT/plugins" \
    2>"$LOG/node-alesund.log" &
NODE_A=$!; pids="$pids $NODE_A"
"$BIN/samskap-node" --broker "$BACK" --name haram --jobs 2 --heartbeat-ms 250 --plugins "$ROOT/plugins" \
    2>"$LOG/node-haram.log" &
pids="$pids $!"
i=0
until sk services --json 2>/dev/null | grep -q '"haram"' && sk services --json | grep -q '"alesund"'; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "nodes did not join; see $LOG" >&2; exit 1; }
    sleep 0.1
done
sk services

say "an echo job for tenant 1504 (Ålesund)"
sk submit diag.echo --tenant 1504 --param scenario=baseline --param year=2024

say "six 1.5 s jobs at once; node 'alesund' is killed (kill -9) half-way"
i=0
while [ $i -lt 6 ]; do
    sk submit diag.sleep --tenant 1507 --param ms=1500 --json >"$OUT/sleep-$i.json" 2>/dev/null &
    pids="$pids $!"; i=$((i + 1))
done
sleep 0.7
kill -9 "$NODE_A"
echo "killed node alesund (pid $NODE_A) while it ran jobs"
wait_ok=0
for f in 0 1 2 3 4 5; do
    n=0
    while ! grep -q '"state"' "$OUT/sleep-$f.json" 2>/dev/null; do
        n=$((n + 1)); [ $n -lt 300 ] || break; sleep 0.1
    done
    grep -q '"state":"done"' "$OUT/sleep-$f.json" && wait_ok=$((wait_ok + 1))
done
echo "$wait_ok of 6 jobs completed; each result delivered once:"
grep -h '"job"' "$OUT"/sleep-*.json | sed 's/.*"job":"\([^"]*\)".*/  \1/' | sort | uniq -c
grep -h 'requeued\|node removed' "$LOG/broker.log" | sed 's/^/  broker: /' | head -8

for kernel in water power traffic; do
    case $kernel in
    water) args="--input network=$ROOT/tests/data/water/Net1/network.inp --param periods=first" ;;
    power) args="--input case=$ROOT/tests/data/power/case14/case.m" ;;
    traffic) args="--input net=$ROOT/tests/data/traffic/SiouxFalls/SiouxFalls_net.tntp --input trips=$ROOT/tests/data/traffic/SiouxFalls/SiouxFalls_trips.tntp --param gap=1e-6" ;;
    esac
    if sk services --json | grep -q "\"sim.$kernel\""; then
        say "sim.$kernel over the bus (tenant 1507, result in $OUT/$kernel)"
        # shellcheck disable=SC2086
        sk submit "sim.$kernel" --tenant 1507 $args --out "$OUT/$kernel" --timeout 120 | head -40
    fi
done

if [ -d "$OUT/traffic" ] && sk services --json | grep -q '"indicator.traffic_travel_time_index"'; then
    say "indicator.traffic_travel_time_index (U4SSC EC:I:T:5A) on that traffic result, in a sandboxed plugin"
    sk submit indicator.traffic_travel_time_index --tenant 1507 --input "traffic=$OUT/traffic" | head -12
fi
if [ -d "$OUT/power" ] && sk services --json | grep -q '"indicator.power_network_losses"'; then
    say "indicator.power_network_losses on the power result"
    sk submit indicator.power_network_losses --tenant 1507 --input "power=$OUT/power" | head -12
fi

say "the main job: the bundled region before and after the 2020 merger (samskap run)"
scenario_ok=1
sk run "$ROOT/deploy/region/scenario.lua" --out "$OUT/scenario" 2>"$LOG/run.log" ||
    { scenario_ok=0; echo "samskap run failed; see $LOG/run.log" >&2; }
echo "(report.md, report.json and report.csv in $OUT/scenario/)"
echo
echo "indicator history kept by the broker for the region (samskap indicators --tenant 1507), first rows:"
sk indicators --tenant 1507 | head -8

say "broker counters"
sk services --json | sed 's/.*"counters":\({[^}]*}\).*/\1/'
say "demo done; results in $OUT"
[ $scenario_ok -eq 1 ] && [ -s "$OUT/scenario/report.md" ]
