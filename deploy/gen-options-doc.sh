#!/bin/sh
# gen-options-doc.sh BUILD_DIR - regenerate the options tables in
# docs/operations.md from the daemons' own option tables
# (--options-markdown), between the <!-- options:NAME begin/end --> markers.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOC=$ROOT/docs/operations.md
for d in samskap-broker samskap-node; do
    table=$("$BUILD/$d" --options-markdown)
    /usr/bin/python3 - "$DOC" "$d" "$table" <<'PY'
import sys
path, name, table = sys.argv[1], sys.argv[2], sys.argv[3]
s = open(path).read()
b = "<!-- options:%s begin" % name
e = "<!-- options:%s end -->" % name
i = s.index(b); i = s.index("\n", i) + 1
j = s.index(e)
s = s[:i] + table.rstrip("\n") + "\n" + s[j:]
open(path, "w").write(s)
PY
done
echo "gen-options-doc: updated $DOC"
