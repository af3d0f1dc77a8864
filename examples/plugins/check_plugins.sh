#!/bin/sh
# Smoke test of the example plugins through `kiln call`: expected outputs, errors and exit codes,
# and count_vowels in C, Rust and AssemblyScript giving identical outputs. Plugins whose toolchain
# was missing (no .wasm) are skipped. greeter is left out: `kiln call` offers no host function
# `hello`.
#   usage: check_plugins.sh KILN BUILD_DIR/examples/plugins
# Ends with "N passed, N failed"; exits 1 when something failed.
set -u
kiln=$1
cd "$2" || exit 2
passed=0
failed=0
tmp=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; printf '%s\n' "$2" | sed 's/^/     /'; }
have() { [ -f "$1.wasm" ] || { echo "skip $1 (not built)"; return 1; }; }

# expect NAME WANT_RC WANT_OUTPUT [kiln call args...]: stdout must equal WANT_OUTPUT.
expect() {
    name=$1 want_rc=$2 want=$3
    shift 3
    got=$("$kiln" call "$@" 2>"$tmp/err")
    rc=$?
    if [ "$rc" = "$want_rc" ] && [ "$got" = "$want" ]; then
        ok "$name"
    else
        bad "$name" "rc $rc (want $want_rc), output: $got
stderr: $(cat "$tmp/err")"
    fi
}

# expect_error NAME TEXT [kiln call args...]: exit code 1 and TEXT in stderr.
expect_error() {
    name=$1 text=$2
    shift 2
    "$kiln" call "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    if [ "$rc" = 1 ] && grep -qF -- "$text" "$tmp/err"; then
        ok "$name"
    else
        bad "$name" "rc $rc, stderr: $(cat "$tmp/err")"
    fi
}

if have count_vowels; then
    expect "count_vowels counts and totals" 0 '{"count":3,"total":3,"vowels":"aeiouAEIOU"}
{"count":3,"total":6,"vowels":"aeiouAEIOU"}' count_vowels.json count_vowels \
        --input "Hello, World!" --loop 2
    expect "count_vowels escapes its config" 0 '{"count":5,"total":5,"vowels":"lo\"\\"}' \
        count_vowels.json count_vowels --input "Hello, World!" --config 'vowels=lo"\'
    expect_error "count_vowels rejects a long config" "longer than 1024 bytes" \
        count_vowels.json count_vowels --config "vowels=$(printf '%01100d' 0)"
fi

# same_as_c NAME LABEL: count_vowels built as NAME gives the C version's outputs, byte for byte,
# for inputs and vowel sets with ASCII, control bytes, quotes, backslashes and UTF-8, over two
# calls (so the var `total` is read back too).
same_as_c() {
    other=$1 label=$2
    same=1
    for input in "" "a" "Hello, World!" "$(printf 'tab\there \001 é')"; do
        for cfg in "vowels=aeiouAEIOU" "vowels=xyz" "vowels=$(printf 'q"\\\037é')"; do
            c=$("$kiln" call count_vowels.json count_vowels --input "$input" --config "$cfg" \
                --loop 2 2>&1)
            o=$("$kiln" call "$other.json" count_vowels --input "$input" --config "$cfg" \
                --loop 2 2>&1)
            [ "$c" = "$o" ] || { same=0; bad "count_vowels C = $label" "C: $c
$label: $o"; }
        done
    done
    # An input read in several chunks, and the error for an over-long vowel set.
    head -c 20000 /dev/urandom >"$tmp/big"
    c=$("$kiln" call count_vowels.json count_vowels --stdin <"$tmp/big" 2>&1)
    o=$("$kiln" call "$other.json" count_vowels --stdin <"$tmp/big" 2>&1)
    [ "$c" = "$o" ] || { same=0; bad "count_vowels C = $label" "C: $c
$label: $o"; }
    long="vowels=$(printf '%01100d' 0)"
    c=$("$kiln" call count_vowels.json count_vowels --config "$long" 2>&1)
    o=$("$kiln" call "$other.json" count_vowels --config "$long" 2>&1)
    [ "$c" = "$o" ] || { same=0; bad "count_vowels C = $label" "C: $c
$label: $o"; }
    [ $same = 1 ] && ok "count_vowels C = $label"
}

if have count_vowels && have count_vowels_rust; then
    same_as_c count_vowels_rust Rust
fi
if have count_vowels && have count_vowels_as; then
    same_as_c count_vowels_as AssemblyScript
fi

if have counter; then
    expect "counter increments from initial_value" 0 "11
12
13" counter.json increment --loop 3
    expect "counter decrements" 0 "9" counter.json decrement
    expect "counter resets" 0 "10" counter.json reset
    expect "counter defaults to 0" 0 "-1" counter.wasm decrement
    expect_error "counter rejects a bad initial_value" "not a decimal integer" \
        counter.json increment --config initial_value=ten
fi

if have fail; then
    expect_error "fail fails with its message" "this plugin fails on purpose" fail.json fail
fi

# simd_stats built with -msimd128 (SIMD intrinsics, vectorized loops) against the same source
# built without: identical outputs for inputs that do and do not fill whole vectors.
if have simd_stats && have simd_stats_simd; then
    same=1
    head -c 100000 /dev/urandom >"$tmp/random"
    printf 'line one\nline two\n\n%s\n' "$(head -c 3000 /dev/urandom | od -An -tx1)" >"$tmp/text"
    : >"$tmp/empty"
    printf 'Hello, World!' >"$tmp/short"
    for input in random text empty short; do
        plain=$("$kiln" call simd_stats.wasm stats --stdin <"$tmp/$input" 2>&1)
        simd=$("$kiln" call simd_stats_simd.wasm stats --stdin <"$tmp/$input" 2>&1)
        case $plain in '{"bytes":'*) ;; *) same=0 ;; esac
        [ "$plain" = "$simd" ] || same=0
        [ $same = 1 ] || { bad "simd_stats with -msimd128 = without" "$input, without: $plain
with -msimd128: $simd"; break; }
    done
    # The SIMD build must really hold SIMD instructions (when wabt can tell).
    if command -v wasm-objdump >/dev/null 2>&1 &&
        ! wasm-objdump -d simd_stats_simd.wasm | grep -q 'i8x16\|i16x8\|i32x4'; then
        same=0
        bad "simd_stats with -msimd128 = without" "simd_stats_simd.wasm has no SIMD instructions"
    fi
    [ $same = 1 ] && ok "simd_stats with -msimd128 = without"
fi

if have wasi_read; then
    expect "wasi_read reads an allowed file" 0 \
        "Hello from a file that wasi_read was allowed to open." \
        wasi_read.json read_file --input /data/hello.txt
    expect_error "wasi_read cannot leave allowed_paths" "/etc/passwd:" \
        wasi_read.json read_file --input /etc/passwd
    expect_error "wasi_read reports a missing file" "No such file" \
        wasi_read.json read_file --input /data/missing.txt
fi

if have http_fetch; then
    expect_error "http_fetch is denied hosts not allowed" "not in allowed_hosts" \
        http_fetch.wasm fetch --input http://127.0.0.1:9/
    # A server on the loopback only, for at most 60 s, on a port the system picks.
    if command -v python3 >/dev/null 2>&1; then
        echo "fetched body" >"$tmp/page.txt"
        python3 - "$tmp" >"$tmp/port" 2>/dev/null <<'EOF' &
import functools, http.server, sys, threading
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.log_message = lambda *a: None
server = http.server.HTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
threading.Timer(60, server.shutdown).start()
server.serve_forever()
EOF
        server_pid=$!
        for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$tmp/port" ] && break; sleep 0.3; done
        expect "http_fetch returns the body" 0 "fetched body" \
            http_fetch.json fetch --input "http://127.0.0.1:$(cat "$tmp/port")/page.txt"
    fi
fi

# The job plugins, run as jobs: the final state, then "job ID completed"; from a fresh state and
# from one saved part way (1..1000 summed), as a resumed job starts.
for job in sum_squares sum_squares_rust sum_squares_as; do
    if [ ! -f "jobs/$job/$job.wasm" ]; then
        echo "skip $job (not built)"
        continue
    fi
    got=$(KILN_HOME="$tmp/home" "$kiln" job run "$job:sum" --state '{"n":1000000}' \
          --plugin-dir jobs --db "$tmp/jobs.db" 2>"$tmp/err")
    rc=$?
    first=$(printf '%s\n' "$got" | head -n 1)
    last=$(printf '%s\n' "$got" | tail -n 1)
    if [ "$rc" = 0 ] && [ "$first" = '{"n":1000000,"i":1000000,"sum":163183}' ] &&
        printf '%s\n' "$last" | grep -Eq '^job [0-9a-f-]{36} completed$'; then
        ok "$job runs as a job"
    else
        bad "$job runs as a job" "rc $rc, output: $got
stderr: $(cat "$tmp/err")"
    fi
    got=$(KILN_HOME="$tmp/home" "$kiln" job run "$job:sum" \
          --state '{"n":2500,"i":1000,"sum":333833500}' --plugin-dir jobs --db "$tmp/jobs.db" \
          2>"$tmp/err")
    rc=$?
    first=$(printf '%s\n' "$got" | head -n 1)
    if [ "$rc" = 0 ] && [ "$first" = '{"n":2500,"i":2500,"sum":211458715}' ]; then
        ok "$job goes on from a saved state"
    else
        bad "$job goes on from a saved state" "rc $rc, output: $got
stderr: $(cat "$tmp/err")"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
