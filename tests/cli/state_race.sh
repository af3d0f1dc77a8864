#!/usr/bin/env bash
# Several `kiln` processes starting at once on a fresh $KILN_HOME all get its state database:
# switching a new database file to WAL takes a lock SQLite does not wait for, which once made
# one of two concurrent `kiln plugin list` runs fail with "database is locked".
#   state_race.sh path/to/kiln PLUGIN_DIR
set -u
kiln=$1 plugins=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
for round in $(seq 1 10); do
    home=$tmp/home$round
    pids=()
    for i in $(seq 1 8); do
        KILN_HOME=$home "$kiln" plugin list --plugin-dir "$plugins" >"$tmp/out$i" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            echo "FAILED: round $round, process $((i + 1)): $(cat "$tmp/out$((i + 1))")"
            failed=1
        fi
    done
done
[ $failed = 0 ] && echo "ok: 10 rounds of 8 processes"
exit $failed
