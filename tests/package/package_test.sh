#!/bin/sh
# The package.* tests (see CMakeLists.txt), one step each:
#   package_test.sh install   build and install the package stripped, move the prefix (it must
#                             still work: relocatable), check it names no path of this machine,
#                             holds no debug information and rejects an unknown component
#   package_test.sh engine    examples/embed with COMPONENTS engine; its link line holds no
#                             library of the layers above the engine
#   package_test.sh plugin    plugin_host/ with COMPONENTS plugin, on a manifest with a sha256
#   package_test.sh capi      capi_host/, a C-only CMake project, with COMPONENTS capi
#   package_test.sh pkgconfig-c    capi_host/main.c built with `pkg-config --cflags --libs kiln`
#   package_test.sh pkgconfig-cxx  plugin_host/main.cpp built with the flags of kiln-plugin, and
#                             kiln-engine's flags checked to hold nothing of the layers above
# The settings come from the environment: KILN_SOURCE, KILN_BUILD, KILN_CONFIG, KILN_WORK,
# KILN_WAT2WASM, KILN_CMAKE, KILN_GENERATOR, KILN_MAKE_PROGRAM, KILN_CC, KILN_CXX,
# KILN_LINK_FLAGS, KILN_TARGETS (the installed targets) and KILN_PKG_CONFIG. Exits 77 (skipped)
# without wat2wasm, and the pkgconfig steps without pkg-config.
set -eu
step=$1
source=$KILN_SOURCE work=$KILN_WORK prefix=$KILN_WORK/prefix

if [ -z "$KILN_WAT2WASM" ] || ! [ -x "$KILN_WAT2WASM" ]; then
  echo "wat2wasm (wabt) is not installed: skipping"
  exit 77
fi

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# build_host NAME SOURCE_DIR: configures and builds a host against $prefix into $work/NAME,
# keeping the verbose build output in $work/NAME.log.
build_host() {
  echo "--- configure and build $2 against the package"
  rm -rf "${work:?}/$1"
  "$KILN_CMAKE" -S "$2" -B "$work/$1" -G "$KILN_GENERATOR" --no-warn-unused-cli \
    -DCMAKE_MAKE_PROGRAM="$KILN_MAKE_PROGRAM" -DCMAKE_BUILD_TYPE="$KILN_CONFIG" \
    -DCMAKE_C_COMPILER="$KILN_CC" -DCMAKE_CXX_COMPILER="$KILN_CXX" \
    -DCMAKE_EXE_LINKER_FLAGS="$KILN_LINK_FLAGS" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
  "$KILN_CMAKE" --build "$work/$1" --config "$KILN_CONFIG" --verbose >"$work/$1.log" 2>&1 ||
    { cat "$work/$1.log"; fail "building $2"; }
}

# program NAME PROGRAM: the path of PROGRAM built in $work/NAME (in a folder per configuration
# with a multi-configuration generator).
program() {
  path=$(find "$work/$1" -name "$2" -type f | head -n 1)
  [ -n "$path" ] || fail "$2 was not built"
  echo "$path"
}

# link_line NAME PROGRAM: the command that linked PROGRAM in $work/NAME.log.
link_line() {
  line=$(grep -E -- "-o [^ ]*$2( |\$)" "$work/$1.log" | tail -n 1)
  [ -n "$line" ] || fail "no link command for $2 in $work/$1.log"
  echo "$line"
}

# pkg_config ARGS...: pkg-config finding Kiln's .pc files in the prefix (and those of the
# libraries they require where the system keeps them).
pkg_config() {
  PKG_CONFIG_PATH="$prefix/lib/pkgconfig" "$KILN_PKG_CONFIG" "$@"
}

# The plugin of the plugin and pkgconfig-cxx steps, with manifests: echo.json (a sha256 and the
# config color=green) and bad-hash.json, into $work/plugin-files.
write_plugin_files() {
  mkdir -p "$work/plugin-files"
  "$KILN_WAT2WASM" "$source/tests/fixtures/echo_plugin.wat" -o "$work/plugin-files/echo.wasm"
  hash=$(sha256sum "$work/plugin-files/echo.wasm" | cut -d' ' -f1)
  cat >"$work/plugin-files/echo.json" <<EOF
{"wasm": [{"path": "echo.wasm", "hash": "$hash"}], "config": {"color": "green"}}
EOF
  cat >"$work/plugin-files/bad-hash.json" <<EOF
{"wasm": [{"path": "echo.wasm", "hash": "$(echo "$hash" | tr 0-9a-f 1-9a-f0)"}]}
EOF
}

# run_plugin_host HOST: a wrong hash is refused, then two calls print their outputs.
run_plugin_host() {
  echo "--- a module whose sha256 differs from the manifest's is refused"
  if "$1" "$work/plugin-files/bad-hash.json" echo x 2>"$work/$step-error.txt"; then
    fail "$1 accepted a wrong hash"
  fi
  cat "$work/$step-error.txt"
  grep -q "hash" "$work/$step-error.txt"
  echo "--- run"
  "$1" "$work/plugin-files/echo.json" echo "hello from the host"
  "$1" "$work/plugin-files/echo.json" color ""
}

# run_capi_host HOST: a plugin's error comes back as a kiln_error_t, then a call prints its output.
run_capi_host() {
  "$KILN_WAT2WASM" "$source/tests/fixtures/echo_plugin.wat" -o "$work/capi-echo.wasm"
  echo "--- a plugin's error comes back as a kiln_error_t"
  if "$1" "$work/capi-echo.wasm" refuse x 2>"$work/$step-error.txt"; then
    fail "$1 succeeded on refuse"
  fi
  cat "$work/$step-error.txt"
  grep -q "echo_plugin says no" "$work/$step-error.txt"
  echo "--- run"
  "$1" "$work/capi-echo.wasm" echo "hello from C"
}

# The libraries of the layers above the engine, as they would show in a link line or in the
# package's interface of kiln::engine.
above_engine='curl|sodium|spdlog|toml|nlohmann|-ldl\b|libdl\.|\bdl>|libkiln-(wasi|plugin|capi)'

case $step in
install)
  # cmake --install needs the installed targets built.
  # shellcheck disable=SC2086
  "$KILN_CMAKE" --build "$KILN_BUILD" --config "$KILN_CONFIG" --target $KILN_TARGETS
  rm -rf "$work"
  "$KILN_CMAKE" --install "$KILN_BUILD" --config "$KILN_CONFIG" --prefix "$work/staging" --strip
  mv "$work/staging" "$prefix"
  echo "--- the package names no path of this machine"
  if grep -rn -e "$source" -e "$KILN_BUILD" -e "$work" -e "/usr/" "$prefix/lib/cmake/kiln" \
    "$prefix/lib/pkgconfig"; then
    fail "the installed package is not relocatable"
  fi
  ls "$prefix/lib" "$prefix/lib/pkgconfig"
  echo "--- a stripped install holds no debug information, and kiln no symbol table"
  if readelf -S --wide "$prefix/bin/kiln" | grep -E '\.debug_|\.symtab'; then
    fail "bin/kiln is not stripped"
  fi
  for archive in "$prefix"/lib/libkiln-*.a; do
    if readelf -S --wide "$archive" | grep -q '\.debug_'; then fail "$archive has debug information"; fi
  done
  ls -l "$prefix/bin/kiln" "$prefix"/lib/libkiln-*.a
  echo "--- an unknown component is refused"
  mkdir -p "$work/bogus"
  cat >"$work/bogus/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(kiln-bogus LANGUAGES NONE)
find_package(kiln REQUIRED COMPONENTS bogus)
EOF
  if "$KILN_CMAKE" -S "$work/bogus" -B "$work/bogus/build" -DCMAKE_PREFIX_PATH="$prefix" \
    >"$work/bogus.log" 2>&1; then
    fail "find_package(kiln COMPONENTS bogus) succeeded"
  fi
  grep -q "no component bogus" "$work/bogus.log" || { cat "$work/bogus.log"; fail "no word on bogus"; }
  echo "--- installed"
  ;;

engine)
  echo "--- kiln::engine's interface names no library of the layers above"
  interface=$(sed -n '/^set_target_properties(kiln::engine /,/^)/p' \
    "$prefix/lib/cmake/kiln/kiln-engine-targets.cmake" | grep INTERFACE_LINK_LIBRARIES) ||
    fail "kiln::engine has no INTERFACE_LINK_LIBRARIES"
  echo "$interface"
  if echo "$interface" | grep -E "$above_engine"; then fail "kiln::engine links the above"; fi
  build_host embed "$source/examples/embed"
  echo "--- its link line holds only the engine's libraries"
  line=$(link_line embed kiln-embed)
  echo "$line"
  echo "$line" | grep -q "libkiln-engine\.a" || fail "libkiln-engine.a is not linked"
  if echo "$line" | grep -E -o "$above_engine"; then fail "an engine-only host links the above"; fi
  if grep -q "KILN_SODIUM_LIBRARY" "$work/embed/CMakeCache.txt"; then
    fail "find_package(kiln COMPONENTS engine) looked for libsodium"
  fi
  embed=$(program embed kiln-embed)
  "$KILN_WAT2WASM" "$source/examples/embed/plugin.wat" -o "$work/plugin.wasm"
  echo "--- a missing module is an error with a message and a non-zero exit"
  if "$embed" "$work/missing.wasm" 2>"$work/$step-error.txt"; then
    fail "kiln-embed succeeded on a missing file"
  fi
  cat "$work/$step-error.txt"
  grep -q "missing.wasm" "$work/$step-error.txt"
  echo "--- run"
  "$embed" "$work/plugin.wasm" 10
  ;;

plugin)
  build_host plugin "$source/tests/package/plugin_host"
  host=$(program plugin kiln-plugin-host)
  line=$(link_line plugin kiln-plugin-host)
  echo "$line" | grep -q "libkiln-plugin\.a" || fail "libkiln-plugin.a is not linked"
  if echo "$line" | grep -q "libkiln-capi"; then fail "a plugin host links the C API"; fi
  write_plugin_files
  run_plugin_host "$host"
  ;;

capi)
  build_host capi "$source/tests/package/capi_host"
  host=$(program capi kiln-capi-host)
  line=$(link_line capi kiln-capi-host)
  echo "$line" | grep -q "libkiln-capi\.a" || fail "libkiln-capi.a is not linked"
  echo "--- linked by the C compiler, with the C++ runtime the package names"
  echo "$line" | grep -q -- "-lstdc++" || fail "the C host's link line lacks -lstdc++"
  run_capi_host "$host"
  ;;

pkgconfig-c | pkgconfig-cxx)
  if [ -z "$KILN_PKG_CONFIG" ] || ! [ -x "$KILN_PKG_CONFIG" ]; then
    echo "pkg-config is not installed: skipping"
    exit 77
  fi
  mkdir -p "$work/$step"
  if [ "$step" = pkgconfig-c ]; then
    echo "--- pkg-config --cflags --libs kiln"
    flags=$(pkg_config --cflags --libs kiln) || fail "pkg-config found no kiln"
    echo "$flags"
    echo "$flags" | grep -q -- "-L$prefix/lib/pkgconfig/../../lib" ||
      fail "the libraries are not found from the .pc file's folder"
    # shellcheck disable=SC2086
    "$KILN_CC" -std=c11 -Wall "$source/tests/package/capi_host/main.c" $flags $KILN_LINK_FLAGS \
      -o "$work/$step/host" || fail "building the C host with pkg-config's flags"
    run_capi_host "$work/$step/host"
  else
    echo "--- kiln-engine's flags hold nothing of the layers above"
    engine_flags=$(pkg_config --libs kiln-engine) || fail "pkg-config found no kiln-engine"
    echo "$engine_flags"
    if echo "$engine_flags" | grep -E "$above_engine"; then fail "kiln-engine links the above"; fi
    echo "--- pkg-config --cflags --libs kiln-plugin"
    flags=$(pkg_config --cflags --libs kiln-plugin) || fail "pkg-config found no kiln-plugin"
    echo "$flags"
    if echo "$flags" | grep -q "kiln-capi"; then fail "kiln-plugin links the C API"; fi
    # shellcheck disable=SC2086
    "$KILN_CXX" -std=c++20 "$source/tests/package/plugin_host/main.cpp" $flags $KILN_LINK_FLAGS \
      -o "$work/$step/host" || fail "building the C++ host with pkg-config's flags"
    write_plugin_files
    run_plugin_host "$work/$step/host"
  fi
  ;;

*)
  fail "unknown step $step"
  ;;
esac
