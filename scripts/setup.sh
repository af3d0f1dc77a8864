#!/usr/bin/env bash
# Sets Kiln up on Debian 12: installs the packages it needs (apt is skipped when every one is
# already there), builds into build/ and installs.
#
#   scripts/setup.sh           the library, `kiln` and the example plugins (a new build/ is
#                              Release), then installs them stripped, `kiln` where the shell
#                              finds it: /usr/local as root, else ~/.local (KILN_PREFIX chooses)
#   scripts/setup.sh --tests   also the test packages, and builds everything, tests and
#                              benchmarks included, installing nothing (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

tests=OFF
case ${1:-} in
--tests) tests=ON ;;
"") ;;
*) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac

packages=(
  build-essential cmake ninja-build g++ clang lld-14  # toolchain
  wabt                                                # wat2wasm for the example modules
  wasi-libc libc++-14-dev-wasm32 libclang-rt-14-dev-wasm32  # clang --target=wasm32-wasi
  rustc libstd-rust-dev-wasm32                        # Rust plugins
  libexpected-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libcurl4-openssl-dev libspdlog-dev libsodium-dev libtomlplusplus-dev  # plugin runtime
  libzstd-dev libxxhash-dev                           # snapshots
  libyaml-cpp-dev libsqlite3-dev                      # plugin manager (YAML, state database)
)
test_packages=(
  clang-format python3                                # tests format and layering
  binaryen                                            # wasm-opt
  nodejs                                              # node's WASI to compare with
  libgtest-dev libbenchmark-dev
  libcpp-httplib-dev                                  # loopback HTTP servers in tests
  pkg-config                                          # the package test's pkg-config hosts
  json-schema-test-suite                              # config_schema against the JSON Schema suite
)
[[ $tests == OFF ]] || packages+=("${test_packages[@]}")
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$package")
done
sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y "${missing[@]}"
fi

# The AssemblyScript kit's compiler (asc) comes from npm, for its examples and tests; without
# it they are skipped (the build itself never runs npm).
if [[ $tests == ON && ! -x pdk/assemblyscript/node_modules/.bin/asc ]]; then
  if command -v npm >/dev/null; then
    (cd pdk/assemblyscript && npm install --no-audit --no-fund --loglevel=error) ||
      echo "setup: npm install failed in pdk/assemblyscript; the AssemblyScript examples are skipped"
  else
    echo "setup: npm not found; the AssemblyScript examples and tests are skipped"
  fi
fi

# A build directory keeps the generator and build type it was made with; a new one gets Ninja
# and Release.
options=(-DKILN_BUILD_TESTS=$tests -DKILN_BUILD_BENCH=$tests)
if [[ -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "${options[@]}"
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${options[@]}"
fi
cmake --build build --parallel "$(nproc)"
[[ $tests == OFF ]] || exit 0

# Installed stripped: the tool, the libraries, the headers and the CMake and pkg-config files.
if [[ -n ${KILN_PREFIX:-} ]]; then
  prefix=$KILN_PREFIX
elif [[ $(id -u) == 0 ]]; then
  prefix=/usr/local
else
  prefix=$HOME/.local
fi
cmake --install build --strip --prefix "$prefix" >build/install.log ||
  { cat build/install.log; exit 1; }
echo "setup: installed kiln as $prefix/bin/kiln"
case ":$PATH:" in
*":$prefix/bin:"*) ;;
*)
  echo "setup: note: $prefix/bin is not on PATH; add it with"
  echo "  export PATH=\"$prefix/bin:\$PATH\""
  [[ $prefix != "$HOME/.local" ]] ||
    echo "(Debian's ~/.profile adds ~/.local/bin to PATH at the next login once it exists)"
  ;;
esac
