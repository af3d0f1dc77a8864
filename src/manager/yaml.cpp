// YAML through yaml-cpp, which reports errors by exception: they are caught here and become
// error values naming the line and column.
#include "manager/yaml.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <regex>

namespace kiln::manager {

namespace {

using plugin::Json;

/// The YAML 1.2 core schema's reading of a plain scalar.
Json plain_scalar(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Json();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    static const std::regex integer("[-+]?[0-9]+");
    static const std::regex hex("0x[0-9a-fA-F]+");
    static const std::regex octal("0o[0-7]+");
    static const std::regex floating("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    auto parse_int = [&](std::string_view digits, int base, bool negative) -> Json {
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
        if (ec != std::errc() || end != digits.data() + digits.size()) return s; // too large
        if (!negative) return v;
        if (v > uint64_t(INT64_MAX) + 1) return s;
        return v == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -int64_t(v);
    };
    if (std::regex_match(s, integer)) {
        std::string_view d = s;
        bool negative = d.front() == '-';
        if (d.front() == '-' || d.front() == '+') d.remove_prefix(1);
        return parse_int(d, 10, negative);
    }
    if (std::regex_match(s, hex)) return parse_int(std::string_view(s).substr(2), 16, false);
    if (std::regex_match(s, octal)) return parse_int(std::string_view(s).substr(2), 8, false);
    if (std::regex_match(s, floating)) return std::stod(s);
    if (s == ".inf" || s == "+.inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
    if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
    return s;
}

Result<Json> convert(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return Json();
    case YAML::NodeType::Scalar:
        // "!" is the tag of a quoted (non-plain) scalar, which is always a string.
        if (n.Tag() == "!") return Json(n.Scalar());
        if (n.Tag() == "?" || n.Tag().empty()) return plain_scalar(n.Scalar());
        if (n.Tag() == "tag:yaml.org,2002:str") return Json(n.Scalar());
        return plain_scalar(n.Scalar());
    case YAML::NodeType::Sequence: {
        Json a = Json::array();
        for (const YAML::Node& item : n) {
            auto v = convert(item);
            if (!v) return v;
            a.push_back(std::move(*v));
        }
        return a;
    }
    case YAML::NodeType::Map: {
        Json o = Json::object();
        for (const auto& kv : n) {
            if (!kv.first.IsScalar())
                return make_error(ErrorKind::invalid,
                                  fmt::format("line {}, column {}: a key must be a scalar",
                                              kv.first.Mark().line + 1,
                                              kv.first.Mark().column + 1));
            const std::string key = kv.first.Scalar();
            if (o.contains(key))
                return make_error(ErrorKind::invalid,
                                  fmt::format("line {}, column {}: key \"{}\" given twice",
                                              kv.first.Mark().line + 1, kv.first.Mark().column + 1,
                                              key));
            auto v = convert(kv.second);
            if (!v) return v;
            o[key] = std::move(*v);
        }
        return o;
    }
    }
    return Json();
}

} // namespace

Result<Json> parse_yaml_text(std::string_view text) {
    try {
        YAML::Node root = YAML::Load(std::string(text));
        return convert(root);
    } catch (const YAML::Exception& e) {
        return make_error(ErrorKind::invalid, fmt::format("line {}, column {}: {}", e.mark.line + 1,
                                                          e.mark.column + 1, e.msg));
    }
}

} // namespace kiln::manager
