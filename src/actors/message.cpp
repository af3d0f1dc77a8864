// Messages and their two JSON forms: tagged {"type","data"} at the plugin boundary, and plain
// values converted by their JSON type (what __send_output and initial packets carry).
#include "actors/json.hpp"

#include <kiln/actors.hpp>

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <limits>

namespace kiln {

namespace actors {

Result<Json> parse_json(std::string_view text, std::string_view what) {
    // The nesting bound is checked before parsing, outside strings.
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_json_depth)
                return make_error(
                    ErrorKind::malformed,
                    fmt::format("{}: JSON nested deeper than {} levels", what, max_json_depth));
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    Json value = Json::parse(text, nullptr, false);
    if (value.is_discarded()) {
        // A second, throwing parse would be the only way to learn where; a short excerpt of
        // the text says enough to find it.
        std::string shown(text.substr(0, 60));
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20) c = ' ';
        return make_error(ErrorKind::malformed, fmt::format("{}: not valid JSON: {}{}", what, shown,
                                                            text.size() > 60 ? "..." : ""));
    }
    return value;
}

std::string dump_json(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const char* json_type_name(const Json& value) {
    if (value.is_object()) return "object";
    if (value.is_array()) return "array";
    if (value.is_string()) return "string";
    if (value.is_number()) return "number";
    if (value.is_boolean()) return "boolean";
    return "null";
}

} // namespace actors

namespace {

using actors::Json;

constexpr std::array<const char*, 12> kind_names = {
    "Flow",   "Event", "Boolean", "Integer",  "Float", "String",
    "Object", "Array", "Stream",  "Optional", "Any",   "Error",
};

bool carries_json(MessageKind kind) {
    return kind == MessageKind::event || kind == MessageKind::object ||
           kind == MessageKind::array || kind == MessageKind::optional || kind == MessageKind::any;
}

} // namespace

Message actors::message_from_plain(const Json& v) {
    switch (v.type()) {
    case Json::value_t::null: return Message::none();
    case Json::value_t::boolean: return Message::boolean(v.get<bool>());
    case Json::value_t::number_integer: return Message::integer(v.get<int64_t>());
    case Json::value_t::number_unsigned: {
        uint64_t u = v.get<uint64_t>();
        if (u <= uint64_t(std::numeric_limits<int64_t>::max())) return Message::integer(int64_t(u));
        return Message::floating(double(u));
    }
    case Json::value_t::number_float: return Message::floating(v.get<double>());
    case Json::value_t::string: return Message::string(v.get<std::string>());
    case Json::value_t::array: return MessageBuilder::json(MessageKind::array, v);
    default: return MessageBuilder::json(MessageKind::object, v);
    }
}

namespace {

Error wrong_data(MessageKind kind, const Json& data, const char* expected) {
    return Error{ErrorKind::malformed,
                 fmt::format("{} message: data: expected {}, got {}", message_kind_name(kind),
                             expected, actors::json_type_name(data)),
                 nullptr};
}

} // namespace

const char* message_kind_name(MessageKind kind) {
    auto i = size_t(kind);
    return i < kind_names.size() ? kind_names[i] : "?";
}

std::optional<MessageKind> message_kind_of(std::string_view name) {
    for (size_t i = 0; i < kind_names.size(); ++i)
        if (name == kind_names[i]) return MessageKind(i);
    return std::nullopt;
}

Message Message::boolean(bool value) {
    Message m;
    m.m_kind = MessageKind::boolean;
    m.m_value = value;
    return m;
}

Message Message::integer(int64_t value) {
    Message m;
    m.m_kind = MessageKind::integer;
    m.m_value = value;
    return m;
}

Message Message::floating(double value) {
    Message m;
    m.m_kind = MessageKind::floating;
    m.m_value = value;
    return m;
}

Message Message::string(std::string text) {
    Message m;
    m.m_kind = MessageKind::string;
    m.m_value = std::move(text);
    return m;
}

Message Message::error(std::string text) {
    Message m;
    m.m_kind = MessageKind::error;
    m.m_value = std::move(text);
    return m;
}

Message Message::stream(std::vector<uint8_t> bytes) {
    Message m;
    m.m_kind = MessageKind::stream;
    m.m_value = std::move(bytes);
    return m;
}

Message Message::none() {
    Message m;
    m.m_kind = MessageKind::optional;
    m.m_value = std::string("null");
    return m;
}

Result<Message> Message::json(MessageKind kind, std::string_view json) {
    if (!carries_json(kind))
        return make_error(ErrorKind::usage,
                          fmt::format("a {} message carries no JSON", message_kind_name(kind)));
    auto value = actors::parse_json(json, fmt::format("{} message", message_kind_name(kind)));
    if (!value) return tl::unexpected(value.error());
    if (kind == MessageKind::array && !value->is_array())
        return make_error(ErrorKind::usage,
                          fmt::format("an Array message needs a JSON array, got {}",
                                      actors::json_type_name(*value)));
    return MessageBuilder::json(kind, *value);
}

Result<Message> Message::from_plain(std::string_view json) {
    auto value = actors::parse_json(json, "message");
    if (!value) return tl::unexpected(value.error());
    return actors::message_from_plain(*value);
}

Result<Message> Message::from_tagged(std::string_view json) {
    auto value = actors::parse_json(json, "message");
    if (!value) return tl::unexpected(value.error());
    return actors::message_from_tagged(*value);
}

Result<Message> actors::message_from_tagged(const Json& v) {
    if (!v.is_object())
        return make_error(ErrorKind::malformed,
                          fmt::format("message: expected an object {{\"type\", \"data\"}}, got {}",
                                      actors::json_type_name(v)));
    auto type = v.find("type");
    if (type == v.end() || !type->is_string())
        return make_error(ErrorKind::malformed, "message: type: expected a string");
    auto kind = message_kind_of(type->get_ref<const std::string&>());
    if (!kind)
        return make_error(ErrorKind::malformed,
                          fmt::format("message: unknown type \"{}\"", type->get<std::string>()));
    auto found = v.find("data");
    static const Json null_value;
    const Json& data = found == v.end() ? null_value : *found;
    if (found == v.end() && *kind != MessageKind::flow && *kind != MessageKind::optional &&
        !carries_json(*kind))
        return make_error(ErrorKind::malformed,
                          fmt::format("{} message: data: missing", message_kind_name(*kind)));
    switch (*kind) {
    case MessageKind::flow: return Message::flow();
    case MessageKind::boolean:
        if (!data.is_boolean()) return tl::unexpected(wrong_data(*kind, data, "a boolean"));
        return Message::boolean(data.get<bool>());
    case MessageKind::integer:
        if (data.is_number_integer()) {
            if (data.is_number_unsigned() &&
                data.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
                return tl::unexpected(wrong_data(*kind, data, "an integer that fits in i64"));
            return Message::integer(data.get<int64_t>());
        }
        // 42.0 is the integer 42, as a writer of JSON may well put it; 42.5 is not.
        if (data.is_number_float()) {
            double d = data.get<double>();
            if (std::trunc(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
                return Message::integer(int64_t(d));
        }
        return tl::unexpected(wrong_data(*kind, data, "an integer"));
    case MessageKind::floating:
        if (!data.is_number()) return tl::unexpected(wrong_data(*kind, data, "a number"));
        return Message::floating(data.get<double>());
    case MessageKind::string:
    case MessageKind::error:
        if (!data.is_string()) return tl::unexpected(wrong_data(*kind, data, "a string"));
        return *kind == MessageKind::string ? Message::string(data.get<std::string>())
                                            : Message::error(data.get<std::string>());
    case MessageKind::stream: {
        if (!data.is_array()) return tl::unexpected(wrong_data(*kind, data, "an array of bytes"));
        std::vector<uint8_t> bytes;
        bytes.reserve(data.size());
        for (const Json& b : data) {
            if (!b.is_number_unsigned() || b.get<uint64_t>() > 255)
                return make_error(ErrorKind::malformed,
                                  "Stream message: data: expected numbers from 0 to 255");
            bytes.push_back(uint8_t(b.get<uint64_t>()));
        }
        return Message::stream(std::move(bytes));
    }
    case MessageKind::array:
        if (!data.is_array()) return tl::unexpected(wrong_data(*kind, data, "an array"));
        break;
    default: break;
    }
    return MessageBuilder::json(*kind, data);
}

bool Message::as_bool() const {
    auto* b = std::get_if<bool>(&m_value);
    return b && *b;
}

int64_t Message::as_integer() const {
    auto* i = std::get_if<int64_t>(&m_value);
    return i ? *i : 0;
}

double Message::as_float() const {
    if (auto* d = std::get_if<double>(&m_value)) return *d;
    if (auto* i = std::get_if<int64_t>(&m_value)) return double(*i);
    return 0;
}

const std::string& Message::text() const {
    static const std::string empty;
    auto* s = std::get_if<std::string>(&m_value);
    return s ? *s : empty;
}

const std::vector<uint8_t>& Message::bytes() const {
    static const std::vector<uint8_t> empty;
    auto* b = std::get_if<std::vector<uint8_t>>(&m_value);
    return b ? *b : empty;
}

bool Message::is_none() const {
    return m_kind == MessageKind::optional && text() == "null";
}

std::string Message::to_plain() const {
    switch (m_kind) {
    case MessageKind::flow: return "null";
    case MessageKind::boolean: return as_bool() ? "true" : "false";
    case MessageKind::integer: return std::to_string(as_integer());
    case MessageKind::floating: return actors::dump_json(Json(as_float()));
    case MessageKind::string:
    case MessageKind::error: return actors::dump_json(Json(text()));
    case MessageKind::stream: {
        std::string out = "[";
        for (uint8_t b : bytes()) {
            if (out.size() > 1) out += ',';
            out += std::to_string(b);
        }
        return out + "]";
    }
    default: return text();
    }
}

std::string Message::to_tagged() const {
    return fmt::format("{{\"type\":\"{}\",\"data\":{}}}", message_kind_name(m_kind), to_plain());
}

} // namespace kiln
