// JSON for the actors layer: nlohmann's ordered_json (so objects keep the order their writer
// gave), parsed without exceptions and with a bound on nesting, as guest output is untrusted.
#pragma once

#include <kiln/actors.hpp>
#include <kiln/error.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace kiln::actors {

using Json = nlohmann::ordered_json;

/// How deep arrays and objects may nest in JSON from a plugin or a file: nlohmann's parser
/// recurses, so unbounded nesting would exhaust the host's stack.
inline constexpr size_t max_json_depth = 256;

/// Parses JSON text; `what` names it in the error ("graph", "ActorResult", ...).
Result<Json> parse_json(std::string_view text, std::string_view what);

/// Compact JSON text; invalid UTF-8 in strings becomes U+FFFD rather than an exception.
std::string dump_json(const Json& value);

/// "object", "array", "string", "number", "boolean" or "null", for messages.
const char* json_type_name(const Json& value);

/// The message of a tagged {"type", "data"} value (Message::from_tagged, parsed already).
Result<Message> message_from_tagged(const Json& value);

/// The message a plain JSON value converts to (Message::from_plain, parsed already).
Message message_from_plain(const Json& value);

} // namespace kiln::actors

namespace kiln {

/// Makes messages of JSON-carrying kinds from a value already parsed.
struct MessageBuilder {
    static Message json(MessageKind kind, const actors::Json& value) {
        Message m;
        m.m_kind = kind;
        m.m_value = actors::dump_json(value);
        return m;
    }
};

} // namespace kiln
