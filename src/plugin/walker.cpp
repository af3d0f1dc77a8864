// The typed readers and the TOML to JSON conversion of walker.hpp.
#include "plugin/walker.hpp"

#include "plugin/toml_guard.hpp"

#include <fmt/format.h>
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <algorithm>

namespace kiln::plugin {

namespace {

Json toml_value(const toml::node& n) {
    if (auto t = n.as_table()) {
        Json o = Json::object();
        for (const auto& [k, v] : *t)
            o[unguard_toml_string(k.str())] = toml_value(v);
        return o;
    }
    if (auto a = n.as_array()) {
        Json arr = Json::array();
        for (const auto& v : *a)
            arr.push_back(toml_value(v));
        return arr;
    }
    if (auto s = n.as_string()) return unguard_toml_string(s->get());
    if (auto i = n.as_integer()) return i->get();
    if (auto f = n.as_floating_point()) return f->get();
    if (auto b = n.as_boolean()) return b->get();
    return Json::binary({}); // dates and times: no manifest field takes one
}

} // namespace

std::string text_position(std::string_view text, size_t at) {
    at = std::min(at, text.size());
    const size_t line = 1 + std::count(text.begin(), text.begin() + at, '\n');
    const size_t line_start = at == 0 ? std::string_view::npos : text.rfind('\n', at - 1);
    const size_t column = line_start == std::string_view::npos ? at + 1 : at - line_start;
    return fmt::format("line {}, column {}", line, column);
}

Result<Json> parse_json_text(std::string_view text) {
    // nlohmann's parser reports the byte where it stopped only through its exception, which
    // is caught here and turned into a line and column.
    try {
        return Json::parse(text);
    } catch (const Json::parse_error& e) {
        // The report reads "[json.exception.parse_error.N] parse error at ...: WHAT".
        std::string_view what = e.what();
        const size_t colon = what.find(": ", what.find("parse error"));
        if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
        return make_error(
            ErrorKind::invalid,
            fmt::format("{}: {}", text_position(text, e.byte ? e.byte - 1 : 0), what));
    } catch (const Json::exception& e) {
        // A number too large for a double ("5e818") is a range error, not a syntax error.
        return make_error(ErrorKind::invalid, fmt::format("not valid JSON: {}", e.what()));
    }
}

Result<Json> parse_toml_text(std::string_view text) {
    // toml++ is given only text it handles without undefined behaviour (see toml_guard.hpp).
    auto safe = guard_toml_text(text);
    if (!safe) return tl::unexpected(safe.error());
    toml::parse_result r = toml::parse(*safe);
    if (!r) {
        const auto& e = r.error();
        return make_error(ErrorKind::invalid,
                          fmt::format("line {}, column {}: {}", e.source().begin.line,
                                      e.source().begin.column,
                                      unguard_toml_string(e.description())));
    }
    return toml_value(r.table());
}

std::string describe(const Json& v) {
    if (v.is_binary()) return "a TOML date/time";
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number() || v.is_string()) return v.dump();
    if (v.is_array()) return "an array";
    return "an object";
}

bool Walker::fail(const std::string& path, const std::string& what) {
    return fail(fmt::format("{}: {}", path, what));
}

bool Walker::fail(const std::string& problem) {
    if (error.empty()) error = problem;
    problems.push_back(problem);
    return false;
}

std::string Walker::field(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string Walker::element(const std::string& path, size_t index) {
    return fmt::format("{}[{}]", path, index);
}

bool Walker::string(const Json& v, const std::string& path, std::string& out) {
    if (!v.is_string()) return fail(path, "expected a string");
    out = v.get<std::string>();
    return true;
}

bool Walker::boolean(const Json& v, const std::string& path, bool& out) {
    if (!v.is_boolean()) return fail(path, "expected true or false");
    out = v.get<bool>();
    return true;
}

bool Walker::unsigned_int(const Json& v, const std::string& path, uint64_t& out) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        return fail(path, "expected a non-negative integer");
    out = v.get<uint64_t>();
    return true;
}

bool Walker::whole_number(const Json& v, const std::string& path, uint64_t& out, uint64_t min,
                          uint64_t max) {
    auto wrong = [&] {
        return fail(path, fmt::format("expected a whole number from {} to {}, got {}", min, max,
                                      describe(v)));
    };
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        return wrong();
    out = v.get<uint64_t>();
    return out >= min && out <= max ? true : wrong();
}

bool Walker::object(const Json& v, const std::string& path) {
    return v.is_object() ? true : fail(path.empty() ? "manifest" : path, "expected an object");
}

bool Walker::string_list(const Json& v, const std::string& path, std::vector<std::string>& out) {
    if (!v.is_array()) return fail(path, "expected an array of strings");
    for (size_t i = 0; i < v.size(); ++i) {
        std::string s;
        if (!string(v[i], element(path, i), s)) return false;
        out.push_back(std::move(s));
    }
    return true;
}

bool Walker::string_map(const Json& v, const std::string& path,
                        std::map<std::string, std::string>& out) {
    if (!object(v, path)) return false;
    for (const auto& [k, val] : v.items())
        if (!string(val, field(path, k), out[k])) return false;
    return true;
}

bool Walker::only(const Json& v, const std::string& path,
                  std::initializer_list<const char*> known) {
    return only(v, path, std::vector<std::string>(known.begin(), known.end()));
}

bool Walker::only(const Json& v, const std::string& path, const std::vector<std::string>& known) {
    bool ok = true;
    for (const auto& [k, _] : v.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            ok = fail(field(path, k), "unknown field");
    return ok;
}

} // namespace kiln::plugin
