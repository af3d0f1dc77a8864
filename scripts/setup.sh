#!/usr/bin/env bash
# Installs what Kiln needs on Debian 12 (skipped when every package is already there), then
# configures and builds everything into build/.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build g++ clang lld-14  # toolchain
  clang-format python3                                # tests format and layering
  wabt binaryen                                       # wat2wasm/wast2json, wasm-opt
  wasi-libc libc++-14-dev-wasm32 libclang-rt-14-dev-wasm32  # clang --target=wasm32-wasi
  rustc libstd-rust-dev-wasm32 nodejs                 # Rust guests; node's WASI to compare with
  libexpected-dev nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev libbenchmark-dev
  libcurl4-openssl-dev libspdlog-dev libsodium-dev libtomlplusplus-dev  # plugin runtime
  libcpp-httplib-dev                                  # loopback HTTP servers in tests
  libzstd-dev libxxhash-dev                           # snapshots
  libyaml-cpp-dev                                     # plugin manager (YAML manifests)
)
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y "${missing[@]}"
fi

# A build directory keeps the generator it was made with; only a new one gets Ninja.
if [[ -f build/CMakeCache.txt ]]; then
  cmake -S . -B build
else
  cmake -S . -B build -G Ninja
fi
cmake --build build --parallel "$(nproc)"
