// The env and http families.
#include "hostfns/families.hpp"
#include "plugin/http.hpp"

#include <fmt/format.h>

namespace kiln::hostfns {

std::optional<std::string> env_get(HostContext& ctx, std::string_view name) {
    // A denial is the host's to know (the audit log); to the guest the variable is unset.
    if (name.empty() || !ctx.check(Permission::env, name)) return std::nullopt;
    return ctx.services().getenv(std::string(name));
}

Result<json> http_request(HostContext& ctx, const json& request) {
    if (!request.is_object())
        return bad_request("http_request", "the request is not a JSON object");
    auto url = request.find("url");
    if (url == request.end() || !url->is_string())
        return bad_request("http_request", "\"url\" is not a string");
    plugin::HttpRequest r;
    r.url = url->get<std::string>();
    for (const auto& [key, value] : request.items()) {
        if (key == "url") continue;
        if (key == "method") {
            if (!value.is_string())
                return bad_request("http_request", "\"method\" is not a string");
            r.method = value.get<std::string>();
        } else if (key == "headers") {
            if (value.is_null()) continue;
            if (!value.is_object())
                return bad_request("http_request", "\"headers\" is not an object");
            for (const auto& [name, v] : value.items()) {
                if (!v.is_string())
                    return bad_request("http_request",
                                       fmt::format("header {} is not a string", name));
                r.headers.emplace_back(name, v.get<std::string>());
            }
        } else if (key == "body") {
            // A string is sent as it is; any other JSON value as JSON, as ZenoEngine does.
            if (value.is_null()) continue;
            if (value.is_string()) {
                r.body = value.get<std::string>();
                continue;
            }
            r.body = value.dump(-1, ' ', false, json::error_handler_t::replace);
            const bool typed = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
                return h.first.size() == 12 &&
                       strncasecmp(h.first.c_str(), "content-type", 12) == 0;
            });
            if (!typed) r.headers.emplace_back("Content-Type", "application/json");
        } else {
            return bad_request("http_request", fmt::format("unknown field \"{}\"", key));
        }
    }
    if (auto ok = ctx.check(Permission::network, r.url); !ok) return tl::unexpected(ok.error());
    plugin::HttpLimits limits;
    limits.allowed_hosts = &ctx.limits().allowed_hosts;
    limits.max_body = ctx.limits().max_http_bytes;
    limits.should_stop = [&ctx] { return ctx.should_stop(); };
    auto response = plugin::http_request(r, limits);
    if (!response) return tl::unexpected(response.error());
    json headers = json::object();
    for (const auto& [name, value] : response->headers)
        if (!headers.contains(name)) headers[name] = value; // the first of each, as Zeno gives
    json body = json::parse(response->body, nullptr, false);
    if (body.is_discarded()) body = response->body;
    return json{{"status", response->status}, {"body", std::move(body)}, {"headers", headers}};
}

} // namespace kiln::hostfns
