// Manifest overrides as a command line states them, so that every tool parses them alike.
#include <kiln/plugin.hpp>

#include "base/result.hpp"

#include <fmt/format.h>

namespace kiln {

namespace {

/// Splits "KEY=VALUE" at its first '='; the key may not be empty, the value may unless
/// `value_required`.
Result<std::pair<std::string, std::string>> key_value(std::string_view what, std::string_view text,
                                                      const char* form, bool value_required) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0 || (value_required && eq + 1 == text.size()))
        return make_error(ErrorKind::usage,
                          fmt::format("{} \"{}\": expected {}", what, text, form));
    return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

} // namespace

Result<void> apply_overrides(Manifest& manifest, const ManifestOverrides& o) {
    Manifest m = manifest; // changed whole or not at all
    for (const std::string& link : o.links) {
        KILN_TRY(named, key_value("link", link, "NAME=FILE", true));
        // Before the main module, which stays last unless named "main".
        m.wasm.insert(m.wasm.begin(),
                      Manifest::Wasm{Manifest::WasmFile{named.second}, named.first, {}});
    }
    for (const std::string& text : o.allowed_paths) {
        auto grant = parse_preopen(text);
        if (!grant)
            return make_error(ErrorKind::usage,
                              fmt::format("allowed path: {}", grant.error().message));
        m.allowed_paths.push_back(std::move(*grant));
    }
    m.allowed_hosts.insert(m.allowed_hosts.end(), o.allowed_hosts.begin(), o.allowed_hosts.end());
    for (const std::string& kv : o.config) {
        KILN_TRY(entry, key_value("config", kv, "KEY=VALUE", false));
        m.config[entry.first] = entry.second;
    }
    if (o.timeout_ms) m.timeout_ms = o.timeout_ms;
    if (o.fuel) m.fuel = o.fuel;
    if (o.max_pages) m.max_pages = o.max_pages;
    if (o.max_var_bytes) m.max_var_bytes = *o.max_var_bytes;
    if (o.max_http_response_bytes) m.max_http_response_bytes = *o.max_http_response_bytes;
    manifest = std::move(m);
    return {};
}

} // namespace kiln
