// CompiledPlugin: the manifest's modules fetched, checked and compiled once, in linking order,
// and one Linker with the kernel and the embedder's host functions, so that creating a Plugin
// only instantiates.
#include "base/result.hpp"
#include "plugin/env.hpp"
#include "plugin/fetch.hpp"
#include "plugin/impl.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace kiln {

namespace {

/// The main module: the one named "main", else the last.
size_t main_index(const Manifest& m) {
    size_t main = m.wasm.size() - 1;
    for (size_t i = 0; i < m.wasm.size(); ++i)
        if (m.wasm[i].name == "main") main = i;
    return main;
}

/// PluginOptions::name's default: the manifest's name, the main module's name, the stem of
/// its file or URL, else "plugin".
std::string default_name(const Manifest& m) {
    if (!m.name.empty()) return m.name;
    const Manifest::Wasm& main = m.wasm[main_index(m)];
    if (!main.name.empty()) return main.name;
    std::string where;
    if (auto* f = std::get_if<Manifest::WasmFile>(&main.source)) where = f->path;
    if (auto* u = std::get_if<Manifest::WasmUrl>(&main.source))
        where = u->url.substr(0, u->url.find_first_of("?#"));
    std::string stem = std::filesystem::path(where).stem().string();
    return stem.empty() ? "plugin" : stem;
}

} // namespace

CompiledPlugin::CompiledPlugin(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
CompiledPlugin::~CompiledPlugin() = default;
const Manifest& CompiledPlugin::manifest() const {
    return m_impl->manifest;
}
const std::string& CompiledPlugin::name() const {
    return m_impl->name;
}

Result<std::shared_ptr<const CompiledPlugin>>
CompiledPlugin::create(const Engine& engine, Manifest manifest, PluginOptions options) {
    if (manifest.wasm.empty()) return make_error(ErrorKind::usage, "manifest: no wasm modules");
    // As from_json() refuses it: a timeout of 0 would stop nothing, or everything.
    if (manifest.timeout_ms == 0u)
        return make_error(ErrorKind::usage, fmt::format("manifest: timeout_ms: expected a whole "
                                                        "number from 1 to {}, got 0",
                                                        UINT64_MAX));
    if (!plugin::log_level_of(options.log_level))
        return tl::unexpected(plugin::unknown_log_level(options.log_level));
    std::string name = options.name.empty() ? default_name(manifest) : options.name;
    auto impl = std::make_unique<Impl>(
        Impl{engine, std::move(manifest), std::move(options), std::move(name), {}, Linker()});
    const Manifest& m = impl->manifest;
    const size_t main = main_index(m);
    for (size_t i = 0; i <= m.wasm.size(); ++i) {
        if (i == m.wasm.size())
            i = main; // main last
        else if (i == main)
            continue;
        KILN_TRY(bytes, plugin::fetch_wasm(m.wasm[i]));
        auto module = Module::compile(engine, bytes);
        std::string module_name = m.wasm[i].name.empty()
                                      ? (i == main ? "main" : fmt::format("wasm{}", i))
                                      : m.wasm[i].name;
        if (!module)
            return make_error(module.error().kind,
                              fmt::format("module {}: {}", module_name, module.error().message));
        impl->modules.emplace_back(module_name, std::move(*module));
        if (i == main) break;
    }
    plugin::define_env(impl->linker);
    for (const PluginFunction& f : impl->options.functions)
        impl->linker.define_func(f.ns, f.name, plugin::wrap_host_function(f));
    // WASI's functions find their state in the store (Wasi::attach): defined once, here, they
    // serve every instance.
    if (impl->options.wasi) Wasi::define(impl->linker);
    // The modules linked by name are defined when instantiating, over these stubs.
    if (impl->options.trap_unknown_imports)
        for (const auto& [module_name, module] : impl->modules)
            impl->linker.define_unknown_imports_as_traps(module);
    return std::make_shared<const CompiledPlugin>(std::move(impl));
}

} // namespace kiln
