#!/bin/sh
# kiln job from the command line: run (its output lines and exit codes), start, worker, list,
# status, logs, pause, resume, cancel, Ctrl-C (pause, then cancel), usage errors.
#   cli.sh KILN FIXTURES
set -u
KILN=$1
FIXTURES=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins" "$work/home"
cp -r "$FIXTURES/v1/job_counter" "$work/plugins/"
export KILN_HOME="$work/home"
export KILN_PLUGIN_DIR="$work/plugins"
DB="$work/jobs.db"
failures=0

fail() {
    echo "FAILED: $*" >&2
    failures=$((failures + 1))
}

# expect NAME WANT_RC GOT_RC
expect_rc() {
    [ "$2" = "$3" ] || fail "$1: exit $3, expected $2"
}

# expect_match NAME TEXT REGEX
expect_match() {
    printf '%s\n' "$2" | grep -Eq -- "$3" || fail "$1: no line matches /$3/ in:
$2"
}

uuid='[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'

# --- run: to its end, the final state then "job ID completed"; progress on stderr.
out=$("$KILN" job run job_counter:count --state '{"target":5,"every":2}' --db "$DB" \
      2>"$work/err")
expect_rc "run completed" 0 $?
last=$(printf '%s\n' "$out" | tail -n 1)
state=$(printf '%s\n' "$out" | tail -n 2 | head -n 1)
expect_match "run completed: last line" "$last" "^job $uuid completed\$"
expect_match "run completed: final state" "$state" '^\{"step":5,"target":5,"every":2,'
expect_match "run completed: progress" "$(cat "$work/err")" '^100% step 5 of 5 \(5/5 items\)$'

# --- run: a failed job exits 1 and says why.
out=$("$KILN" job run job_counter:flaky --state '{"fails":1}' --retries 0 --db "$DB" 2>"$work/err")
expect_rc "run failed" 1 $?
expect_match "run failed: last line" "$(printf '%s\n' "$out" | tail -n 1)" "^job $uuid failed\$"
expect_match "run failed: stderr" "$(cat "$work/err")" '^kiln: job failed: flaky: failing as asked$'

# --- run: an export as a job, and retries (flaky is declared with 3), run here one after the
# other.
out=$("$KILN" job run job_counter --export noop --db "$DB" 2>/dev/null)
expect_rc "run export" 0 $?
out=$("$KILN" job run job_counter:flaky --state '{"fails":2}' --db "$DB" 2>/dev/null)
expect_rc "run with retries" 0 $?
expect_match "run with retries: attempts" \
    "$("$KILN" job status "$(printf '%s\n' "$out" | tail -n 1 | cut -d' ' -f2)" --db "$DB")" \
    '^attempts: 3 of 4$'


# --- start, list, status, logs, pause, resume, cancel.
id=$("$KILN" job start job_counter:count --state '{"target":3}' --db "$DB")
expect_rc "start" 0 $?
expect_match "start prints the id" "$id" "^$uuid\$"
expect_match "list" "$("$KILN" job list --db "$DB")" "^$id queued job_counter:count 0%\$"
"$KILN" job list --json --db "$DB" | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j[0]["status"] == "queued", j' \
    || fail "list --json"
expect_match "status" "$("$KILN" job status "$id" --db "$DB")" '^status: queued$'
expect_match "pause" "$("$KILN" job pause "$id" --db "$DB")" "^job $id paused\$"
expect_match "list --status" "$("$KILN" job list --status paused --db "$DB")" "^$id paused"
expect_match "resume" "$("$KILN" job resume "$id" --db "$DB")" "^job $id queued\$"

# A worker runs it; Ctrl-C stops the worker.
"$KILN" job worker --concurrency 2 --db "$DB" 2>/dev/null &
worker=$!
for _ in $(seq 1 200); do
    "$KILN" job status "$id" --db "$DB" | grep -q '^status: completed$' && break
    sleep 0.05
done
expect_match "worker ran it" "$("$KILN" job status "$id" --json --db "$DB")" '"status": "completed"'
kill -INT $worker
wait $worker
expect_rc "worker stops on Ctrl-C" 0 $?
expect_match "logs" "$("$KILN" job logs "$id" --db "$DB")" '^[0-9]+ info count: starting$'

id=$("$KILN" job start job_counter:count --state '{"target":3}' --db "$DB")
expect_match "cancel" "$("$KILN" job cancel "$id" --db "$DB")" "^job $id cancelled\$"
"$KILN" job resume "$id" --db "$DB" 2>"$work/err"
expect_rc "resume a cancelled job" 2 $?
expect_match "resume a cancelled job: why" "$(cat "$work/err")" \
    "^kiln: job $id is cancelled: it cannot be resumed\$"

# --- Ctrl-C pauses `job run` (exit 3); the job checks for interrupts.
"$KILN" job run job_counter:count --state '{"target":100000000,"every":100}' --db "$DB" \
    >"$work/out" 2>/dev/null &
run=$!
sleep 0.5
kill -INT $run
wait $run
expect_rc "Ctrl-C pauses" 3 $?
expect_match "Ctrl-C pauses: last line" "$(tail -n 1 "$work/out")" "^job $uuid paused\$"

# A second Ctrl-C cancels (spin, run as an export without the declaration's snapshots, never
# checks: the pause waits in vain, the cancel interrupts it after the grace).
"$KILN" job run job_counter --export spin --state '{"target":100000000,"work":1000}' --db "$DB" \
    >"$work/out" 2>/dev/null &
run=$!
sleep 0.5
kill -INT $run
sleep 0.3
kill -INT $run
wait $run
expect_rc "a second Ctrl-C cancels" 4 $?
expect_match "a second Ctrl-C cancels: last line" "$(tail -n 1 "$work/out")" \
    "^job $uuid cancelled\$"

# --- usage errors.
"$KILN" job run nocolon --db "$DB" 2>"$work/err"
expect_rc "run without a job" 2 $?
expect_match "run without a job: why" "$(cat "$work/err")" \
    '^kiln: "nocolon": expected PLUGIN:JOB, or PLUGIN with --export NAME$'
"$KILN" job status not-a-uuid --db "$DB" 2>"$work/err"
expect_rc "status of a bad id" 2 $?
"$KILN" job run job_counter:nothing --db "$DB" 2>"$work/err"
expect_rc "run of an unknown job" 2 $?
expect_match "run of an unknown job: why" "$(cat "$work/err")" \
    '^kiln: plugin job_counter has no job nothing \(its jobs: count, spin, flaky, noop\)$'

[ $failures -eq 0 ] || exit 1
echo "kiln job: all checks passed"
