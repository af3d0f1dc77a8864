#!/usr/bin/env bash
# Kiln's main job on the bundled example plugins: finds them, calls a slot, runs a resumable job
# with its progress and runs a small actor graph. Each step prints the command it runs, so the
# output reads as a tour of the `kiln` command.
#
#   examples/demo.sh [PLUGINS]     PLUGINS: the built examples (default build/examples/plugins)
#
# KILN names the kiln binary: by default kiln on PATH, else the build's (build/tools/kiln/kiln). The demo keeps its state (enabled plugins,
# grants, jobs, kv) in a fresh $KILN_HOME of its own, removed at the end, so it runs the same
# every time and leaves the user's state alone.
set -euo pipefail

plugins=${1:-build/examples/plugins}
kiln=${KILN:-kiln}
if [[ -z ${KILN:-} ]] && ! command -v kiln >/dev/null && [[ -x build/tools/kiln/kiln ]]; then
  kiln=build/tools/kiln/kiln
fi
if [[ ! -d $plugins/notes || ! -d $plugins/jobs || ! -d $plugins/actors ]]; then
  echo "demo: no built example plugins in $plugins (run scripts/setup.sh first)" >&2
  exit 2
fi
if ! command -v "$kiln" >/dev/null; then
  echo "demo: $kiln not found (run scripts/setup.sh, or set KILN to the binary)" >&2
  exit 2
fi
KILN_HOME=$(mktemp -d)
export KILN_HOME
trap 'rm -rf "$KILN_HOME"' EXIT

step() {
  printf '\n== %s\n$ kiln' "$1"
  shift
  printf ' %q' "$@"
  printf '\n'
  "$kiln" "$@"
}

dirs=(--plugin-dir "$plugins" --plugin-dir "$plugins/jobs")

step "Discover the plugins: Extism manifests, plugin folders, jobs and actors" \
  plugin list "${dirs[@]}"
step "Call a slot: notes registers notes.upper when it starts" \
  plugin call notes notes.upper --input '{"text":"slots are called by name"}' "${dirs[@]}"
step "Call a command of the same plugin" \
  plugin call notes notes.add --input '{"text":"buy milk"}' "${dirs[@]}"
step "Run a resumable job: progress on stderr, checkpoints in the state database" \
  job run sum_squares:sum --state '{"n":2000000}' "${dirs[@]}"
step "Run a small actor graph: initial packets -> Counter -> Accumulator" \
  graph run "$plugins/actors/counter.graph.json" --plugin-dir "$plugins/actors"
printf '\ndemo: done\n'
