#!/bin/sh
# The package.embed test (see CMakeLists.txt): install, build examples/embed against the
# install, run it. Exits 77 (skipped) when wat2wasm is missing.
#   embed_test.sh SOURCE BUILD CONFIG WORK WAT2WASM CMAKE GENERATOR MAKE_PROGRAM CXX LINK_FLAGS
#                 INSTALLED_TARGET...
set -eu
source=$1 build=$2 config=$3 work=$4 wat2wasm=$5 cmake=$6 generator=$7 make_program=$8
cxx=$9 link_flags=${10}
shift 10

if [ -z "$wat2wasm" ] || ! [ -x "$wat2wasm" ]; then
  echo "wat2wasm (wabt) is not installed: skipping"
  exit 77
fi

echo "--- build $*"
"$cmake" --build "$build" --config "$config" --target "$@"
echo "--- install"
rm -rf "$work"
"$cmake" --install "$build" --config "$config" --prefix "$work/prefix"
echo "--- configure and build examples/embed against $work/prefix"
"$cmake" -S "$source/examples/embed" -B "$work/embed" -G "$generator" \
  -DCMAKE_MAKE_PROGRAM="$make_program" -DCMAKE_BUILD_TYPE="$config" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_EXE_LINKER_FLAGS="$link_flags" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
"$cmake" --build "$work/embed" --config "$config"
embed=$(find "$work/embed" -name kiln-embed -type f | head -n 1)
"$wat2wasm" "$source/examples/embed/plugin.wat" -o "$work/plugin.wasm"

echo "--- a missing plugin is an error with a message and a non-zero exit"
if "$embed" "$work/missing.wasm" 2>"$work/error.txt"; then
  echo "kiln-embed succeeded on a missing file"
  exit 1
fi
cat "$work/error.txt"
grep -q "missing.wasm" "$work/error.txt"

echo "--- run"
"$embed" "$work/plugin.wasm" 10
