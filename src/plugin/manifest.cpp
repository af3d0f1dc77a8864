// Manifest parsing: JSON and TOML text become one JSON value (plugin/walker.hpp), read by the
// walker shared with the manager's package manifests, which names the path of every bad field.
#include "base/file.hpp"

#include <kiln/plugin.hpp>

#include "plugin/http.hpp"
#include "plugin/walker.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <filesystem>

namespace kiln {

namespace {

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

using plugin::Json;
using plugin::Walker;

/// The walk of an Extism manifest: the shared readers, and the folder relative paths are from.
struct Reader {
    Walker w;
    std::string base_dir;

    bool wasm(const Json& v, const std::string& path, Manifest::Wasm& out);
    bool manifest(const Json& v, Manifest& m);
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

bool Reader::wasm(const Json& v, const std::string& path, Manifest::Wasm& out) {
    if (!w.object(v, path) ||
        !w.only(v, path, {"path", "data", "url", "name", "hash", "headers", "method"}))
        return false;
    if (v.contains("path") + v.contains("data") + v.contains("url") != 1)
        return w.fail(path, "expected exactly one of path, data, url");
    if (v.contains("path")) {
        Manifest::WasmFile file;
        if (!w.string(v["path"], Walker::field(path, "path"), file.path)) return false;
        if (!base_dir.empty() && !std::filesystem::path(file.path).is_absolute())
            file.path = (std::filesystem::path(base_dir) / file.path).string();
        out.source = std::move(file);
    } else if (v.contains("data")) {
        std::string text;
        Manifest::WasmBytes bytes;
        if (!w.string(v["data"], Walker::field(path, "data"), text)) return false;
        if (!base64_decode(text, bytes.data))
            return w.fail(Walker::field(path, "data"), "not valid base64");
        out.source = std::move(bytes);
    } else {
        Manifest::WasmUrl url;
        if (!w.string(v["url"], Walker::field(path, "url"), url.url)) return false;
        if (v.contains("method")) {
            if (!w.string(v["method"], Walker::field(path, "method"), url.method)) return false;
            if (!plugin::is_http_token(url.method))
                return w.fail(Walker::field(path, "method"), "expected an HTTP method such as GET");
        }
        if (v.contains("headers") &&
            !w.string_map(v["headers"], Walker::field(path, "headers"), url.headers))
            return false;
        out.source = std::move(url);
    }
    for (const char* only_url : {"method", "headers"})
        if (v.contains(only_url) && !v.contains("url"))
            return w.fail(Walker::field(path, only_url), "only a url source has one");
    if (v.contains("name") && !w.string(v["name"], Walker::field(path, "name"), out.name))
        return false;
    if (v.contains("hash")) {
        if (!w.string(v["hash"], Walker::field(path, "hash"), out.hash)) return false;
        bool hex = out.hash.size() == 64 &&
                   out.hash.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
        if (!hex) return w.fail(Walker::field(path, "hash"), "expected a sha256 as 64 hex digits");
    }
    return true;
}

bool Reader::manifest(const Json& v, Manifest& m) {
    if (!w.object(v, "") || !w.only(v, "",
                                    {"wasm", "name", "memory", "config", "allowed_hosts",
                                     "allowed_paths", "timeout_ms", "fuel"}))
        return false;
    if (!v.contains("wasm")) return w.fail("wasm", "required");
    const Json& ws = v["wasm"];
    if (!ws.is_array() || ws.empty()) return w.fail("wasm", "expected a non-empty array");
    for (size_t i = 0; i < ws.size(); ++i) {
        Manifest::Wasm one;
        if (!wasm(ws[i], Walker::element("wasm", i), one)) return false;
        m.wasm.push_back(std::move(one));
    }
    if (v.contains("name") && !w.string(v["name"], "name", m.name)) return false;
    // null reads as not set, as Extism's serde does for these fields.
    if (v.contains("memory") && !v["memory"].is_null()) {
        const Json& mem = v["memory"];
        if (!w.object(mem, "memory") ||
            !w.only(mem, "memory", {"max_pages", "max_http_response_bytes", "max_var_bytes"}))
            return false;
        uint64_t n = 0;
        if (mem.contains("max_pages")) {
            if (!w.whole_number(mem["max_pages"], "memory.max_pages", n, 0, UINT32_MAX))
                return false;
            m.max_pages = uint32_t(n);
        }
        if (mem.contains("max_http_response_bytes") &&
            !w.whole_number(mem["max_http_response_bytes"], "memory.max_http_response_bytes",
                            m.max_http_response_bytes, 0, UINT64_MAX))
            return false;
        if (mem.contains("max_var_bytes") &&
            !w.whole_number(mem["max_var_bytes"], "memory.max_var_bytes", m.max_var_bytes, 0,
                            UINT64_MAX))
            return false;
    }
    if (v.contains("config") && !v["config"].is_null() &&
        !w.string_map(v["config"], "config", m.config))
        return false;
    if (v.contains("allowed_hosts") && !v["allowed_hosts"].is_null() &&
        !w.string_list(v["allowed_hosts"], "allowed_hosts", m.allowed_hosts))
        return false;
    if (v.contains("allowed_paths") && !v["allowed_paths"].is_null()) {
        if (!w.object(v["allowed_paths"], "allowed_paths")) return false;
        for (const auto& [key, guest] : v["allowed_paths"].items()) {
            const std::string field = Walker::field("allowed_paths", key);
            auto grant = parse_preopen(key);
            if (!grant) return w.fail(field, grant.error().message);
            std::string_view host = std::string_view(key).substr(grant->read_only ? 3 : 0);
            if (host != grant->host)
                return w.fail(field, "the guest path is the value: write the key as [ro:]HOST");
            if (!base_dir.empty() && !std::filesystem::path(grant->host).is_absolute())
                grant->host = (std::filesystem::path(base_dir) / grant->host).string();
            if (!w.string(guest, field, grant->guest)) return false;
            m.allowed_paths.push_back(std::move(*grant));
        }
    }
    uint64_t n = 0;
    if (v.contains("timeout_ms") && !v["timeout_ms"].is_null()) {
        // 0 would be a timeout that stops nothing, or everything: no timeout is said by
        // leaving the field out.
        if (!w.whole_number(v["timeout_ms"], "timeout_ms", n, 1, UINT64_MAX)) return false;
        m.timeout_ms = n;
    }
    if (v.contains("fuel") && !v["fuel"].is_null()) {
        if (!w.whole_number(v["fuel"], "fuel", n, 0, UINT64_MAX)) return false;
        m.fuel = n;
    }
    return true;
}

/// Text parsed by `parse` (JSON or TOML), then walked; errors start with "FORMAT manifest: ".
Result<Manifest> read(Result<Json> parsed, const std::string& base_dir, const char* format) {
    if (!parsed)
        return make_error(parsed.error().kind,
                          fmt::format("{} manifest: {}", format, parsed.error().message));
    Reader r{{}, base_dir};
    Manifest m;
    if (!r.manifest(*parsed, m))
        return make_error(ErrorKind::invalid, fmt::format("{} manifest: {}", format, r.w.error));
    return m;
}

} // namespace

Result<Manifest> Manifest::from_json(std::string_view text, const std::string& base_dir) {
    return read(plugin::parse_json_text(text), base_dir, "JSON");
}

Result<Manifest> Manifest::from_toml(std::string_view text, const std::string& base_dir) {
    return read(plugin::parse_toml_text(text), base_dir, "TOML");
}

Manifest Manifest::from_bytes(std::vector<uint8_t> wasm) {
    Manifest m;
    m.wasm.push_back(Wasm{WasmBytes{std::move(wasm)}, {}, {}});
    return m;
}

std::string Manifest::to_json() const {
    Json j = Json::object();
    Json modules = Json::array();
    for (const Wasm& w : wasm) {
        Json o = Json::object();
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
    Json memory = Json::object();
    if (max_pages) memory["max_pages"] = *max_pages;
    memory["max_http_response_bytes"] = max_http_response_bytes;
    memory["max_var_bytes"] = max_var_bytes;
    j["memory"] = std::move(memory);
    if (!config.empty()) j["config"] = config;
    if (!allowed_hosts.empty()) j["allowed_hosts"] = allowed_hosts;
    if (!allowed_paths.empty()) {
        Json paths = Json::object();
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
