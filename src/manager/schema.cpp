// config_schema: a small JSON Schema subset, enough for plugin settings forms, and checkable
// without a schema library.
#include "manager/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace kiln::manager {

namespace {

using plugin::Json;

const char* const type_names[] = {"string", "integer", "number", "boolean",
                                  "array",  "object",  "null"};

bool has_type(const Json& v, const std::string& type) {
    if (type == "string") return v.is_string();
    if (type == "integer")
        return v.is_number_integer() ||
               (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "array") return v.is_array();
    if (type == "object") return v.is_object();
    if (type == "null") return v.is_null();
    return false;
}

std::string kind_of(const Json& v) {
    if (v.is_string()) return "a string";
    if (v.is_number_integer()) return "an integer";
    if (v.is_number()) return "a number";
    if (v.is_boolean()) return "a boolean";
    if (v.is_array()) return "an array";
    if (v.is_object()) return "an object";
    return "null";
}

Result<void> bad(const std::string& path, const std::string& what) {
    return make_error(ErrorKind::invalid, fmt::format("{}: {}", path, what));
}

} // namespace

Result<void> check_schema(const Json& schema, const std::string& path) {
    if (!schema.is_object()) return bad(path, "expected a schema object");
    for (const auto& [key, v] : schema.items()) {
        const std::string at = path + "." + key;
        if (key == "type") {
            std::vector<Json> types = v.is_array() ? v.get<std::vector<Json>>() : std::vector{v};
            for (const Json& t : types)
                if (!t.is_string() || std::find(std::begin(type_names), std::end(type_names),
                                                t.get<std::string>()) == std::end(type_names))
                    return bad(at, "expected one of string, integer, number, boolean, array, "
                                   "object, null");
        } else if (key == "properties") {
            if (!v.is_object()) return bad(at, "expected an object of schemas");
            for (const auto& [name, sub] : v.items())
                if (auto ok = check_schema(sub, at + "." + name); !ok) return ok;
        } else if (key == "items") {
            if (auto ok = check_schema(v, at); !ok) return ok;
        } else if (key == "required") {
            if (!v.is_array() ||
                !std::all_of(v.begin(), v.end(), [](const Json& s) { return s.is_string(); }))
                return bad(at, "expected an array of property names");
        } else if (key == "enum") {
            if (!v.is_array() || v.empty()) return bad(at, "expected a non-empty array");
        } else if (key == "minimum" || key == "maximum") {
            if (!v.is_number()) return bad(at, "expected a number");
        } else if (key == "title" || key == "description") {
            if (!v.is_string()) return bad(at, "expected a string");
        } else if (key != "default") {
            return bad(at, "not in Kiln's config_schema subset (type, properties, required, "
                           "enum, default, minimum, maximum, items, title, description)");
        }
    }
    if (schema.contains("default"))
        if (auto ok = validate(schema, schema["default"], path + ".default"); !ok) return ok;
    return {};
}

Result<void> validate(const Json& schema, const Json& value, const std::string& path) {
    if (schema.contains("type")) {
        const Json& t = schema["type"];
        std::vector<Json> types = t.is_array() ? t.get<std::vector<Json>>() : std::vector{t};
        bool ok = std::any_of(types.begin(), types.end(), [&](const Json& type) {
            return has_type(value, type.get<std::string>());
        });
        if (!ok) {
            std::string names;
            for (const Json& type : types)
                names += (names.empty() ? "" : " or ") + type.get<std::string>();
            return bad(path, fmt::format("expected {}, got {}", names, kind_of(value)));
        }
    }
    if (schema.contains("enum")) {
        const Json& e = schema["enum"];
        if (std::find(e.begin(), e.end(), value) == e.end())
            return bad(path, fmt::format("expected one of {}", e.dump()));
    }
    if (value.is_number()) {
        const double d = value.get<double>();
        if (schema.contains("minimum") && d < schema["minimum"].get<double>())
            return bad(path, fmt::format("expected at least {}", schema["minimum"].dump()));
        if (schema.contains("maximum") && d > schema["maximum"].get<double>())
            return bad(path, fmt::format("expected at most {}", schema["maximum"].dump()));
    }
    if (value.is_array() && schema.contains("items"))
        for (size_t i = 0; i < value.size(); ++i)
            if (auto ok = validate(schema["items"], value[i], fmt::format("{}[{}]", path, i)); !ok)
                return ok;
    if (value.is_object()) {
        if (schema.contains("required"))
            for (const Json& name : schema["required"])
                if (!value.contains(name.get<std::string>()))
                    return bad(path + "." + name.get<std::string>(), "required");
        if (schema.contains("properties"))
            for (const auto& [name, sub] : schema["properties"].items())
                if (value.contains(name))
                    if (auto ok = validate(sub, value[name], path + "." + name); !ok) return ok;
    }
    return {};
}

Result<void> apply_config_schema(const Json& schema, std::map<std::string, std::string>& config) {
    const Json none = Json::object();
    const Json& props = schema.contains("properties") ? schema["properties"] : none;
    Json object = Json::object();
    for (const auto& [key, text] : config) {
        // A config value is a string; its property's type says how to read it.
        std::string type;
        if (props.contains(key) && props[key].contains("type") && props[key]["type"].is_string())
            type = props[key]["type"].get<std::string>();
        if (type.empty() || type == "string") {
            object[key] = text;
            continue;
        }
        Json v = Json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (v.is_discarded())
            return bad("config." + key, fmt::format("\"{}\" is not {} {}", text,
                                                    type == "integer" ? "an" : "a", type));
        object[key] = std::move(v);
    }
    for (const auto& [key, sub] : props.items())
        if (!object.contains(key) && sub.contains("default")) {
            object[key] = sub["default"];
            config[key] = sub["default"].is_string() ? sub["default"].get<std::string>()
                                                     : sub["default"].dump();
        }
    return validate(schema, object, "config");
}

} // namespace kiln::manager
