#!/usr/bin/env bash
# Shrinks a module on which Kiln and node disagree (as saved by diff.sh) with binaryen's
# wasm-reduce, keeping only changes after which they still disagree; prints the result as text.
#
#   tests/fuzz/reduce.sh [-k KILN_DIFF] MODULE.wasm [OUT.wasm]
#
# KILN_DIFF_ARGS passes options to kiln-diff (diff.sh saves the ones it used in seed-N.command).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kiln_diff="${KILN_DIFF:-$here/../../build/tests/fuzz/kiln-diff}"
if [ "${1:-}" = -k ]; then
    kiln_diff="$2"
    shift 2
fi
input="$(realpath "$1")"
output="$(realpath -m "${2:-${1%.wasm}.reduced.wasm}")"
kiln_diff="$(realpath "$kiln_diff")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The verdict wasm-reduce compares with the original's: "differ" (or "crash") must persist.
cat > "$work/verdict.sh" << EOF
#!/usr/bin/env bash
timeout 5 "$kiln_diff" ${KILN_DIFF_ARGS:-} test.wasm > kiln.txt 2> /dev/null
krc=\$?
timeout 5 node "$here/reference.mjs" test.wasm > node.txt 2> /dev/null || { echo skip; exit 0; }
if [ \$krc = 124 ] || grep -qx -e invalid -e exhausted node.txt kiln.txt; then echo skip
elif [ \$krc != 0 ]; then echo crash
elif cmp -s kiln.txt node.txt; then echo same
else echo differ
fi
EOF
chmod +x "$work/verdict.sh"
cp "$input" "$work/test.wasm"
(cd "$work" && ./verdict.sh)
cd "$work"
wasm-reduce "$input" "--command=$work/verdict.sh" -t test.wasm -w "$output" \
    -b "$(dirname "$(command -v wasm-opt)")/" > reduce.log 2>&1 ||
    { head -40 reduce.log; exit 1; }
cp "$output" test.wasm
echo "reduced to $(stat -c %s "$output") bytes: $output ($(./verdict.sh))"
wasm2wat "$output"
diff kiln.txt node.txt | sed 's/^</kiln:/;s/^>/node:/' || true
