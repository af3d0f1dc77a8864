// Getting a manifest's modules: reading a file, taking inline bytes or downloading a URL (with
// its method and headers), then checking the sha256 the manifest gives.
#pragma once

#include <kiln/plugin.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::plugin {

/// The bytes of one module, checked against its hash when it has one.
Result<std::vector<uint8_t>> fetch_wasm(const Manifest::Wasm& wasm);

/// The sha256 of `bytes` in lowercase hex (what manifests' `hash` holds); empty when libsodium
/// cannot start.
std::string sha256_hex(std::span<const uint8_t> bytes);

/// What messages call a module: its path, its URL, else its name or "inline wasm".
std::string describe_wasm(const Manifest::Wasm& wasm);

} // namespace kiln::plugin
