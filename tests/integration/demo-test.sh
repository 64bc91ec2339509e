#!/bin/sh
# demo-test.sh BUILD_DIR - `make demo`'s script (deploy/demo.sh) end to end
# in CI: it must finish, print the indicator table with the municipalities'
# names, write report.md/json/csv, and leave no process behind.
set -u
BUILD=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d /tmp/sk_demo.XXXXXX)
PORT=$((11000 + $$ % 20000))  # below the ephemeral range (32768+)
fail() { echo "demo-test: $*" >&2; sed 's/^/  demo: /' "$OUT/stdout" | tail -40 >&2; exit 1; }
SAMSKAP_DEMO_OUT=$OUT SAMSKAP_DEMO_PORT=$PORT sh "$ROOT/deploy/demo.sh" "$BUILD" >"$OUT/stdout" 2>"$OUT/stderr" ||
    { cat "$OUT/stderr" >&2; fail "deploy/demo.sh exited non-zero"; }
for name in Ålesund Haram Sandøy Skodje Ørskog; do
    grep -q "| $name before |" "$OUT/stdout" || fail "the table has no column for $name"
done
for f in report.md report.json report.csv; do
    [ -s "$OUT/scenario/$f" ] || fail "no $f"
done
rows=$(grep -c '^| \(water\|power\|traffic\)_' "$OUT/scenario/report.md")
[ "$rows" -eq 6 ] || fail "report.md has $rows indicator rows, want 6"
if grep -q '| failed' "$OUT/scenario/report.md"; then fail "a scenario step failed"; fi
grep -q "6 of 6 jobs completed" "$OUT/stdout" || fail "the node-kill part lost jobs"
# Everything stopped: nothing listens on the demo's ports any more.
sleep 0.5
if command -v ss >/dev/null 2>&1 && ss -ltn | grep -q ":$PORT \|:$((PORT + 1)) "; then
    fail "something still listens on port $PORT or $((PORT + 1))"
fi
rm -rf "$OUT"
echo "demo-test: ok"
