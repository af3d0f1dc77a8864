// Plugin snapshots: the store and WASI sections, and a "plugin" section with what the plugin
// runtime holds beside them (kernel memory, the call's handles, vars, config).
#include "plugin/impl.hpp"

#include "base/reader.hpp"
#include "base/writer.hpp"

#include <fmt/format.h>

namespace kiln {

namespace {

tl::unexpected<Error> bad_section(std::string_view what) {
    return make_error(ErrorKind::malformed, fmt::format("snapshot: plugin section: {}", what));
}

void write_map(Writer& w, const std::map<std::string, std::string>& m) {
    w.u64(m.size());
    for (const auto& [k, v] : m) {
        w.str32(k);
        w.str32(v);
    }
}

Result<std::map<std::string, std::string>> read_map(Reader& r) {
    KILN_TRY(n, r.u64_fixed());
    if (n > r.remaining() / 8) return bad_section("truncated map");
    std::map<std::string, std::string> m;
    for (uint64_t i = 0; i < n; ++i) {
        KILN_TRY(k, r.str32());
        KILN_TRY(v, r.str32());
        m.emplace(std::move(k), std::move(v));
    }
    return m;
}

} // namespace

Result<std::vector<uint8_t>> Plugin::snapshot() const {
    const Impl& p = *m_impl;
    const CurrentPlugin::State& s = *p.state;
    if (s.in_call)
        return make_error(ErrorKind::usage, "a plugin cannot be snapshotted inside its own call");
    Snapshot snap;
    if (p.wasi) KILN_CHECK(p.wasi->save(snap));
    Writer w;
    w.u8(p.needs_fresh);
    w.str32(p.suspended);
    w.u32(uint32_t(p.last_rc));
    for (uint64_t v : {s.input, s.input_len, s.output, s.output_len, s.error})
        w.u64(v);
    w.u8(s.host_error.has_value());
    w.str32(s.host_error.value_or(""));
    write_map(w, s.vars);
    write_map(w, s.config);
    w.u32(uint32_t(s.log_level));
    w.u32(uint32_t(s.http_status));
    w.str32(s.http_headers);
    s.kernel.save(w);
    snap.set("plugin", std::move(w.out()));
    return p.store->snapshot(snap);
}

Result<Plugin> Plugin::restore(std::shared_ptr<const CompiledPlugin> compiled,
                               std::span<const uint8_t> bytes) {
    KILN_TRY(snap, Snapshot::decode(bytes));
    const std::vector<uint8_t>* section = snap.get("plugin");
    if (!section) return make_error(ErrorKind::invalid, "snapshot: no plugin section (a store's?)");
    bool wants_wasi = compiled->impl().options.wasi;
    if (wants_wasi != (snap.get("wasi") != nullptr))
        return make_error(ErrorKind::invalid,
                          wants_wasi ? "snapshot: the plugin uses WASI but the snapshot has no "
                                       "WASI state"
                                     : "snapshot: the snapshot holds WASI state but the plugin "
                                       "is built without WASI");
    // Read the plugin section whole before anything is restored.
    Reader r(*section);
    auto fail = [](const Error& e) { return bad_section(e.message); };
#define PLUGIN_READ(var, expr)                                                                     \
    auto var##_r = (expr);                                                                         \
    if (!var##_r) return fail(var##_r.error());                                                    \
    auto var = std::move(*var##_r)
    PLUGIN_READ(needs_fresh, r.u8());
    PLUGIN_READ(suspended, r.str32());
    PLUGIN_READ(last_rc, r.u32_fixed());
    uint64_t handles[5];
    for (uint64_t& h : handles) {
        PLUGIN_READ(v, r.u64_fixed());
        h = v;
    }
    PLUGIN_READ(has_host_error, r.u8());
    PLUGIN_READ(host_error, r.str32());
    PLUGIN_READ(vars, read_map(r));
    PLUGIN_READ(config, read_map(r));
    PLUGIN_READ(log_level, r.u32_fixed());
    PLUGIN_READ(http_status, r.u32_fixed());
    PLUGIN_READ(http_headers, r.str32());
    plugin::Kernel kernel;
    if (auto k = kernel.load(r); !k) return tl::unexpected(std::move(k.error()));
    if (!r.at_end()) return bad_section("bytes after its end");
#undef PLUGIN_READ
    const uint64_t var_bytes = plugin::var_bytes_of(vars);
    const Manifest& m = compiled->manifest();
    if (var_bytes > m.max_var_bytes)
        return make_error(ErrorKind::limit,
                          fmt::format("snapshot: its vars take {} bytes, past this plugin's "
                                      "max_var_bytes ({})",
                                      var_bytes, m.max_var_bytes));

    // The instance is not initialized: _initialize and constructors would run (with whatever
    // they do outside the instance) only for the snapshot's state to replace what they did.
    Plugin plugin(Impl::make(std::move(compiled)));
    Impl& p = *plugin.m_impl;
    KILN_CHECK(p.instantiate(false));
    KILN_CHECK(p.store->restore(snap));
    if (p.wasi) KILN_CHECK(p.wasi->restore(snap));
    if (!suspended.empty() && !p.store->has_suspended_call())
        return bad_section("a suspended call is named but the store holds none");
    CurrentPlugin::State& s = *p.state;
    s.kernel = std::move(kernel);
    s.input = handles[0];
    s.input_len = handles[1];
    s.output = handles[2];
    s.output_len = handles[3];
    s.error = handles[4];
    if (has_host_error) s.host_error = std::move(host_error);
    s.vars = std::move(vars);
    s.var_bytes = var_bytes;
    s.config = std::move(config);
    s.log_level = int32_t(log_level);
    s.http_status = int(http_status);
    s.http_headers = std::move(http_headers);
    s.rebalance();
    p.needs_fresh = needs_fresh != 0;
    p.suspended = std::move(suspended);
    p.last_rc = int32_t(last_rc);
    p.exports.clear();
    return plugin;
}

} // namespace kiln
