// The Extism kernel ABI: the functions of "extism:host/env" and the embedder's host functions,
// defined once in a CompiledPlugin's Linker and working on the current plugin (state.hpp).
#pragma once

#include <kiln/plugin.hpp>

namespace kiln::plugin {

/// Defines every kernel and host function of "extism:host/env" in `linker`.
void define_env(Linker& linker);

/// An embedder's host function as the Linker takes it: it sees the calling plugin, and an error
/// it sets fails the call.
HostFunc wrap_host_function(const PluginFunction& function);

} // namespace kiln::plugin
