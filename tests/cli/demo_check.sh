#!/usr/bin/env bash
# The README's main job: examples/demo.sh over the built example plugins exits 0, and each step
# did its work (the plugins listed and none failed, the slot's and the command's answers, the
# job's final state and status line, the graph's last totals).
#   demo_check.sh KILN SOURCE_DIR PLUGINS
set -uo pipefail
kiln=$1 src=$2 plugins=$3
out=$(KILN=$kiln bash "$src/examples/demo.sh" "$plugins" 2>/dev/null)
code=$?
fail=0
expect() {
  if ! grep -Eq -- "$2" <<<"$out"; then
    echo "demo: $1: no line matching $2"
    fail=1
  fi
}
[[ $code == 0 ]] || { echo "demo: exited $code"; fail=1; }
expect "notes discovered" '^notes 1\.0\.0 extism available \(command notes\.add'
expect "a job plugin discovered" '^sum_squares 1\.0\.0 extism available \(job sum\)$'
expect "an Extism manifest discovered" '^count_vowels 0\.0\.0 extism available$'
if grep -q ' failed' <<<"$out"; then
  echo "demo: a plugin is listed as failed:"
  grep ' failed' <<<"$out"
  fail=1
fi
expect "the slot's answer" '^"SLOTS ARE CALLED BY NAME"$'
expect "the command's answer" '^\{"notes":1\}$'
expect "the job's final state" '^\{"n":2000000,"i":2000000,"sum":[0-9]+\}$'
expect "the job's last line" '^job [0-9a-f-]{36} completed$'
expect "the graph's total" '^\{"port":"total","type":"Integer","data":4\}$'
expect "the end" '^demo: done$'
((fail)) && { echo "--- demo output:"; echo "$out"; }
exit $fail
