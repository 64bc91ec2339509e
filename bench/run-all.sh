#!/bin/sh
# run-all.sh BUILD_DIR - run every benchmark built in BUILD_DIR/bench/, with
# the paths they need.  Benchmarks print their own figures (and baselines).
set -u
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SAMSKAP_BUILD="$BUILD" SAMSKAP_SOURCE="$ROOT" SAMSKAP_SHARED_DATA="${SAMSKAP_SHARED_DATA:-$ROOT/../shared/data}"
status=0
for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    printf '\n#### %s\n' "$(basename "$b")"
    "$b" || { echo "$(basename "$b") failed" >&2; status=1; }
done
exit $status
