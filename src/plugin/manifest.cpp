// Manifest parsing: JSON through nlohmann::json, TOML converted to the same JSON value by
// plugin/walker (parse_toml_text), so both are checked by one walk that names every bad field.
#include "base/file.hpp"

#include <kiln/plugin.hpp>

#include "plugin/http.hpp"
#include "plugin/walker.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <filesystem>

namespace kiln {

namespace {

// Ordered, so that allowed_paths keep the order a manifest gives them, which to_json() keeps.
using json = nlohmann::ordered_json;

/// "line 3, column 7: syntax error while parsing object - unexpected '}'; expected string
/// literal", from the parser's report and the byte it stopped at.
std::string json_syntax_error(std::string_view text, const json::parse_error& e) {
    // The report reads "[json.exception.parse_error.N] parse error at ...: WHAT".
    std::string_view what = e.what();
    size_t colon = what.find(": ", what.find("parse error"));
    if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
    return fmt::format("{}: {}", plugin::text_position(text, e.byte ? e.byte - 1 : 0), what);
}

enum class ManifestFormat { json, toml };

/// At most the first 8 bytes of a file, quoted, with anything but printable ASCII escaped.
std::string quoted_start(std::span<const uint8_t> bytes) {
    std::string out = "\"";
    for (uint8_t b : bytes.first(std::min<size_t>(bytes.size(), 8))) {
        if (b == '"' || b == '\\')
            out += fmt::format("\\{}", char(b));
        else if (b >= 0x20 && b < 0x7f)
            out += char(b);
        else
            out += fmt::format("\\x{:02x}", b);
    }
    return out + (bytes.size() > 8 ? "\"..." : "\"");
}

/// What a file that is not a module holds: TOML when its name ends in .toml; JSON when it ends
/// in .json or its text starts with '{'; else it is none of the three, and the error says how
/// it starts.
Result<ManifestFormat> manifest_format(const std::string& path, std::span<const uint8_t> bytes) {
    std::string ext = std::filesystem::path(path).extension().string();
    if (ext == ".toml") return ManifestFormat::toml;
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text.starts_with("\xef\xbb\xbf")) text.remove_prefix(3); // a UTF-8 byte order mark
    size_t first = text.find_first_not_of(" \t\r\n");
    if (ext == ".json" || (first != std::string_view::npos && text[first] == '{'))
        return ManifestFormat::json;
    if (bytes.empty())
        return make_error(
            ErrorKind::malformed,
            fmt::format("{}: empty file, not a WebAssembly module or manifest", path));
    return make_error(ErrorKind::malformed,
                      fmt::format("{}: not a WebAssembly module or manifest: starts with {}", path,
                                  quoted_start(bytes)));
}

/// What a value is, for an error saying what a field got instead of what it expects.
std::string describe(const json& v) {
    if (v.is_binary()) return "a TOML date/time";
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number() || v.is_string()) return v.dump();
    if (v.is_array()) return "an array";
    return "an object";
}

struct Walker {
    std::string base_dir;
    std::string error;

    bool fail(const std::string& path, const std::string& what) {
        if (error.empty()) error = fmt::format("{}: {}", path, what);
        return false;
    }
    bool string(const json& v, const std::string& path, std::string& out) {
        if (!v.is_string()) return fail(path, "expected a string");
        out = v.get<std::string>();
        return true;
    }
    /// A limit: a whole number from `min` to `max`. Anything else, a TOML date or time
    /// included, is an error naming the field and what it got.
    bool unsigned_int(const json& v, const std::string& path, uint64_t& out, uint64_t min = 0,
                      uint64_t max = UINT64_MAX) {
        auto wrong = [&] {
            return fail(path, fmt::format("expected a whole number from {} to {}, got {}", min, max,
                                          describe(v)));
        };
        if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
            return wrong();
        out = v.get<uint64_t>();
        return out >= min && out <= max ? true : wrong();
    }
    bool object(const json& v, const std::string& path) {
        return v.is_object() ? true : fail(path, "expected an object");
    }
    /// Rejects keys outside `known`.
    bool only(const json& v, const std::string& path, std::initializer_list<const char*> known) {
        for (const auto& [k, _] : v.items()) {
            bool ok = false;
            for (const char* n : known)
                ok = ok || k == n;
            if (!ok) return fail(path.empty() ? k : path + "." + k, "unknown field");
        }
        return true;
    }

    bool wasm(const json& v, const std::string& path, Manifest::Wasm& w);
    bool manifest(const json& v, Manifest& m);
};

std::string base64_encode(const std::vector<uint8_t>& bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1); // the terminating NUL
    return out;
}

bool base64_decode(std::string_view in, std::vector<uint8_t>& out) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+' || c == '-') return 62;
        if (c == '/' || c == '_') return 63;
        return -1;
    };
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
        int d = val(c);
        if (d < 0) return false;
        acc = (acc << 6) | uint32_t(d);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(uint8_t(acc >> bits));
        }
    }
    return true;
}

bool Walker::wasm(const json& v, const std::string& path, Manifest::Wasm& w) {
    if (!object(v, path) ||
        !only(v, path, {"path", "data", "url", "name", "hash", "headers", "method"}))
        return false;
    if (v.contains("path") + v.contains("data") + v.contains("url") != 1)
        return fail(path, "expected exactly one of path, data, url");
    if (v.contains("path")) {
        Manifest::WasmFile file;
        if (!string(v["path"], path + ".path", file.path)) return false;
        if (!base_dir.empty() && !std::filesystem::path(file.path).is_absolute())
            file.path = (std::filesystem::path(base_dir) / file.path).string();
        w.source = std::move(file);
    } else if (v.contains("data")) {
        std::string text;
        Manifest::WasmBytes bytes;
        if (!string(v["data"], path + ".data", text)) return false;
        if (!base64_decode(text, bytes.data)) return fail(path + ".data", "not valid base64");
        w.source = std::move(bytes);
    } else {
        Manifest::WasmUrl url;
        if (!string(v["url"], path + ".url", url.url)) return false;
        if (v.contains("method")) {
            if (!string(v["method"], path + ".method", url.method)) return false;
            if (!plugin::is_http_token(url.method))
                return fail(path + ".method", "expected an HTTP method such as GET");
        }
        if (v.contains("headers")) {
            if (!object(v["headers"], path + ".headers")) return false;
            for (const auto& [k, val] : v["headers"].items())
                if (!string(val, path + ".headers." + k, url.headers[k])) return false;
        }
        w.source = std::move(url);
    }
    for (const char* only_url : {"method", "headers"})
        if (v.contains(only_url) && !v.contains("url"))
            return fail(path + "." + only_url, "only a url source has one");
    if (v.contains("name") && !string(v["name"], path + ".name", w.name)) return false;
    if (v.contains("hash")) {
        if (!string(v["hash"], path + ".hash", w.hash)) return false;
        bool hex = w.hash.size() == 64 &&
                   w.hash.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
        if (!hex) return fail(path + ".hash", "expected a sha256 as 64 hex digits");
    }
    return true;
}

bool Walker::manifest(const json& v, Manifest& m) {
    if (!v.is_object()) return fail("manifest", "expected an object");
    if (!only(v, "",
              {"wasm", "name", "memory", "config", "allowed_hosts", "allowed_paths", "timeout_ms",
               "fuel"}))
        return false;
    if (!v.contains("wasm")) return fail("wasm", "required");
    const json& ws = v["wasm"];
    if (!ws.is_array() || ws.empty()) return fail("wasm", "expected a non-empty array");
    for (size_t i = 0; i < ws.size(); ++i) {
        Manifest::Wasm w;
        if (!wasm(ws[i], fmt::format("wasm[{}]", i), w)) return false;
        m.wasm.push_back(std::move(w));
    }
    if (v.contains("name") && !string(v["name"], "name", m.name)) return false;
    if (v.contains("memory") && !v["memory"].is_null()) {
        const json& mem = v["memory"];
        if (!object(mem, "memory") ||
            !only(mem, "memory", {"max_pages", "max_http_response_bytes", "max_var_bytes"}))
            return false;
        uint64_t n = 0;
        if (mem.contains("max_pages")) {
            if (!unsigned_int(mem["max_pages"], "memory.max_pages", n, 0, UINT32_MAX)) return false;
            m.max_pages = uint32_t(n);
        }
        if (mem.contains("max_http_response_bytes") &&
            !unsigned_int(mem["max_http_response_bytes"], "memory.max_http_response_bytes",
                          m.max_http_response_bytes))
            return false;
        if (mem.contains("max_var_bytes") &&
            !unsigned_int(mem["max_var_bytes"], "memory.max_var_bytes", m.max_var_bytes))
            return false;
    }
    if (v.contains("config") && !v["config"].is_null()) {
        if (!object(v["config"], "config")) return false;
        for (const auto& [k, val] : v["config"].items()) {
            std::string s;
            if (!string(val, "config." + k, s)) return false;
            m.config[k] = s;
        }
    }
    if (v.contains("allowed_hosts") && !v["allowed_hosts"].is_null()) {
        const json& hs = v["allowed_hosts"];
        if (!hs.is_array()) return fail("allowed_hosts", "expected an array of strings");
        for (size_t i = 0; i < hs.size(); ++i) {
            std::string h;
            if (!string(hs[i], fmt::format("allowed_hosts[{}]", i), h)) return false;
            m.allowed_hosts.push_back(h);
        }
    }
    if (v.contains("allowed_paths") && !v["allowed_paths"].is_null()) {
        if (!object(v["allowed_paths"], "allowed_paths")) return false;
        for (const auto& [key, guest] : v["allowed_paths"].items()) {
            const std::string field = "allowed_paths." + key;
            auto grant = parse_preopen(key);
            if (!grant) return fail(field, grant.error().message);
            std::string_view host = std::string_view(key).substr(grant->read_only ? 3 : 0);
            if (host != grant->host)
                return fail(field, "the guest path is the value: write the key as [ro:]HOST");
            if (!base_dir.empty() && !std::filesystem::path(grant->host).is_absolute())
                grant->host = (std::filesystem::path(base_dir) / grant->host).string();
            if (!string(guest, field, grant->guest)) return false;
            m.allowed_paths.push_back(std::move(*grant));
        }
    }
    uint64_t n = 0;
    if (v.contains("timeout_ms") && !v["timeout_ms"].is_null()) {
        // 0 would be a timeout that stops nothing, or everything: no timeout is said by
        // leaving the field out.
        if (!unsigned_int(v["timeout_ms"], "timeout_ms", n, 1)) return false;
        m.timeout_ms = n;
    }
    if (v.contains("fuel") && !v["fuel"].is_null()) {
        if (!unsigned_int(v["fuel"], "fuel", n)) return false;
        m.fuel = n;
    }
    return true;
}

Result<Manifest> walk(const json& v, const std::string& base_dir, const char* format) {
    Walker w{base_dir, {}};
    Manifest m;
    if (!w.manifest(v, m))
        return make_error(ErrorKind::invalid, fmt::format("{} manifest: {}", format, w.error));
    return m;
}

} // namespace

Result<Manifest> Manifest::from_json(std::string_view text, const std::string& base_dir) {
    json v;
    try {
        v = json::parse(text);
    } catch (const json::parse_error& e) {
        return make_error(ErrorKind::invalid,
                          fmt::format("JSON manifest: {}", json_syntax_error(text, e)));
    } catch (const json::exception& e) {
        // A number too large for a double ("5e818") is a range error, not a syntax error.
        return make_error(ErrorKind::invalid, fmt::format("JSON manifest: {}", e.what()));
    }
    return walk(v, base_dir, "JSON");
}

Result<Manifest> Manifest::from_toml(std::string_view text, const std::string& base_dir) {
    auto v = plugin::parse_toml_text(text);
    if (!v) return make_error(ErrorKind::invalid, "TOML manifest: " + v.error().message);
    return walk(*v, base_dir, "TOML");
}

Manifest Manifest::from_bytes(std::vector<uint8_t> wasm) {
    Manifest m;
    m.wasm.push_back(Wasm{WasmBytes{std::move(wasm)}, {}, {}});
    return m;
}

std::string Manifest::to_json() const {
    json j = json::object();
    json modules = json::array();
    for (const Wasm& w : wasm) {
        json o = json::object();
        if (auto* f = std::get_if<WasmFile>(&w.source)) o["path"] = f->path;
        if (auto* b = std::get_if<WasmBytes>(&w.source)) {
            if (b->path.empty())
                o["data"] = base64_encode(b->data);
            else
                o["path"] = b->path;
        }
        if (auto* u = std::get_if<WasmUrl>(&w.source)) {
            o["url"] = u->url;
            o["method"] = u->method;
            if (!u->headers.empty()) o["headers"] = u->headers;
        }
        if (!w.name.empty()) o["name"] = w.name;
        if (!w.hash.empty()) o["hash"] = w.hash;
        modules.push_back(std::move(o));
    }
    j["wasm"] = std::move(modules);
    if (!name.empty()) j["name"] = name;
    json memory = json::object();
    if (max_pages) memory["max_pages"] = *max_pages;
    memory["max_http_response_bytes"] = max_http_response_bytes;
    memory["max_var_bytes"] = max_var_bytes;
    j["memory"] = std::move(memory);
    if (!config.empty()) j["config"] = config;
    if (!allowed_hosts.empty()) j["allowed_hosts"] = allowed_hosts;
    if (!allowed_paths.empty()) {
        json paths = json::object();
        for (const WasiPreopen& p : allowed_paths)
            paths[(p.read_only ? "ro:" : "") + p.host] = p.guest;
        j["allowed_paths"] = std::move(paths);
    }
    if (timeout_ms) j["timeout_ms"] = *timeout_ms;
    if (fuel) j["fuel"] = *fuel;
    return j.dump(2);
}

Result<Manifest> Manifest::from_file(const std::string& path) {
    KILN_TRY(bytes, read_file(path));
    const std::filesystem::path file(path);
    // Unless the manifest names the plugin, the file does.
    auto with_name = [&](Manifest m) {
        if (m.name.empty()) m.name = file.stem().string();
        return m;
    };
    // A module is kept as the bytes just read, so that loading the plugin reads it only once.
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), "\0asm", 4) == 0) {
        Manifest m = from_bytes(std::move(bytes));
        std::get<WasmBytes>(m.wasm[0].source).path = path;
        return with_name(std::move(m));
    }
    KILN_TRY(format, manifest_format(path, bytes));
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::string base = file.parent_path().string();
    auto m = format == ManifestFormat::toml ? from_toml(text, base) : from_json(text, base);
    if (!m) return make_error(m.error().kind, fmt::format("{}: {}", path, m.error().message));
    return with_name(std::move(*m));
}

} // namespace kiln
