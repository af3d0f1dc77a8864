// HTTP for plugins, through libcurl loaded on first use (linking it would cost every process
// start some milliseconds for a feature most calls never touch). Every hop's host is checked
// against the allowlist before any connection is made: redirects are followed here, not by
// curl, and proxies from the environment are ignored.
#pragma once

#include <kiln/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::plugin {

struct HttpRequest {
    std::string url;
    std::string method = "GET";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct HttpResponse {
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpLimits {
    const std::vector<std::string>* allowed_hosts = nullptr; ///< globs; empty denies all
    uint64_t max_body = 50u << 20;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::function<bool()> should_stop; ///< cancellation, polled during the transfer
};

/// Performs the request; an error says why (host not allowed, body too large, timeout, ...).
/// A non-2xx status is a response, not an error.
Result<HttpResponse> http_request(const HttpRequest& request, const HttpLimits& limits);

/// True when `text` is an HTTP token (RFC 9110), as methods and header names must be.
bool is_http_token(std::string_view text);

/// True when `host` matches one of the globs (`*` any run of characters, `?` one character;
/// case-insensitive).
bool host_allowed(const std::string& host, const std::vector<std::string>& globs);

} // namespace kiln::plugin
