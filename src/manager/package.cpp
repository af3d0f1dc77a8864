// Package manifests: Kiln's own (kiln.yaml, kiln.toml, kiln.json: one schema, three syntaxes)
// and the foreign dialects read as their hosts read them (Zeno's manifest.yaml, Spacedrive's
// manifest.json), all turned into one JSON value and walked by plugin::Walker, so that every
// error names the file and the path of the field.
#include "base/file.hpp"
#include "manager/schema.hpp"
#include "manager/yaml.hpp"
#include "plugin/walker.hpp"

#include <kiln/manager.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

namespace kiln {

namespace {

namespace fs = std::filesystem;
using plugin::Json;
using plugin::Walker;

bool valid_name(std::string_view name) {
    auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (name.empty() || !lower_digit(name[0])) return false;
    return std::all_of(name.begin(), name.end(),
                       [&](char c) { return lower_digit(c) || c == '_' || c == '.' || c == '-'; });
}

std::string absolute_in(const std::string& folder, const std::string& path) {
    if (fs::path(path).is_absolute() || folder.empty()) return path;
    return (fs::path(folder) / path).lexically_normal().string();
}

/// A number and the unit after it ("64 MiB", "250ms"), spaces in the unit dropped; nullopt when
/// the text does not start with a number.
std::optional<std::pair<uint64_t, std::string>> number_with_unit(const std::string& s) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end == s.data()) return std::nullopt;
    std::string unit(end, s.data() + s.size());
    std::erase(unit, ' ');
    return std::pair{n, std::move(unit)};
}

/// `n` times `scale` into `out`, refused as too large when it does not fit.
bool scaled(Walker& w, const std::string& path, uint64_t n, uint64_t scale, uint64_t& out) {
    if (n > UINT64_MAX / scale) return w.fail(path, "too large");
    out = n * scale;
    return true;
}

/// A size: bytes as an integer, or a number with a unit ("64 MiB", "512KiB", "1GB").
bool size_value(Walker& w, const Json& v, const std::string& path, uint64_t& out) {
    if (!v.is_string()) return w.unsigned_int(v, path, out);
    static const std::pair<const char*, uint64_t> units[] = {{"", 1},
                                                             {"B", 1},
                                                             {"KiB", 1ull << 10},
                                                             {"MiB", 1ull << 20},
                                                             {"GiB", 1ull << 30},
                                                             {"KB", 1000},
                                                             {"MB", 1000000},
                                                             {"GB", 1000000000}};
    if (auto parsed = number_with_unit(v.get<std::string>()))
        for (const auto& [name, scale] : units)
            if (parsed->second == name) return scaled(w, path, parsed->first, scale, out);
    return w.fail(path, "expected a size: bytes, or a number with B, KiB, MiB, GiB, KB, MB or GB");
}

/// A duration in milliseconds: an integer, or a number with ms, s or m ("250ms", "5s").
bool duration_ms(Walker& w, const Json& v, const std::string& path, uint64_t& out) {
    if (!v.is_string()) return w.unsigned_int(v, path, out);
    auto parsed = number_with_unit(v.get<std::string>());
    const std::string unit = parsed ? parsed->second : std::string();
    const uint64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0;
    if (!parsed || scale == 0)
        return w.fail(path, "expected a duration: milliseconds, or a number with ms, s or m");
    return scaled(w, path, parsed->first, scale, out);
}

/// `[read, write]` as two flags.
bool read_write(Walker& w, const Json& v, const std::string& path, bool& read, bool& write) {
    std::vector<std::string> modes;
    if (!w.string_list(v, path, modes)) return false;
    for (size_t i = 0; i < modes.size(); ++i) {
        if (modes[i] == "read")
            read = true;
        else if (modes[i] == "write")
            write = true;
        else
            return w.fail(Walker::element(path, i), "expected read or write");
    }
    return true;
}

struct Reader {
    Walker w;
    PackageManifest& m;

    bool wasm_sources(const Json& v, const std::string& path, bool links = false);
    /// One `wasm` entry naming another plugin to link: {plugin, version, name}.
    bool link(const Json& v, const std::string& path);
    bool requires_(const Json& v, const std::string& path, bool foreign);
    bool permissions(const Json& v, const std::string& path);
    bool limits(const Json& v, const std::string& path);
    bool contributes(const Json& v, const std::string& path);
    bool config_schema(const Json& v, const std::string& path);
    bool version(const Json& v, const std::string& path);
    /// The optional descriptive strings: description, author, license, homepage.
    bool about(const Json& v);
    bool kiln(const Json& v);
    bool zeno(const Json& v);
    bool spacedrive(const Json& v);
    void keep_foreign(const Json& v, const std::string& key, const std::string& why);
};

bool Reader::version(const Json& v, const std::string& path) {
    std::string text;
    if (!w.string(v, path, text)) return false;
    auto parsed = Version::parse(text);
    if (!parsed) return w.fail(path, parsed.error().message);
    m.version = *parsed;
    return true;
}

/// `wasm`: a path, or a list of paths, Extism wasm sources ({path|url|data, name, hash}), which
/// Extism's own manifest parser reads so that both accept the same sources, and other plugins
/// to link ({plugin, version, name}), which only Kiln's manifests may name.
bool Reader::wasm_sources(const Json& v, const std::string& path, bool links) {
    Json list = v.is_array() ? v : Json::array({v});
    if (list.empty()) return w.fail(path, "expected a path or a non-empty list of wasm sources");
    // Positions in `v`, for errors, of what stays in `list` once links are taken out.
    std::vector<size_t> at;
    Json sources = Json::array();
    for (size_t i = 0; i < list.size(); ++i) {
        const std::string here = v.is_array() ? Walker::element(path, i) : path;
        if (list[i].is_object() && list[i].contains("plugin") && links) {
            if (!link(list[i], here)) return false;
            continue;
        }
        if (list[i].is_string())
            sources.push_back(Json{{"path", list[i]}});
        else if (list[i].is_object())
            sources.push_back(list[i]);
        else
            return w.fail(here, links ? "expected a path, a wasm source {path|url|data, name, "
                                        "hash} or a plugin to link {plugin, version, name}"
                                      : "expected a path or a wasm source {path|url|data, name, "
                                        "hash}");
        at.push_back(i);
    }
    if (sources.empty())
        return w.fail(path, "expected a module of this plugin's own besides the plugins it links");
    list = std::move(sources);
    auto extism = Manifest::from_json(Json{{"wasm", list}}.dump(), m.folder);
    if (!extism) {
        // "JSON manifest: wasm[0].hash: ..." names the field as this manifest has it once the
        // array index goes where the list is.
        std::string msg = extism.error().message;
        if (size_t from = msg.find("wasm"); from != std::string::npos) msg = msg.substr(from + 4);
        // "[N]..." counts the sources without the links: back to the position in `v`.
        std::string here = path;
        if (msg.starts_with("[")) {
            const size_t close = msg.find(']');
            if (v.is_array())
                here = Walker::element(path, at[std::stoul(msg.substr(1, close - 1))]);
            msg = msg.substr(close + 1);
        }
        return w.fail(here + msg.substr(0, msg.find(':')), msg.substr(msg.find(':') + 2));
    }
    for (size_t i = 0; i < extism->wasm.size(); ++i) {
        const auto& src = extism->wasm[i].source;
        if (auto* f = std::get_if<Manifest::WasmFile>(&src); f && !fs::is_regular_file(f->path))
            return w.fail(v.is_array() ? Walker::element(path, at[i]) : path,
                          fmt::format("no wasm file {}", f->path));
    }
    m.wasm = std::move(extism->wasm);
    return true;
}

bool Reader::link(const Json& v, const std::string& path) {
    if (!w.only(v, path, {"plugin", "version", "name"})) return false;
    PackageManifest::Link l;
    const std::string at = Walker::field(path, "plugin");
    if (!w.string(v["plugin"], at, l.plugin)) return false;
    if (!valid_name(l.plugin))
        return w.fail(
            at, fmt::format("\"{}\": expected a plugin name, [a-z0-9][a-z0-9_.-]*", l.plugin));
    if (l.plugin == m.name) return w.fail(at, "a plugin cannot link itself");
    std::string range = "*";
    if (v.contains("version") && !w.string(v["version"], Walker::field(path, "version"), range))
        return false;
    auto parsed = VersionRange::parse(range);
    if (!parsed) return w.fail(Walker::field(path, "version"), parsed.error().message);
    l.range = std::move(*parsed);
    l.module = l.plugin;
    if (v.contains("name") && !w.string(v["name"], Walker::field(path, "name"), l.module))
        return false;
    if (l.module.empty() || l.module == "main")
        return w.fail(Walker::field(path, "name"),
                      fmt::format("\"{}\": expected a module name other than main", l.module));
    m.links.push_back(std::move(l));
    return true;
}

bool Reader::requires_(const Json& v, const std::string& path, bool foreign) {
    if (!w.object(v, path)) return false;
    for (const auto& [name, range] : v.items()) {
        const std::string at = Walker::field(path, name);
        if (foreign && name == "zeno") continue; // Zeno's own version: not Kiln's to check
        std::string text;
        if (!w.string(range, at, text)) return false;
        auto r = VersionRange::parse(text);
        if (!r) return w.fail(at, r.error().message);
        if (name == "kiln")
            m.requires_kiln = std::move(*r);
        else if (!valid_name(name))
            return w.fail(at, "expected a plugin name ([a-z0-9][a-z0-9_.-]*)");
        else
            m.dependencies.emplace(name, std::move(*r));
    }
    return true;
}

bool Reader::permissions(const Json& v, const std::string& path) {
    if (!w.object(v, path) ||
        !w.only(v, path,
                {"network", "filesystem", "env", "database", "kv", "scope", "events", "operations",
                 "libraries", "ui", "jobs", "concurrent_jobs", "rate_limit"}))
        return false;
    Permissions& p = m.permissions;
    auto at = [&](const char* key) { return Walker::field(path, key); };
    if (v.contains("network") && !w.string_list(v["network"], at("network"), p.network))
        return false;
    if (v.contains("filesystem")) {
        std::vector<std::string> entries;
        if (!w.string_list(v["filesystem"], at("filesystem"), entries)) return false;
        for (std::string& e : entries) {
            Permissions::Path grant{e, false};
            if (e.starts_with("rw:"))
                grant = {e.substr(3), true};
            else if (e.starts_with("ro:"))
                grant.prefix = e.substr(3);
            p.filesystem.push_back(std::move(grant));
        }
    }
    if (v.contains("env") && !w.string_list(v["env"], at("env"), p.env)) return false;
    if (v.contains("database") && !w.string_list(v["database"], at("database"), p.databases))
        return false;
    if (v.contains("kv") && !read_write(w, v["kv"], at("kv"), p.kv_read, p.kv_write)) return false;
    if (v.contains("scope") && !read_write(w, v["scope"], at("scope"), p.scope_read, p.scope_write))
        return false;
    if (v.contains("events")) {
        const Json& e = v["events"];
        const std::string ep = at("events");
        if (!w.object(e, ep) || !w.only(e, ep, {"publish", "subscribe"})) return false;
        if (e.contains("publish") &&
            !w.string_list(e["publish"], Walker::field(ep, "publish"), p.publish))
            return false;
        if (e.contains("subscribe") &&
            !w.string_list(e["subscribe"], Walker::field(ep, "subscribe"), p.subscribe))
            return false;
    }
    if (v.contains("operations") && !w.string_list(v["operations"], at("operations"), p.operations))
        return false;
    if (v.contains("libraries") && !w.string_list(v["libraries"], at("libraries"), p.libraries))
        return false;
    if (v.contains("ui") && !w.boolean(v["ui"], at("ui"), p.ui)) return false;
    uint64_t n = 0;
    // `concurrent_jobs` (the name Spacedrive's manifest gives it, in its rate_limits) is `jobs`
    // under another name; both may be written only when they agree.
    for (const char* key : {"jobs", "concurrent_jobs"}) {
        if (!v.contains(key)) continue;
        if (!w.unsigned_int(v[key], at(key), n)) return false;
        if (n > UINT32_MAX) return w.fail(at(key), "too large");
        if (std::string_view(key) == "concurrent_jobs" && v.contains("jobs") &&
            n != p.max_concurrent_jobs)
            return w.fail(at(key), fmt::format("{} differs from {} ({}): give one of them", n,
                                               at("jobs"), p.max_concurrent_jobs));
        p.max_concurrent_jobs = uint32_t(n);
    }
    if (v.contains("rate_limit")) {
        if (!w.unsigned_int(v["rate_limit"], at("rate_limit"), n)) return false;
        if (n > UINT32_MAX) return w.fail(at("rate_limit"), "too large");
        p.calls_per_minute = uint32_t(n);
    }
    return true;
}

bool Reader::limits(const Json& v, const std::string& path) {
    if (!w.object(v, path) ||
        !w.only(v, path, {"memory", "timeout", "fuel", "http_response", "vars"}))
        return false;
    PackageLimits& l = m.limits;
    uint64_t n = 0;
    auto at = [&](const char* key) { return Walker::field(path, key); };
    if (v.contains("memory")) {
        if (!size_value(w, v["memory"], at("memory"), n)) return false;
        l.memory_bytes = n;
    }
    if (v.contains("timeout")) {
        if (!duration_ms(w, v["timeout"], at("timeout"), n)) return false;
        l.timeout_ms = n;
    }
    if (v.contains("fuel")) {
        if (!w.unsigned_int(v["fuel"], at("fuel"), n)) return false;
        l.fuel = n;
    }
    if (v.contains("http_response")) {
        if (!size_value(w, v["http_response"], at("http_response"), n)) return false;
        l.http_response_bytes = n;
    }
    if (v.contains("vars")) {
        if (!size_value(w, v["vars"], at("vars"), n)) return false;
        l.var_bytes = n;
    }
    return true;
}

bool Reader::contributes(const Json& v, const std::string& path) {
    if (!w.object(v, path) || !w.only(v, path, {"slots", "commands", "events", "ui", "jobs"}))
        return false;
    struct Family {
        const char* key;
        Contribution::Kind kind;
        const char* id;
        const char* title;
    };
    static const Family families[] = {
        {"slots", Contribution::Kind::slot, "name", "description"},
        {"commands", Contribution::Kind::command, "id", "title"},
        {"events", Contribution::Kind::event, "topic", "description"},
        {"ui", Contribution::Kind::ui, "id", "name"},
        {"jobs", Contribution::Kind::job, "name", "description"},
    };
    for (const Family& f : families) {
        if (!v.contains(f.key)) continue;
        const std::string fp = Walker::field(path, f.key);
        const Json& list = v[f.key];
        if (!list.is_array()) return w.fail(fp, "expected an array");
        for (size_t i = 0; i < list.size(); ++i) {
            const std::string ip = Walker::element(fp, i);
            Contribution c;
            c.kind = f.kind;
            // A bare string is the id alone.
            if (list[i].is_string()) {
                c.id = list[i].get<std::string>();
            } else {
                const Json& o = list[i];
                const bool job = f.kind == Contribution::Kind::job;
                if (!w.object(o, ip) || !(job ? w.only(o, ip,
                                                       {f.id, f.title, "export", "snapshots",
                                                        "snapshot_every_ms", "retries"})
                                              : w.only(o, ip, {f.id, f.title, "export"})))
                    return false;
                if (!o.contains(f.id)) return w.fail(Walker::field(ip, f.id), "required");
                if (!w.string(o[f.id], Walker::field(ip, f.id), c.id)) return false;
                if (o.contains(f.title) &&
                    !w.string(o[f.title], Walker::field(ip, f.title), c.title))
                    return false;
                if (o.contains("export") &&
                    !w.string(o["export"], Walker::field(ip, "export"), c.export_name))
                    return false;
                uint64_t n = 0;
                if (o.contains("snapshots") &&
                    !w.boolean(o["snapshots"], Walker::field(ip, "snapshots"), c.snapshots))
                    return false;
                if (o.contains("snapshot_every_ms")) {
                    if (!w.unsigned_int(o["snapshot_every_ms"],
                                        Walker::field(ip, "snapshot_every_ms"),
                                        c.snapshot_every_ms))
                        return false;
                }
                if (o.contains("retries")) {
                    if (!w.unsigned_int(o["retries"], Walker::field(ip, "retries"), n))
                        return false;
                    c.retries = uint32_t(std::min<uint64_t>(n, 1000));
                }
            }
            if (c.id.empty()) return w.fail(ip, "expected a non-empty id");
            m.contributes.push_back(std::move(c));
        }
    }
    return true;
}

bool Reader::about(const Json& v) {
    bool ok = true;
    for (auto [key, out] : {std::pair{"description", &m.description},
                            {"author", &m.author},
                            {"license", &m.license},
                            {"homepage", &m.homepage}})
        if (v.contains(key) && !w.string(v[key], key, *out)) ok = false;
    return ok;
}

bool Reader::config_schema(const Json& v, const std::string& path) {
    if (auto ok = manager::check_schema(v, path); !ok) return w.fail(ok.error().message);
    m.config_schema = v.dump();
    return true;
}

void Reader::keep_foreign(const Json& v, const std::string& key, const std::string& why) {
    Json kept = m.foreign.empty() ? Json::object() : Json::parse(m.foreign);
    kept[key] = v;
    m.foreign = kept.dump();
    m.warnings.push_back(fmt::format("{}: {}: kept, {}", m.file, key, why));
}

/// Every top-level field is read even after one failed, so that `kiln plugin validate` names
/// every problem; a field's reader stops at its own first one.
bool Reader::kiln(const Json& v) {
    if (!w.object(v, "")) return false;
    bool ok =
        w.only(v, "",
               {"name", "version", "description", "author", "license", "homepage", "wasm", "abi",
                "requires", "permissions", "limits", "config", "config_schema", "contributes"});
    for (const char* required : {"name", "version", "wasm"})
        if (!v.contains(required)) ok = w.fail(required, "required");
    if (v.contains("name")) {
        if (!w.string(v["name"], "name", m.name))
            ok = false;
        else if (!valid_name(m.name))
            ok = w.fail("name", fmt::format("\"{}\": expected [a-z0-9][a-z0-9_.-]*", m.name));
    }
    if (v.contains("version")) ok = version(v["version"], "version") && ok;
    ok = about(v) && ok;
    if (v.contains("abi")) {
        std::string abi;
        const PluginAbi all[] = {PluginAbi::automatic, PluginAbi::extism, PluginAbi::zeno,
                                 PluginAbi::spacedrive, PluginAbi::reflow};
        if (!w.string(v["abi"], "abi", abi)) {
            ok = false;
        } else if (auto it = std::find_if(std::begin(all), std::end(all),
                                          [&](PluginAbi a) { return abi == abi_name(a); });
                   it == std::end(all)) {
            ok = w.fail("abi", fmt::format("\"{}\": expected auto, extism, zeno, spacedrive or "
                                           "reflow",
                                           abi));
        } else {
            m.abi = *it;
        }
    }
    if (v.contains("requires")) ok = requires_(v["requires"], "requires", false) && ok;
    if (v.contains("permissions")) ok = permissions(v["permissions"], "permissions") && ok;
    if (v.contains("limits")) ok = limits(v["limits"], "limits") && ok;
    if (v.contains("config")) ok = w.string_map(v["config"], "config", m.config) && ok;
    if (v.contains("config_schema")) ok = config_schema(v["config_schema"], "config_schema") && ok;
    if (v.contains("contributes")) ok = contributes(v["contributes"], "contributes") && ok;
    if (v.contains("wasm")) ok = wasm_sources(v["wasm"], "wasm", true) && ok;
    return ok;
}

/// Zeno's manifest.yaml as Zeno reads it: name and binary required, unknown keys ignored (kept
/// here, with a warning), a missing version 0.0.0.
bool Reader::zeno(const Json& v) {
    if (!w.object(v, "")) return false;
    m.abi = PluginAbi::zeno;
    for (const char* required : {"name", "binary"})
        if (!v.contains(required)) return w.fail(required, "required");
    if (!w.string(v["name"], "name", m.name)) return false;
    if (v.contains("version") && !version(v["version"], "version")) return false;
    if (!about(v)) return false;
    if (v.contains("type")) {
        std::string type;
        if (!w.string(v["type"], "type", type)) return false;
        if (type == "sidecar")
            return w.fail("type", "a sidecar plugin is a process, not wasm: Kiln runs wasm");
        if (type != "wasm") return w.fail("type", "expected wasm or sidecar");
    }
    if (v.contains("requires") && !requires_(v["requires"], "requires", true)) return false;
    if (v.contains("permissions")) {
        const Json& p = v["permissions"];
        if (!w.object(p, "permissions") ||
            !w.only(p, "permissions", {"scope", "network", "filesystem", "database", "env"}))
            return false;
        Permissions& out = m.permissions;
        if (p.contains("scope") &&
            !read_write(w, p["scope"], "permissions.scope", out.scope_read, out.scope_write))
            return false;
        if (p.contains("network") &&
            !w.string_list(p["network"], "permissions.network", out.network))
            return false;
        // Zeno checks a filesystem prefix for reads and writes alike.
        std::vector<std::string> prefixes;
        if (p.contains("filesystem") &&
            !w.string_list(p["filesystem"], "permissions.filesystem", prefixes))
            return false;
        for (std::string& prefix : prefixes)
            out.filesystem.push_back({std::move(prefix), true});
        if (p.contains("database") &&
            !w.string_list(p["database"], "permissions.database", out.databases))
            return false;
        if (p.contains("env") && !w.string_list(p["env"], "permissions.env", out.env)) return false;
    }
    std::string binary;
    if (!w.string(v["binary"], "binary", binary)) return false;
    if (!wasm_sources(Json(binary), "binary")) return false;
    for (const auto& [key, value] : v.items()) {
        static const char* const used[] = {"name",     "version",    "description", "author",
                                           "license",  "homepage",   "type",        "binary",
                                           "requires", "permissions"};
        if (std::find(std::begin(used), std::end(used), key) != std::end(used)) continue;
        keep_foreign(value, key, "Kiln does not use it");
    }
    return true;
}

/// Spacedrive's manifest.json as its serde types read it: id, name, version, description,
/// author, wasm_file and permissions.methods required; the plugin's name is its id.
bool Reader::spacedrive(const Json& v) {
    if (!w.object(v, "")) return false;
    m.abi = PluginAbi::spacedrive;
    for (const char* required :
         {"id", "name", "version", "description", "author", "wasm_file", "permissions"})
        if (!v.contains(required)) return w.fail(required, "required");
    if (!w.string(v["id"], "id", m.name)) return false;
    if (!version(v["version"], "version")) return false;
    if (!w.string(v["description"], "description", m.description) ||
        !w.string(v["author"], "author", m.author))
        return false;
    if (v.contains("homepage") && !w.string(v["homepage"], "homepage", m.homepage)) return false;
    const Json& p = v["permissions"];
    if (!w.object(p, "permissions")) return false;
    if (!p.contains("methods")) return w.fail("permissions.methods", "required");
    Permissions& out = m.permissions;
    if (!w.string_list(p["methods"], "permissions.methods", out.operations)) return false;
    out.libraries = {"*"};
    if (p.contains("libraries")) {
        out.libraries.clear();
        if (!w.string_list(p["libraries"], "permissions.libraries", out.libraries)) return false;
    }
    out.calls_per_minute = 1000;
    out.max_concurrent_jobs = 10;
    if (p.contains("rate_limits")) {
        const Json& r = p["rate_limits"];
        const std::string rp = "permissions.rate_limits";
        if (!w.object(r, rp)) return false;
        uint64_t n = 0;
        if (r.contains("requests_per_minute")) {
            if (!w.unsigned_int(r["requests_per_minute"], rp + ".requests_per_minute", n))
                return false;
            out.calls_per_minute = uint32_t(std::min<uint64_t>(n, UINT32_MAX));
        }
        if (r.contains("concurrent_jobs")) {
            if (!w.unsigned_int(r["concurrent_jobs"], rp + ".concurrent_jobs", n)) return false;
            out.max_concurrent_jobs = uint32_t(std::min<uint64_t>(n, UINT32_MAX));
        }
    }
    if (p.contains("network_access") &&
        !w.string_list(p["network_access"], "permissions.network_access", out.network))
        return false;
    if (p.contains("max_memory_mb")) {
        uint64_t mb = 0;
        if (!w.unsigned_int(p["max_memory_mb"], "permissions.max_memory_mb", mb)) return false;
        if (mb != 0) m.limits.memory_bytes = mb << 20;
    }
    for (const auto& [key, value] : p.items())
        if (key != "methods" && key != "libraries" && key != "rate_limits" &&
            key != "network_access" && key != "max_memory_mb")
            keep_foreign(value, "permissions." + key, "Kiln does not use it");
    if (v.contains("config_schema") && !config_schema(v["config_schema"], "config_schema"))
        return false;
    std::string wasm_file;
    if (!w.string(v["wasm_file"], "wasm_file", wasm_file)) return false;
    if (!wasm_sources(Json(wasm_file), "wasm_file")) return false;
    keep_foreign(v["name"], "name", "the display name (the plugin's name is its id)");
    for (const auto& [key, value] : v.items()) {
        static const char* const used[] = {"id",          "name",        "version",
                                           "description", "author",      "homepage",
                                           "wasm_file",   "permissions", "config_schema"};
        if (std::find(std::begin(used), std::end(used), key) == std::end(used))
            keep_foreign(value, key, "Kiln does not use it");
    }
    return true;
}

Result<std::string> read_text(const std::string& path) {
    KILN_TRY(bytes, read_file(path));
    return std::string(bytes.begin(), bytes.end());
}

/// ${VAR} and ${VAR:-default} in one config value.
Result<std::string>
expand(const std::string& key, const std::string& value, const Permissions& permissions,
       const std::function<std::optional<std::string>(const std::string&)>& getenv) {
    std::string out;
    size_t at = 0;
    while (true) {
        size_t open = value.find("${", at);
        if (open == std::string::npos) break;
        size_t close = value.find('}', open);
        if (close == std::string::npos)
            return make_error(ErrorKind::invalid,
                              fmt::format("config.{}: \"${{\" without its closing \"}}\"", key));
        out += value.substr(at, open - at);
        std::string inner = value.substr(open + 2, close - open - 2);
        std::optional<std::string> fallback;
        if (size_t dash = inner.find(":-"); dash != std::string::npos) {
            fallback = inner.substr(dash + 2);
            inner = inner.substr(0, dash);
        }
        if (inner.empty())
            return make_error(ErrorKind::invalid,
                              fmt::format("config.{}: \"${{}}\" names no variable", key));
        if (!allows(permissions, Permission::env, inner))
            return make_error(ErrorKind::invalid,
                              fmt::format("config.{}: ${{{}}}: the variable is not in "
                                          "permissions.env",
                                          key, inner));
        std::optional<std::string> got = getenv(inner);
        if (!got && !fallback)
            return make_error(ErrorKind::invalid,
                              fmt::format("config.{}: environment variable {} is not set (write "
                                          "${{{}:-DEFAULT}} for a default)",
                                          key, inner, inner));
        out += got ? *got : *fallback;
        at = close + 1;
    }
    return out + value.substr(at);
}

} // namespace

const char* dialect_name(PackageManifest::Dialect dialect) {
    switch (dialect) {
    case PackageManifest::Dialect::kiln: return "kiln";
    case PackageManifest::Dialect::zeno: return "zeno";
    case PackageManifest::Dialect::spacedrive: return "spacedrive";
    case PackageManifest::Dialect::extism: return "extism";
    case PackageManifest::Dialect::bare_wasm: return "wasm";
    }
    return "unknown";
}

const char* contribution_kind_name(Contribution::Kind kind) {
    switch (kind) {
    case Contribution::Kind::slot: return "slot";
    case Contribution::Kind::command: return "command";
    case Contribution::Kind::event: return "event";
    case Contribution::Kind::ui: return "ui";
    case Contribution::Kind::job: return "job";
    }
    return "unknown";
}

Result<PackageManifest> PackageManifest::parse(std::string_view text, std::string_view syntax,
                                               Dialect dialect, const std::string& file) {
    PackageManifest m;
    m.dialect = dialect;
    m.file = file;
    m.folder = fs::path(file).parent_path().string();
    auto named = [&](const std::string& msg) {
        return make_error(ErrorKind::invalid, fmt::format("{}: {}", file, msg));
    };
    Result<Json> value = syntax == "yaml"   ? manager::parse_yaml_text(text)
                         : syntax == "toml" ? plugin::parse_toml_text(text)
                                            : plugin::parse_json_text(text);
    if (!value) return named(value.error().message);
    Reader r{{}, m};
    bool ok = dialect == Dialect::zeno         ? r.zeno(*value)
              : dialect == Dialect::spacedrive ? r.spacedrive(*value)
                                               : r.kiln(*value);
    if (!ok) {
        // One line per problem, each naming the file.
        std::string text;
        for (const std::string& problem : r.w.problems)
            text += (text.empty() ? "" : "\n") + fmt::format("{}: {}", file, problem);
        return make_error(ErrorKind::invalid, text.empty() ? file + ": invalid" : text);
    }
    return m;
}

Result<PackageManifest> PackageManifest::from_file(const std::string& path) {
    const fs::path p(path);
    const std::string file = p.filename().string();
    const std::string ext = p.extension().string();
    if (ext == ".wasm") {
        if (!fs::is_regular_file(p))
            return make_error(ErrorKind::io, fmt::format("{}: cannot open", path));
        PackageManifest m;
        m.dialect = Dialect::bare_wasm;
        m.file = path;
        m.folder = p.parent_path().string();
        m.name = p.stem().string();
        m.wasm.push_back(Manifest::Wasm{Manifest::WasmFile{path}, {}, {}});
        return m;
    }
    auto text = read_text(path);
    if (!text) return tl::unexpected(text.error());
    if (file == "kiln.yaml" || file == "kiln.yml") return parse(*text, "yaml", Dialect::kiln, path);
    if (file == "kiln.toml") return parse(*text, "toml", Dialect::kiln, path);
    if (file == "kiln.json") return parse(*text, "json", Dialect::kiln, path);
    if (file == "manifest.yaml" || file == "manifest.yml")
        return parse(*text, "yaml", Dialect::zeno, path);
    if (ext == ".json" || ext == ".toml") {
        // A manifest.json with wasm_file is Spacedrive's; anything else is Extism's.
        if (ext == ".json") {
            auto v = plugin::parse_json_text(*text);
            if (v && v->is_object() && v->contains("wasm_file"))
                return parse(*text, "json", Dialect::spacedrive, path);
        }
        auto extism = Manifest::from_file(path);
        if (!extism) return tl::unexpected(extism.error());
        PackageManifest m;
        m.dialect = Dialect::extism;
        m.file = path;
        m.folder = p.parent_path().string();
        m.name = extism->name;
        m.wasm = extism->wasm;
        m.config = extism->config;
        m.permissions.network = extism->allowed_hosts;
        for (const WasiPreopen& grant : extism->allowed_paths)
            m.permissions.filesystem.push_back({grant.host, !grant.read_only});
        if (extism->max_pages) m.limits.memory_bytes = uint64_t(*extism->max_pages) << 16;
        m.limits.timeout_ms = extism->timeout_ms;
        m.limits.fuel = extism->fuel;
        m.limits.http_response_bytes = extism->max_http_response_bytes;
        m.limits.var_bytes = extism->max_var_bytes;
        m.extism = std::move(*extism);
        return m;
    }
    return make_error(ErrorKind::invalid,
                      fmt::format("{}: not a manifest (expected kiln.yaml, kiln.toml, kiln.json, "
                                  "manifest.yaml, manifest.json, an Extism .json or .toml, or a "
                                  ".wasm)",
                                  path));
}

std::string PackageManifest::file_in_folder(const std::string& folder) {
    for (const char* name : {"kiln.yaml", "kiln.yml", "kiln.toml", "kiln.json", "manifest.yaml",
                             "manifest.yml", "manifest.json"}) {
        const fs::path p = fs::path(folder) / name;
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return p.string();
    }
    return {};
}

Result<PackageManifest> PackageManifest::from_folder(const std::string& folder) {
    if (std::string file = file_in_folder(folder); !file.empty()) return from_file(file);
    return make_error(ErrorKind::invalid,
                      fmt::format("{}: no manifest (kiln.yaml, kiln.toml, kiln.json, manifest.yaml "
                                  "or manifest.json)",
                                  folder));
}

Result<std::map<std::string, std::string>> PackageManifest::resolve_config(
    const std::function<std::optional<std::string>(const std::string&)>& getenv) const {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : config) {
        // An Extism manifest's config is taken literally, as Extism takes it.
        if (dialect == Dialect::extism) {
            out[key] = value;
            continue;
        }
        auto expanded = expand(key, value, permissions, getenv);
        if (!expanded) return tl::unexpected(expanded.error());
        out[key] = std::move(*expanded);
    }
    if (!config_schema.empty())
        if (auto ok = manager::apply_config_schema(Json::parse(config_schema), out); !ok)
            return tl::unexpected(ok.error());
    return out;
}

Result<Manifest> PackageManifest::to_extism(
    const std::function<std::optional<std::string>(const std::string&)>& getenv) const {
    if (extism) {
        Manifest m = *extism;
        m.name = name;
        return m;
    }
    Manifest m;
    m.wasm = wasm;
    m.name = name;
    auto config = resolve_config(getenv);
    if (!config) return tl::unexpected(config.error());
    m.config = std::move(*config);
    for (const std::string& pattern : permissions.network) {
        // Extism allows hosts; a URL pattern allows its host (the URL itself is checked by the
        // host functions against the pattern).
        std::string host = pattern;
        if (size_t scheme = host.find("://"); scheme != std::string::npos) {
            host = host.substr(scheme + 3);
            host = host.substr(0, host.find_first_of("/?#"));
            if (size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
            host = host.substr(0, host.find(':'));
        }
        if (!host.empty() && std::find(m.allowed_hosts.begin(), m.allowed_hosts.end(), host) ==
                                 m.allowed_hosts.end())
            m.allowed_hosts.push_back(host);
    }
    for (const Permissions::Path& p : permissions.filesystem) {
        // A relative prefix is a folder of the plugin's, seen by the guest under the same
        // relative name from the root; only folders that exist can be granted.
        std::string host = absolute_in(folder, p.prefix);
        std::error_code ec;
        if (!fs::is_directory(host, ec)) continue;
        std::string guest = fs::path(p.prefix).is_absolute()
                                ? p.prefix
                                : "/" + fs::path(p.prefix).lexically_normal().string();
        m.allowed_paths.push_back(WasiPreopen{host, guest, !p.write});
    }
    if (limits.memory_bytes)
        m.max_pages = uint32_t(std::min<uint64_t>((*limits.memory_bytes + 65535) >> 16, 65536));
    m.timeout_ms = limits.timeout_ms;
    m.fuel = limits.fuel;
    if (limits.http_response_bytes) m.max_http_response_bytes = *limits.http_response_bytes;
    if (limits.var_bytes) m.max_var_bytes = *limits.var_bytes;
    return m;
}

} // namespace kiln
