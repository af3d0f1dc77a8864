#!/usr/bin/env bash
# The memo example (examples/plugins/memo, kiln/host.h's kv wrappers) through `kiln plugin call`:
# a memo kept by one process is read by the next (kv in $KILN_HOME's state database), listed by
# prefix and deleted; the wrapper's log line reaches stderr; without the kv grant the host's
# refusal comes back as the command's error.
#   memo_check.sh KILN PLUGINS
set -uo pipefail
kiln=$1 plugins=$2
[[ -f $plugins/memo/memo.wasm ]] || { echo "memo: not built (no clang for wasm32): skipped"; exit 0; }
KILN_HOME=$(mktemp -d)
export KILN_HOME
trap 'rm -rf "$KILN_HOME"' EXIT
fail=0

# call NAME EXPECTED_EXIT STDOUT_REGEX STDERR_REGEX COMMAND PAYLOAD [DIR]
call() {
  local name=$1 code=$2 want_out=$3 want_err=$4 command=$5 payload=$6 dir=${7:-$plugins}
  local out err rc
  out=$("$kiln" plugin call memo "$command" --input "$payload" --plugin-dir "$dir" \
        2>"$KILN_HOME/stderr")
  rc=$?
  err=$(<"$KILN_HOME/stderr")
  if [[ $rc != "$code" ]] || ! grep -Eq -- "$want_out" <<<"$out" ||
     ! grep -Eq -- "$want_err" <<<"$err"; then
    printf 'memo: %s: exit %s (expected %s)\n--- stdout:\n%s\n--- stderr:\n%s\n' \
      "$name" "$rc" "$code" "$out" "$err"
    fail=1
  fi
}

call "absent" 0 '^\{"text":null\}$' '' memo.get '{"key":"a"}'
call "set" 0 '^\{"key":"a","bytes":10\}$' 'memo kept' memo.set '{"key":"a","text":"buy \"milk\""}'
call "read by the next process" 0 '^\{"text":"buy \\"milk\\""\}$' '' memo.get '{"key":"a"}'
call "set another" 0 '^\{"key":"b2","bytes":4\}$' '' memo.set '{"key":"b2","text":"eggs"}'
call "list" 0 '^\["a","b2"\]$' '' memo.list '{}'
call "list by prefix" 0 '^\["b2"\]$' '' memo.list '{"prefix":"b"}'
call "delete" 0 '^null$' 'memo forgotten' memo.delete '{"key":"a"}'
call "deleted" 0 '^\{"text":null\}$' '' memo.get '{"key":"a"}'
call "list after delete" 0 '^\["b2"\]$' '' memo.list '{}'

# The same plugin without its kv grant: the host refuses, the wrapper hands the reason on.
denied=$KILN_HOME/denied
mkdir -p "$denied/memo"
cp "$plugins/memo/memo.wasm" "$denied/memo/"
sed '/^permissions:/,/^  kv:/d' "$plugins/memo/kiln.yaml" >"$denied/memo/kiln.yaml"
call "denied" 1 '^$' 'kv.*not granted' memo.get '{"key":"b2"}' "$denied"
exit $fail
