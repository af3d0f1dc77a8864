#!/usr/bin/env bash
# Differential test: for each seed, binaryen's `wasm-opt -ttf` turns deterministic random bytes
# into a valid module, which runs on Kiln (kiln-diff) and on node (reference.mjs); their
# normalized transcripts must be equal. Mismatching modules are saved to $KILN_DIFF_OUT.
#
#   tests/fuzz/diff.sh [-s FIRST_SEED] [-j JOBS] [-k KILN_DIFF] [-S] N
#
# -S (or KILN_DIFF_SIMD=1) generates modules with SIMD: the same seed then means another module.
#
# Exits 0 when every seed agreed, 1 on a mismatch or a Kiln crash, 77 when a tool is missing.
# Seeds whose module timed out or exhausted the stack on either side are skipped.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${KILN_DIFF_OUT:-/tmp/kiln-diff}"
timeout_s="${KILN_DIFF_TIMEOUT:-10}"

# WebAssembly 2.0, SIMD only with -S. Binaryen 108 still treats funcref as a subtype of
# externref, so with reference types most modules are invalid: those seeds test that both sides
# agree on validation, the others test execution.
base_features=(--enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int
               --enable-bulk-memory --enable-multivalue --disable-threads
               --disable-exception-handling --disable-tail-call --disable-gc --disable-memory64)
if [ "${KILN_DIFF_SIMD:-0}" = 1 ]; then
    base_features+=(--enable-simd)
else
    base_features+=(--disable-simd)
fi

# NaN payloads are nondeterministic (any arithmetic NaN is allowed) and leak into integers and
# memory through reinterpret and store, so --denan turns every NaN into 0 first.
wasm_opt_flags() {
    local seed=$1
    case $((seed % 6)) in
    0 | 1) echo "${base_features[*]} --disable-reference-types --denan" ;;
    2) echo "${base_features[*]} --disable-reference-types --denan -O2" ;;
    3) echo "${base_features[*]} --disable-reference-types --denan --fuzz-passes" ;;
    4) echo "${base_features[*]} --disable-reference-types --no-fuzz-oob --denan -O3" ;;
    5) echo "${base_features[*]} --enable-reference-types --denan" ;;
    esac
}

# Kiln's options for a seed: a third of the seeds run with fuel, suspended and resumed every
# 1000 units, and a third every 3 units, which must not change what they compute.
kiln_flags() {
    case $(($1 / 6 % 3)) in
    0) echo "" ;;
    1) echo "--fuel-slice 1000" ;;
    2) echo "--fuel-slice 3" ;;
    esac
}

# Writes the input bytes of seeds FIRST..FIRST+COUNT-1 to DIR/SEED.bin: 2 to 60 KB each from a
# xorshift generator, so a seed means the same module on every machine with the same wasm-opt.
gen_inputs() {
    # shellcheck disable=SC2016
    node -e '
        const [first, count] = [Number(process.argv[1]), Number(process.argv[2])];
        const dir = process.argv[3];
        const mask = 0xffffffffffffffffn;
        for (let seed = first; seed < first + count; ++seed) {
            let s = (BigInt(seed) * 0x9E3779B97F4A7C15n + 1n) & mask;
            const next = () => {
                s ^= (s << 13n) & mask; s ^= s >> 7n; s ^= (s << 17n) & mask;
                return s;
            };
            for (let i = 0; i < 4; ++i) next();
            const n = 2048 + Number(next() % 59392n);
            const buf = Buffer.alloc(n);
            for (let i = 0; i < n; i += 8) buf.writeBigUInt64LE(next(), Math.min(i, n - 8));
            require("fs").writeFileSync(`${dir}/${seed}.bin`, buf);
        }' "$@"
}

# Makes DIR/SEED.wasm and runs it on Kiln: DIR/SEED.kiln.txt and its exit code DIR/SEED.kiln.rc.
build_and_run_kiln() {
    local dir=$1 seed=$2
    # shellcheck disable=SC2046
    wasm-opt -ttf "$dir/$seed.bin" -o "$dir/$seed.wasm" $(wasm_opt_flags "$seed") \
        > /dev/null 2>&1 || { rm -f "$dir/$seed.wasm"; return; }
    # shellcheck disable=SC2046
    timeout "$timeout_s" "$kiln_diff" $(kiln_flags "$seed") "$dir/$seed.wasm" \
        > "$dir/$seed.kiln.txt" 2> "$dir/$seed.kiln.err"
    echo $? > "$dir/$seed.kiln.rc"
}

# Prints "SEED ok", "SEED ok invalid", "SEED skip REASON", "SEED MISMATCH" or "SEED CRASH",
# and saves the module and both transcripts of a failure to $out_dir.
classify() {
    local dir=$1 seed=$2 base="$1/$2"
    [ -f "$base.wasm" ] || { echo "$seed skip wasm-opt-failed"; return; }
    local krc
    krc="$(cat "$base.kiln.rc")"
    if [ "$krc" = 124 ] || [ -f "$base.wasm.node.timeout" ]; then
        echo "$seed skip timeout"
        return
    fi
    [ -f "$base.wasm.node.txt" ] || { echo "$seed skip reference-error"; return; }
    if grep -qx exhausted "$base.kiln.txt" "$base.wasm.node.txt"; then
        echo "$seed skip exhausted"
        return
    fi
    local verdict=""
    if [ "$krc" != 0 ]; then verdict=CRASH
    elif ! cmp -s "$base.kiln.txt" "$base.wasm.node.txt"; then verdict=MISMATCH
    fi
    if [ -n "$verdict" ]; then
        mkdir -p "$out_dir"
        cp "$base.wasm" "$out_dir/seed-$seed.wasm"
        cp "$base.kiln.txt" "$out_dir/seed-$seed.kiln.txt"
        cp "$base.kiln.err" "$out_dir/seed-$seed.kiln.err"
        cp "$base.wasm.node.txt" "$out_dir/seed-$seed.node.txt"
        echo "kiln-diff $(kiln_flags "$seed") seed-$seed.wasm" > "$out_dir/seed-$seed.command"
        echo "$seed $verdict"
        return
    fi
    if grep -qx invalid "$base.kiln.txt"; then echo "$seed ok invalid"; else echo "$seed ok"; fi
}

first=1
jobs="$(nproc 2> /dev/null || echo 2)"
kiln_diff="${KILN_DIFF:-}"
if [ "${1:-}" = --one ]; then
    kiln_diff="$2"
    build_and_run_kiln "$3" "$4"
    exit 0
fi
while getopts "s:j:k:S" opt; do
    case $opt in
    s) first=$OPTARG ;;
    j) jobs=$OPTARG ;;
    k) kiln_diff=$OPTARG ;;
    S) export KILN_DIFF_SIMD=1 ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
count="${1:-100}"
last=$((first + count - 1))

if [ -z "$kiln_diff" ]; then
    for candidate in "$here/../../build/tests/fuzz/kiln-diff" \
                     "$here/../../build-asan/tests/fuzz/kiln-diff"; do
        [ -x "$candidate" ] && kiln_diff="$candidate" && break
    done
fi
for tool in node wasm-opt timeout; do
    if ! command -v "$tool" > /dev/null; then
        echo "diff.sh: $tool not found, differential test skipped"
        exit 77
    fi
done
if [ ! -x "$kiln_diff" ]; then
    echo "diff.sh: kiln-diff not found (build it, or pass -k PATH)"
    exit 2
fi
kiln_diff="$(cd "$(dirname "$kiln_diff")" && pwd)/$(basename "$kiln_diff")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gen_inputs "$first" "$count" "$work"
seq "$first" "$last" |
    xargs -P "$jobs" -I{} bash "${BASH_SOURCE[0]}" --one "$kiln_diff" "$work" {}
find "$work" -name '*.wasm' -print0 |
    xargs -0 node "$here/reference.mjs" --batch "$jobs" "$timeout_s"
results="$(for seed in $(seq "$first" "$last"); do classify "$work" "$seed"; done)"

ok=$(grep -c ' ok' <<< "$results")
# Function executions compared: the calls in the transcripts of the seeds that agreed.
calls=$(for seed in $(grep ' ok' <<< "$results" | cut -d' ' -f1); do
            grep -c '^call ' "$work/$seed.kiln.txt"
        done | awk '{ n += $1 } END { print n + 0 }')
invalid=$(grep -c ' ok invalid' <<< "$results")
skipped=$(grep -c ' skip' <<< "$results")
failed=$(grep -cE ' (MISMATCH|CRASH)' <<< "$results")
grep -E ' (MISMATCH|CRASH)' <<< "$results" | sed "s|\$| (saved in $out_dir)|"
grep ' skip' <<< "$results" | cut -d' ' -f3 | sort | uniq -c | sed 's/^ */skipped: /'
echo "seeds $first..$last: $ok agreed ($invalid of them invalid on both sides, $calls calls" \
     "compared), $skipped skipped, $failed failed"
echo "$ok passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
