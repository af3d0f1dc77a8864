#!/usr/bin/env bash
# Installs the packages, builds everything (tests and benchmarks too) and runs every test: unit
# tests, the kiln CLI tests, the package test and the spec testsuite (read from
# ../shared/wasm-testsuite/core, or KILN_WASM_TESTSUITE).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --tests
ctest --test-dir build --output-on-failure -j2
