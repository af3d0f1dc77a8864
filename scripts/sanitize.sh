#!/usr/bin/env bash
# The hostile suites under sanitizers, in four phases; fails on any test failure, sanitizer
# report or fuzzer finding, and prints how long each step took (docs/testing.md).
#
#   asan  clang ASan+UBSan build with libFuzzer coverage (-fsanitize=fuzzer-no-link, so the
#         fuzzers below link against it) of the test targets only, in build-asan; runs the unit,
#         plugin, hostile, WASI, C API and fuzz-corpus tests
#   tsan  TSan build of the stress tests alone, in build-tsan; runs them
#   fuzz  every libFuzzer target of build-asan on its corpus (tests/fuzz/corpus/NAME)
#   diff  the differential test against node (V8) with build-asan's kiln-diff, on fixed seeds
#
#   scripts/sanitize.sh [--ci | --long] [asan|tsan|fuzz|diff]...    (no phase: all four)
#
# The short mode (the default) is what CI runs: 45 s per fuzz target and 500 differential seeds.
# --ci is the short mode, with a phase that cannot run for a missing tool counted as a failure.
# --long: 10 minutes per fuzz target, 5000 seeds, the stress tests repeated 10 times.
#
# Environment: ASAN_BUILD_DIR, TSAN_BUILD_DIR (build directories); JOBS (parallel jobs, default
# the number of cores); CC/CXX (default clang/clang++; with g++ the asan phase builds with
# KILN_SANITIZE instead and the fuzz phase is skipped); FUZZ_SECONDS (per fuzz target);
# DIFF_FIRST, DIFF_SEEDS (the differential seed range). ccache is used when installed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
asan_dir=${ASAN_BUILD_DIR:-$root/build-asan}
tsan_dir=${TSAN_BUILD_DIR:-$root/build-tsan}
jobs=${JOBS:-$(nproc)}
mode=short
phases=()
for arg in "$@"; do
    case $arg in
    --ci) mode=ci ;;
    --long) mode=long ;;
    asan | tsan | fuzz | diff) phases+=("$arg") ;;
    *) echo "usage: $0 [--ci | --long] [asan|tsan|fuzz|diff]..." >&2; exit 2 ;;
    esac
done
((${#phases[@]})) || phases=(asan tsan fuzz diff)
if [[ $mode == long ]]; then
    fuzz_seconds=${FUZZ_SECONDS:-600} diff_seeds=${DIFF_SEEDS:-5000} stress_repeat=10
else
    fuzz_seconds=${FUZZ_SECONDS:-45} diff_seeds=${DIFF_SEEDS:-500} stress_repeat=1
fi
# Seeds 1..200 run in every build (ctest fuzz.differential); these are others.
diff_first=${DIFF_FIRST:-1001}

export CC=${CC:-clang} CXX=${CXX:-clang++}
# Halt on the first report so that it fails the run; keep stacks readable. Leaks are checked
# everywhere but in the fuzzers' own runs, where libFuzzer checks them itself.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_init_order=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

configure_args=(-DKILN_BUILD_BENCH=OFF)
command -v ninja >/dev/null && configure_args+=(-G Ninja)
if command -v ccache >/dev/null; then
    configure_args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# Line tables are all a sanitizer report needs, and full debug information costs build time.
configure_args+=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG"
                 "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG")
fuzzing=0
[[ $($CXX --version 2>/dev/null) == *clang* ]] && fuzzing=1

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
start_all=$(date +%s)
timings=()
failed=0

# record NAME SECONDS [NOTE]: a line of the timings table.
record() {
    timings+=("$(printf '%-44s %5ss%s' "$1" "$2" "${3:+  $3}")")
}

# step NAME COMMAND...: runs COMMAND with its output in a log (shown on failure), times it.
step() {
    local name=$1
    shift
    local t0 log="$logs/${name//[^a-zA-Z0-9]/_}.log"
    t0=$(date +%s)
    echo "== $name"
    if ! "$@" >"$log" 2>&1; then
        record "$name" $(($(date +%s) - t0)) FAILED
        tail -n 200 "$log"
        failed=1
        return 1
    fi
    record "$name" $(($(date +%s) - t0))
    # A report that did not fail the step (a sanitizer in recover mode) still fails the run.
    if grep -E -q 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$log"; then
        grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' \
            "$log" | head -n 200
        timings[-1]+="  SANITIZER REPORT"
        failed=1
        return 1
    fi
    grep -E '^\[ measure  \]|tests? (passed|failed)|PASSED|FAILED|ran cleanly|^seeds ' "$log" |
        tail -n 40 || true
}

# skip NAME WHY: a step that cannot run here; a failure in --ci mode.
skip() {
    echo "== $1: skipped: $2"
    if [[ $mode == ci ]]; then
        record "$1" 0 "FAILED (cannot run: $2)"
        failed=1
    else
        record "$1" 0 "skipped: $2"
    fi
}

# ctest_step NAME DIR ARGS...: runs ctest on DIR; ctest gives each test its own process, so a
# crash fails one test and the rest still run.
ctest_step() {
    local name=$1 dir=$2
    shift 2
    step "$name" ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@"
}

# configure DIR NAME CMAKE_ARGS...: configures DIR, unless it was configured with another
# compiler, which CMake cannot switch in place.
configure() {
    local dir=$1 name=$2
    shift 2
    local cached
    cached=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt" 2>/dev/null || true)
    if [[ -n $cached && $(readlink -f "$cached") != $(readlink -f "$(command -v "$CXX")") ]]; then
        echo "sanitize.sh: $dir was configured with $cached, not $CXX; remove it or set" \
             "ASAN_BUILD_DIR/TSAN_BUILD_DIR" >&2
        record "$name" 0 FAILED
        failed=1
        return 1
    fi
    step "$name" cmake -S "$root" -B "$dir" "${configure_args[@]}" "$@"
}

# existing DIR TARGET...: the targets DIR's build defines (some need optional tools).
existing() {
    local dir=$1
    shift
    local all
    all=$(cmake --build "$dir" --target help 2>/dev/null | sed -E 's/^\.\.\. //; s/[: ].*//')
    for t in "$@"; do
        grep -qx -- "$t" <<<"$all" && echo "$t"
    done
    return 0
}

run_asan() {
    local sanitizer=-DKILN_FUZZ=ON
    ((fuzzing)) || sanitizer=-DKILN_SANITIZE=ON
    configure "$asan_dir" "configure ASan+UBSan" "$sanitizer" || return 1
    # The test targets: the hostile label also runs the WASI escape set through kiln and its
    # guest, and the host function layer's hostile set (kiln-hostfns-tests); the WASI label
    # runs the conformance programs through kiln; the fuzz label replays each fuzz target's
    # corpus; every kiln-capi-*-test target is a C API test (each layer adds its own). Then the
    # libFuzzer targets and kiln-diff, for the phases below.
    local targets
    mapfile -t targets < <(existing "$asan_dir" kiln-unit-tests kiln-plugin-tests \
        kiln-hostile-tests kiln-manager-tests kiln-hostfns-tests kiln kiln-wasi-hostile-guest \
        kiln-wasi-programs kiln-capi-test \
        kiln-snapshot-fuzz-check kiln-snapshot-fuzz-corpus kiln-diff \
        $(cmake --build "$asan_dir" --target help 2>/dev/null |
            grep -oE 'kiln-[a-z0-9-]+-fuzz(er|-replay)|kiln-capi-[a-z0-9-]+-test' | sort -u))
    step "build ASan+UBSan (${#targets[@]} targets)" \
        cmake --build "$asan_dir" -j "$jobs" --target "${targets[@]}" || return 1
    step "unit tests (ASan+UBSan)" "$asan_dir/tests/kiln-unit-tests" || true
    step "plugin tests (ASan+UBSan)" "$asan_dir/tests/plugin/kiln-plugin-tests" || true
    # The manager's tests: a hundred reloads under four callers, then every instance freed
    # (LeakSanitizer reports an instance a reload kept alive), and the state database.
    step "manager tests (ASan+UBSan)" "$asan_dir/tests/manager/kiln-manager-tests" || true
    # The hostile tests are timed, so they run one at a time (RUN_SERIAL) on a quiet machine.
    ctest_step "hostile tests (ASan+UBSan)" "$asan_dir" -L hostile \
        -E '^wasi-hostile\.harness-selftest$' || true
    # wasi-node.* run node, not Kiln; fuzz.differential is the diff phase.
    ctest_step "WASI, C API, fuzz corpora (ASan+UBSan)" "$asan_dir" -L 'wasi|capi|fuzz' \
        -LE hostile -E '^wasi-node\.|^fuzz\.differential$' || true
}

run_tsan() {
    configure "$tsan_dir" "configure TSan" -DKILN_TSAN=ON || return 1
    step "build TSan (stress tests)" cmake --build "$tsan_dir" -j "$jobs" \
        --target kiln-stress-tests || return 1
    local repeat=()
    ((stress_repeat > 1)) && repeat=(--repeat "until-fail:$stress_repeat")
    ctest_step "stress tests (TSan)" "$tsan_dir" -L stress "${repeat[@]}" || true
}

# fuzz_one NAME: runs kiln-NAME-fuzzer for fuzz_seconds on its corpus; the corpus it grows is
# kept in build-asan/fuzz-corpus/NAME, findings go to build-asan/fuzz-artifacts/.
fuzz_one() {
    local name=$1 dir="$asan_dir/tests/fuzz"
    local work="$asan_dir/fuzz-corpus/$name" artifacts="$asan_dir/fuzz-artifacts"
    mkdir -p "$work" "$artifacts"
    local args=(-max_total_time="$fuzz_seconds" -timeout=30 -print_final_stats=1
                -artifact_prefix="$artifacts/$name-")
    local corpora=("$work" "$root/tests/fuzz/corpus/$name")
    case $name in
    compile) args+=(-rss_limit_mb=4096 -malloc_limit_mb=2048) ;;
    snapshot) args+=(-rss_limit_mb=4096 -malloc_limit_mb=1024); corpora+=("$dir/corpus/snapshot") ;;
    *) args+=(-rss_limit_mb=2048) ;;
    esac
    [[ -f $root/tests/fuzz/$name.dict ]] && args+=(-dict="$root/tests/fuzz/$name.dict")
    ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1} \
        "$dir/kiln-$name-fuzzer" "${args[@]}" "${corpora[@]}"
}

# The figures of a fuzzer's log: executions, speed, coverage, corpus size.
fuzz_figures() {
    local log=$1 execs rate cov corpus
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    corpus=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    echo "${execs:-?} runs, ${rate:-?}/s, cov ${cov:-?}, corpus ${corpus:-?}"
}

run_fuzz() {
    if ((!fuzzing)); then
        skip "fuzz" "libFuzzer needs clang (CXX=$CXX)"
        return 0
    fi
    local fuzzers=() f
    for f in "$asan_dir"/tests/fuzz/kiln-*-fuzzer; do
        [[ -x $f ]] && fuzzers+=("$(basename "$f" | sed -E 's/^kiln-(.*)-fuzzer$/\1/')")
    done
    if ((!${#fuzzers[@]})); then
        skip "fuzz" "no libFuzzer targets in $asan_dir (run the asan phase first)"
        return 0
    fi
    # One fuzzer per core at a time; each has its own log and exit code.
    local running=0 name t0=$(date +%s)
    echo "== fuzz: ${fuzzers[*]}, ${fuzz_seconds} s each, $jobs at a time"
    for name in "${fuzzers[@]}"; do
        (
            s=$(date +%s) rc=0
            fuzz_one "$name" >"$logs/fuzz-$name.log" 2>&1 || rc=$?
            echo "$rc $(($(date +%s) - s))" >"$logs/fuzz-$name.rc"
        ) &
        if ((++running >= jobs)); then
            wait -n || true
            ((running--))
        fi
    done
    wait || true
    for name in "${fuzzers[@]}"; do
        local rc secs
        read -r rc secs <"$logs/fuzz-$name.rc"
        if ((rc == 0)); then
            record "fuzz $name" "$secs" "$(fuzz_figures "$logs/fuzz-$name.log")"
        else
            record "fuzz $name" "$secs" "FAILED"
            failed=1
            echo "== fuzz $name failed:"
            grep -vE '^#[0-9]+' "$logs/fuzz-$name.log" | tail -n 80
            local artifact
            for artifact in "$asan_dir/fuzz-artifacts/$name"-*; do
                [[ -f $artifact ]] || continue
                echo "-- $artifact (replay: $asan_dir/tests/fuzz/kiln-$name-fuzzer $artifact):"
                od -A x -t x1z "$artifact" | head -n 40
            done
        fi
    done
    echo "fuzz: $(($(date +%s) - t0)) s"
}

run_diff() {
    local kiln_diff="$asan_dir/tests/fuzz/kiln-diff"
    if [[ ! -x $kiln_diff ]]; then
        skip "differential" "no $kiln_diff (run the asan phase first)"
        return 0
    fi
    local missing=() tool
    for tool in node wasm-opt; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        skip "differential" "${missing[*]} not installed"
        return 0
    fi
    # A sanitizer report makes kiln-diff abort, which diff.sh counts as a crash of that seed.
    KILN_DIFF_OUT="$asan_dir/diff-mismatches" step \
        "differential seeds $diff_first..$((diff_first + diff_seeds - 1)) (ASan+UBSan)" \
        bash "$root/tests/fuzz/diff.sh" -k "$kiln_diff" -j "$jobs" -s "$diff_first" \
        "$diff_seeds" || true
}

for phase in "${phases[@]}"; do
    "run_$phase" || true
done

echo
echo "== timings ($mode mode)"
printf '%s\n' "${timings[@]}"
printf '%-44s %5ss\n' "total" $(($(date +%s) - start_all))
if ((failed)); then
    echo "sanitize.sh: FAILED" >&2
    exit 1
fi
echo "sanitize.sh: all clean"
