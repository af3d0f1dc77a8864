#include "json_output.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace kiln::tool {

Json error_json(const Error& error) {
    Json j = {{"kind", error_kind_name(error.kind)}, {"message", error.message}};
    if (error.trap) {
        j["trap"] = trap_kind_name(error.trap->kind);
        // The frames as kiln prints them, a long recursion folded into one line.
        Json frames = Json::array();
        std::string text = format_backtrace(error.trap->frames, "");
        for (size_t at = 0; at < text.size();) {
            size_t end = text.find('\n', at);
            frames.push_back(text.substr(at, end - at));
            at = end == std::string::npos ? text.size() : end + 1;
        }
        j["backtrace"] = std::move(frames);
    }
    return j;
}

void set_bytes_field(Json& object, const std::string& name, std::string_view bytes) {
    Json text = std::string(bytes);
    try {
        (void)text.dump(); // throws on bytes that are not UTF-8
        object[name] = std::move(text);
    } catch (const Json::type_error&) {
        std::string hex;
        for (unsigned char c : bytes)
            hex += fmt::format("{:02x}", c);
        object[name + "_hex"] = std::move(hex);
    }
}

void print_json(const Json& document) {
    std::puts(document.dump(2).c_str());
}

} // namespace kiln::tool
