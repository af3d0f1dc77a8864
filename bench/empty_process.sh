#!/usr/bin/env bash
# Whole-process cost of running an empty module: start the process, read and compile
# empty.wasm, instantiate, call its empty export `f`, exit.
#
#   bench/empty_process.sh [BUILD_DIR] [RUNS]
#
# Uses `kiln invoke empty.wasm f` when the kiln tool has that command, else kiln-bench-run.
# Timed with hyperfine when installed (apt-get install hyperfine), else with a shell loop whose
# per-run figure also contains the loop's own fork/exec cost; /bin/true is timed the same way
# as the floor that any process pays.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-bench}
runs=${2:-1000}
wasm=$build/bench/wat/empty.wasm
[[ -f $wasm ]] || { echo "missing $wasm: build the kiln-bench-wat target" >&2; exit 2; }

cmd=()
if [[ -x $build/tools/kiln/kiln ]] && "$build/tools/kiln/kiln" invoke "$wasm" f >/dev/null 2>&1
then
    cmd=("$build/tools/kiln/kiln" invoke "$wasm" f)
elif [[ -x $build/bench/kiln-bench-run ]]; then
    cmd=("$build/bench/kiln-bench-run" "$wasm" f)
    "${cmd[@]}" >/dev/null
else
    echo "neither kiln (with invoke) nor kiln-bench-run is built in $build" >&2
    exit 2
fi
echo "command: ${cmd[*]}"

if command -v hyperfine >/dev/null; then
    json=$(mktemp)
    trap 'rm -f "$json"' EXIT
    hyperfine -N --warmup 50 --runs "$runs" --export-json "$json" "${cmd[*]}" "/bin/true"
    # The minimum and median are steadier than the mean on a machine with other work.
    python3 - "$json" <<'PY'
import json, statistics, sys
for r in json.load(open(sys.argv[1]))["results"]:
    t = sorted(r["times"])
    print(f"min {t[0] * 1e3:.3f} ms  median {statistics.median(t) * 1e3:.3f} ms  "
          f"mean {r['mean'] * 1e3:.3f} ms: {r['command']}")
PY
    exit 0
fi

time_loop() {
    local start end
    start=$(date +%s%N)
    for ((i = 0; i < runs; i++)); do "$@" >/dev/null; done
    end=$(date +%s%N)
    echo "$(( (end - start) / runs / 1000 )) us per run: $*"
}
for ((i = 0; i < 50; i++)); do "${cmd[@]}" >/dev/null; done # warm the page cache
time_loop "${cmd[@]}"
time_loop /bin/true
