// Reflow's actor ABI: Extism-ABI modules exporting `process` (and usually `get_metadata`) that
// call __send_output, __get_state and __set_state in extism:host/user. Two formats, chosen by
// the types of those imports: the current one (ActorContext in, ActorResult out) and Reflow's
// first one (a flat {port: message} map in, a flat {port: value} map out; the host functions
// return an i64). See docs/actors.md and the ABI notes it cites.
#pragma once

#include "actors/actor.hpp"

#include <kiln/actors.hpp>
#include <kiln/plugin.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kiln::actors {

/// The two formats of Reflow actors.
enum class ReflowFormat { current, legacy };

/// What a module's imports and exports say of it as a Reflow actor.
struct ModuleScan {
    ReflowFormat format = ReflowFormat::current;
    bool wasi = false;
    std::vector<std::pair<std::string, FuncType>> user_imports;
    bool has_metadata = false;
};

/// Reads the imports and exports: a `process` export, and extism:host/user imports of the types
/// Kiln provides (which choose the format). Errors start with `where`.
Result<ModuleScan> scan_module(std::span<const uint8_t> bytes, const std::string& where);

/// A wasm actor's modules, read and checked once, from which each node builds its own plugin.
struct WasmSource {
    Manifest manifest;  ///< every module as bytes
    std::string where;  ///< the file, or "plugin NAME (PATH)", for ResolvedNode::source
    std::string plugin; ///< the plugin's name when it came from the plugin folders
    ReflowFormat format = ReflowFormat::current;
    bool wasi = false; ///< the module imports WASI
    /// The extism:host/user functions the module imports, with the types it declares.
    std::vector<std::pair<std::string, FuncType>> user_imports;
    std::optional<ComponentSpec> spec; ///< from get_metadata, when exported
};

/// Reads and checks the modules of `manifest` (`where` names them in errors; empty: the main
/// module's path): a `process` export, host function imports Kiln
/// provides, and the metadata `get_metadata` outputs (run in a throwaway instance).
Result<WasmSource> load_wasm_source(const Engine& engine, Manifest manifest, std::string where,
                                    const PluginOptions& base);

/// An actor for node `node` running `source`: its own compiled plugin, whose host functions act
/// on the node's current call, and a fresh instance for every message.
Result<std::unique_ptr<Actor>> make_wasm_actor(const Engine& engine, const WasmSource& source,
                                               const std::string& node, const PluginOptions& base);

} // namespace kiln::actors
