#!/usr/bin/env bash
# Installs, builds and runs every test: unit tests, the kiln CLI tests and the spec testsuite
# (read from ../shared/wasm-testsuite/core, or KILN_WASM_TESTSUITE).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
ctest --test-dir build --output-on-failure -j2
