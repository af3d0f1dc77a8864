#!/usr/bin/env bash
# Builds Kiln with ASan+UBSan (build-asan) and with TSan (build-tsan), then runs the unit,
# plugin and hostile tests under ASan+UBSan and the stress tests under TSan. Fails on any test failure or
# sanitizer report, and prints how long each step took.
#
#   scripts/sanitize.sh            # everything
#   scripts/sanitize.sh asan       # only the ASan+UBSan half
#   scripts/sanitize.sh tsan       # only the TSan half
#
# Environment: ASAN_BUILD_DIR, TSAN_BUILD_DIR (build directories), JOBS (parallel compile jobs),
# CC/CXX (the compiler; g++ and clang++ both work).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
asan_dir=${ASAN_BUILD_DIR:-$root/build-asan}
tsan_dir=${TSAN_BUILD_DIR:-$root/build-tsan}
jobs=${JOBS:-$(nproc)}
what=${1:-all}
case $what in all | asan | tsan) ;; *) echo "usage: $0 [all|asan|tsan]" >&2; exit 2 ;; esac

# Halt on the first report so that it fails the run; keep stacks readable.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_init_order=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
start_all=$(date +%s)
timings=()
failed=0

# step NAME COMMAND...: runs COMMAND with its output in a log (shown on failure), times it.
step() {
    local name=$1
    shift
    local t0 log="$logs/${name//[^a-zA-Z0-9]/_}.log"
    t0=$(date +%s)
    echo "== $name"
    if "$@" >"$log" 2>&1; then
        timings+=("$(printf '%-40s %5ss' "$name" $(($(date +%s) - t0)))")
    else
        timings+=("$(printf '%-40s %5ss  FAILED' "$name" $(($(date +%s) - t0)))")
        tail -n 200 "$log"
        failed=1
        return 1
    fi
    # A report that did not fail the step (a sanitizer in recover mode) still fails the run.
    if grep -E -q 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$log"; then
        grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' \
            "$log" | head -n 200
        timings[-1]+="  SANITIZER REPORT"
        failed=1
        return 1
    fi
    grep -E '^\[ measure  \]|tests? (passed|failed)|PASSED|FAILED' "$log" | tail -n 40 || true
}

# ctest_step NAME DIR ARGS...: runs ctest on DIR; ctest gives each test its own process, so a
# crash fails one test and the rest still run.
ctest_step() {
    local name=$1 dir=$2
    shift 2
    step "$name" ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@"
}

run_asan() {
    step "configure ASan+UBSan" cmake -S "$root" -B "$asan_dir" "${generator[@]}" \
        -DKILN_SANITIZE=ON -DKILN_BUILD_BENCH=OFF || return 1
    # The hostile label also runs the WASI escape set through the kiln command and its guest.
    step "build ASan+UBSan" cmake --build "$asan_dir" -j "$jobs" --target kiln-unit-tests \
        kiln-hostile-tests kiln-plugin-tests kiln kiln-wasi-hostile-guest || return 1
    step "plugin tests (ASan+UBSan)" "$asan_dir/tests/plugin/kiln-plugin-tests" || true
    step "unit tests (ASan+UBSan)" "$asan_dir/tests/kiln-unit-tests" || true
    # The hostile tests are timed, so they run one at a time (RUN_SERIAL) on a quiet machine.
    ctest_step "hostile tests (ASan+UBSan)" "$asan_dir" -L hostile || true
}

run_tsan() {
    step "configure TSan" cmake -S "$root" -B "$tsan_dir" "${generator[@]}" -DKILN_TSAN=ON \
        -DKILN_BUILD_BENCH=OFF || return 1
    step "build TSan" cmake --build "$tsan_dir" -j "$jobs" --target kiln-stress-tests || return 1
    ctest_step "stress tests (TSan)" "$tsan_dir" -L stress || true
}

[[ $what == tsan ]] || run_asan || true
[[ $what == asan ]] || run_tsan || true

echo
echo "== timings"
printf '%s\n' "${timings[@]}"
printf '%-40s %5ss\n' "total" $(($(date +%s) - start_all))
if ((failed)); then
    echo "sanitize.sh: FAILED" >&2
    exit 1
fi
echo "sanitize.sh: all clean"
