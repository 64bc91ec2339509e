#!/bin/sh
# bench_scenario - scenario runs over the bus (issue 8's benchmark).
#
# 1. Throughput: the bundled region's scenario (deploy/region/scenario.lua:
#    5 municipalities before, the merged region after, one variant; 21
#    simulations, 42 indicator jobs) with a broker and 2 nodes on loopback,
#    RUNS times; prints simulations/s and indicators/s.  Baseline, measured
#    in the same run: the same 21 simulations one after the other with
#    `samskap sim` (no bus, no indicators).
# 2. Scale: a region generated with --scale SCALE (default 250: about
#    100,000 elements per kernel in the merged networks), merged, and one
#    scenario over it (before + after, one indicator per kernel); prints the
#    wall time of each step.
#
# Environment: SAMSKAP_BUILD (default build), SAMSKAP_SOURCE, BENCH_RUNS (3),
# BENCH_SCALE (250; 0 skips part 2), BENCH_PORT (base port, default random).
set -eu
BUILD=${SAMSKAP_BUILD:-build}
ROOT=${SAMSKAP_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
RUNS=${BENCH_RUNS:-3}
SCALE=${BENCH_SCALE:-250}
PORT=${BENCH_PORT:-$((10000 + $$ % 20000))}  # below the ephemeral range (32768+)
FRONT=tcp://127.0.0.1:$PORT
BACK=tcp://127.0.0.1:$((PORT + 1))
TMP=$(mktemp -d /tmp/bench_scenario.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
sk() { "$BUILD/samskap" "$@"; }

"$BUILD/samskap-broker" --frontend "$FRONT" --backend "$BACK" --insecure --heartbeat-ms 500 \
    --data-dir "$TMP/broker" 2>"$TMP/broker.log" & pids="$pids $!"
for n in 1 2; do
    "$BUILD/samskap-node" --broker "$BACK" --name "bench$n" --jobs 1 --heartbeat-ms 500 \
        --plugins "$ROOT/plugins" 2>"$TMP/node$n.log" & pids="$pids $!"
done
i=0
until [ "$(sk services --broker "$FRONT" --json 2>/dev/null | grep -o '"bench[12]"' | sort -u | wc -l)" -eq 2 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "bench_scenario: nodes did not join" >&2; exit 1; }
    sleep 0.1
done

echo "scenario throughput: bundled region, broker + 2 nodes (1 job each) on loopback, $RUNS runs"
best=""
r=0
while [ $r -lt "$RUNS" ]; do
    t0=$(now)
    sk run "$ROOT/deploy/region/scenario.lua" --broker "$FRONT" --json >"$TMP/run.json" 2>"$TMP/run.log" ||
        { echo "bench_scenario: samskap run failed:" >&2; tail -5 "$TMP/run.log" >&2; exit 1; }
    t1=$(now)
    s=$(elapsed "$t0" "$t1")
    nsim=$(grep -o '"service":"sim\.' "$TMP/run.json" | wc -l)
    nind=$(sed -n 's/.* and \([0-9]*\) indicator jobs submitted.*/\1/p' "$TMP/run.log")
    printf '  run %d: %6.2f s  %5.1f simulations/s  %5.1f indicators/s  (%d simulations, %d indicator jobs)\n' \
        $((r + 1)) "$s" "$(calc "$nsim / $s")" "$(calc "$nind / $s")" "$nsim" "$nind"
    sed -n 's/.*submitted (inputs: \(.*\))$/           inputs: \1/p' "$TMP/run.log"
    if [ -z "$best" ] || [ "$(calc "$s < $best")" != "0.000" ]; then best=$s; fi
    r=$((r + 1))
done
failed=$(grep -o '"error"' "$TMP/run.json" | wc -l)
[ "$failed" -eq 0 ] || echo "  warning: $failed cells failed in the last run"

# Baseline: the same simulations in sequence, in-process, no bus.
base=$ROOT/deploy/region
mkdir -p "$TMP/b"
t0=$(now)
for d in 1504 1534 1546 1529 1523 merged variants/skodje_road; do
    sk sim water "$base/$d/water.inp" --out "$TMP/b/w" --periods all >/dev/null 2>&1
    sk sim power "$base/$d/power.m" --out "$TMP/b/p" >/dev/null 2>&1
    sk sim traffic "$base/$d/traffic_net.tntp" "$base/$d/traffic_trips.tntp" --out "$TMP/b/t" --gap 1e-5 >/dev/null 2>&1
done
t1=$(now)
bs=$(elapsed "$t0" "$t1")
printf '  baseline: the 21 simulations one after another with `samskap sim` (no bus): %.2f s\n' "$bs"
printf '  best scenario run %.2f s = %.2fx the baseline (the scenario also runs 42 indicator jobs)\n' "$best" \
    "$(calc "$best / $bs")"

[ "$SCALE" != "0" ] || exit 0
echo
echo "scenario at scale: samskap region generate --scale $SCALE (before + after, one indicator per kernel)"
t0=$(now)
sk region generate --scale "$SCALE" --out "$TMP/big" >"$TMP/gen.txt"
t1=$(now)
sk region merge --in "$TMP/big" >"$TMP/merge.txt"
t2=$(now)
grep -E '^(region|total)' "$TMP/merge.txt" "$TMP/gen.txt" | sed 's/^[^:]*:/  /'
printf '  generate %.2f s, merge %.2f s\n' "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")"
cat >"$TMP/big/scenario.lua" <<LUA
return {
  name = "scale $SCALE", region = "1507",
  municipalities = { "1504", "1534", "1546", "1529", "1523" },
  simulations = {
    water = { network = "water.inp", params = { periods = "first" } },
    power = { case = "power.m" },
    traffic = { net = "traffic_net.tntp", trips = "traffic_trips.tntp", params = { gap = 1e-4 } },
  },
  indicators = { "water_pressure_adequacy", "power_voltage_compliance", "traffic_travel_time_index" },
}
LUA
t0=$(now)
if sk run "$TMP/big/scenario.lua" --broker "$FRONT" --json --timeout 1800 >"$TMP/big.json" 2>"$TMP/big.log"; then
    t1=$(now)
    printf '  scenario: %.1f s wall for %d simulations and %s indicator jobs\n' "$(elapsed "$t0" "$t1")" \
        "$(grep -o '"service":"sim\.' "$TMP/big.json" | wc -l)" \
        "$(sed -n 's/.* and \([0-9]*\) indicator jobs submitted.*/\1/p' "$TMP/big.log")"
    grep -o '"error":"[^"]*"' "$TMP/big.json" | sort | uniq -c | sed 's/^/  failed: /' | head -5
else
    echo "  scenario failed:"; tail -5 "$TMP/big.log" | sed 's/^/    /'
fi
