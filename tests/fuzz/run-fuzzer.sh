#!/bin/sh
# run-fuzzer.sh BIN WORKDIR [SEED_DIR]: one libFuzzer run over a fresh working
# corpus seeded from SEED_DIR.  SAMSKAP_FUZZ_SECONDS sets the length (ctest's
# smoke run: 10 s; `make fuzz`: longer).  Crashes land in WORKDIR/../artifacts.
set -eu
bin=$1; work=$2; seeds=${3:-}
secs=${SAMSKAP_FUZZ_SECONDS:-10}
rm -rf "$work"; mkdir -p "$work"
art=$(dirname "$work")/artifacts; mkdir -p "$art"
set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$art/$(basename "$bin")-" "$work"
[ -n "$seeds" ] && [ -d "$seeds" ] && set -- "$@" "$seeds"
exec "$bin" "$@"
