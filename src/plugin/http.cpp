#include "plugin/http.hpp"

#include "base/result.hpp"
#include "base/text.hpp"

#include <curl/curl.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

namespace kiln::plugin {

namespace {

/// The libcurl functions used, resolved once from libcurl.so.4.
struct Curl {
    CURL* (*easy_init)();
    void (*easy_cleanup)(CURL*);
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    const char* (*easy_strerror)(CURLcode);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
    CURLU* (*url)();
    CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
    CURLUcode (*url_get)(CURLU*, CURLUPart, char**, unsigned int);
    void (*url_cleanup)(CURLU*);
    void (*free)(void*);
    CURLcode (*global_init)(long);
    CURLM* (*multi_init)();
    CURLMcode (*multi_add_handle)(CURLM*, CURL*);
    CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
    CURLMcode (*multi_perform)(CURLM*, int*);
    CURLMcode (*multi_poll)(CURLM*, curl_waitfd[], unsigned int, int, int*);
    CURLMsg* (*multi_info_read)(CURLM*, int*);
    CURLMcode (*multi_cleanup)(CURLM*);
};

const Curl* curl() {
    static std::once_flag once;
    static Curl c;
    static bool ok = false;
    std::call_once(once, [] {
        void* h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h) return;
        bool all = true;
        auto get = [&](auto& fn, const char* name) {
            fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
            all = all && fn;
        };
        get(c.easy_init, "curl_easy_init");
        get(c.easy_cleanup, "curl_easy_cleanup");
        get(c.easy_setopt, "curl_easy_setopt");
        get(c.easy_perform, "curl_easy_perform");
        get(c.easy_getinfo, "curl_easy_getinfo");
        get(c.easy_strerror, "curl_easy_strerror");
        get(c.slist_append, "curl_slist_append");
        get(c.slist_free_all, "curl_slist_free_all");
        get(c.url, "curl_url");
        get(c.url_set, "curl_url_set");
        get(c.url_get, "curl_url_get");
        get(c.url_cleanup, "curl_url_cleanup");
        get(c.free, "curl_free");
        get(c.global_init, "curl_global_init");
        get(c.multi_init, "curl_multi_init");
        get(c.multi_add_handle, "curl_multi_add_handle");
        get(c.multi_remove_handle, "curl_multi_remove_handle");
        get(c.multi_perform, "curl_multi_perform");
        get(c.multi_poll, "curl_multi_poll");
        get(c.multi_info_read, "curl_multi_info_read");
        get(c.multi_cleanup, "curl_multi_cleanup");
        if (all) ok = c.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    });
    return ok ? &c : nullptr;
}

struct Transfer {
    HttpResponse* response;
    uint64_t max_body;
    bool too_large = false;
    const HttpLimits* limits;
    bool stopped = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * n;
    if (len > t->max_body - std::min<uint64_t>(t->max_body, t->response->body.size())) {
        t->too_large = true;
        return 0; // aborts the transfer
    }
    t->response->body.append(data, len);
    return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) t->response->headers.clear(); // a new response begins
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
        auto trim = [](std::string_view s) {
            while (!s.empty() && std::isspace(uint8_t(s.front())))
                s.remove_prefix(1);
            while (!s.empty() && std::isspace(uint8_t(s.back())))
                s.remove_suffix(1);
            return std::string(s);
        };
        std::string name = trim(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        t->response->headers.emplace_back(name, trim(line.substr(colon + 1)));
    }
    return size * n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->limits->should_stop && t->limits->should_stop()) {
        t->stopped = true;
        return 1;
    }
    return 0;
}

/// Runs the transfer, looking for cancellation every 20 ms (curl's progress callback alone may
/// be a second apart while a server sends nothing).
CURLcode perform(const Curl& c, CURL* h, Transfer& t) {
    CURLM* m = c.multi_init();
    if (!m) return c.easy_perform(h);
    c.multi_add_handle(m, h);
    CURLcode result = CURLE_OK;
    int running = 1;
    while (running) {
        if (c.multi_perform(m, &running) != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            break;
        }
        if (!running) break;
        if (t.limits->should_stop && t.limits->should_stop()) {
            t.stopped = true;
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        c.multi_poll(m, nullptr, 0, 20, nullptr);
    }
    int left = 0;
    while (CURLMsg* msg = c.multi_info_read(m, &left))
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) result = msg->data.result;
    c.multi_remove_handle(m, h);
    c.multi_cleanup(m);
    return result;
}

/// Where a URL leads: its scheme, host and port (the default one when it names none).
struct Origin {
    std::string scheme, host, port;
    bool operator==(const Origin&) const = default;
};

/// The origin of an absolute http(s) URL, or an error.
Result<Origin> url_origin(const Curl& c, const std::string& url) {
    CURLU* u = c.url();
    if (!u) return make_error(ErrorKind::limit, "out of memory");
    Origin o;
    bool ok = c.url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK;
    auto get = [&](CURLUPart which, unsigned flags, std::string& out) {
        char* part = nullptr;
        if (ok && c.url_get(u, which, &part, flags) == CURLUE_OK) {
            out = part;
            c.free(part);
        }
    };
    get(CURLUPART_SCHEME, 0, o.scheme);
    get(CURLUPART_HOST, 0, o.host);
    get(CURLUPART_PORT, CURLU_DEFAULT_PORT, o.port);
    c.url_cleanup(u);
    if (!ok || o.host.empty())
        return make_error(ErrorKind::usage, fmt::format("bad URL {}", escape_control(url)));
    if (o.scheme != "http" && o.scheme != "https")
        return make_error(ErrorKind::usage,
                          fmt::format("URL scheme {} is not allowed (http and https are)",
                                      escape_control(o.scheme)));
    return o;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(uint8_t(x)) == std::tolower(uint8_t(y));
           });
}

/// Refuses what would let a plugin write more than one request, or steer it past its URL:
/// a method (empty means GET) or header name that is no token, a header value that holds CR, LF or
/// NUL, and the headers the host derives from the URL and the body.
Result<void> check_request(const HttpRequest& r) {
    auto refuse = [](std::string what) {
        return make_error(ErrorKind::usage, "HTTP request refused: " + escape_control(what));
    };
    if (!r.method.empty() && !is_http_token(r.method))
        return refuse(fmt::format("method \"{}\" is not an HTTP token (letters, digits and "
                                  "!#$%&'*+-.^_`|~)",
                                  r.method));
    for (const auto& [name, value] : r.headers) {
        if (!is_http_token(name))
            return refuse(fmt::format("header name \"{}\" is not an HTTP token", name));
        if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
            return refuse(fmt::format("header {}: its value holds a CR, LF or NUL", name));
        for (const char* owned : {"Host", "Content-Length", "Transfer-Encoding"})
            if (iequals(name, owned))
                return refuse(fmt::format("header {}: set by the host from the URL and the body, "
                                          "not by a plugin",
                                          owned));
    }
    return {};
}

/// Headers that carry credentials: sent only to the origin the plugin named.
bool is_credential(std::string_view name) {
    return iequals(name, "Authorization") || iequals(name, "Cookie") ||
           iequals(name, "Proxy-Authorization");
}

} // namespace

bool is_http_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(uint8_t(c)) || (c && std::strchr("!#$%&'*+-.^_`|~", c));
    });
}

bool host_allowed(const std::string& host, const std::vector<std::string>& globs) {
    for (const std::string& g : globs)
        if (glob_match(g, host, true)) return true;
    return false;
}

Result<HttpResponse> http_request(const HttpRequest& request, const HttpLimits& limits) {
    const Curl* c = curl();
    if (!c) return make_error(ErrorKind::io, "HTTP is unavailable: libcurl.so.4 cannot be loaded");
    KILN_CHECK(check_request(request));
    std::string url = request.url;
    std::string method = request.method.empty() ? "GET" : request.method;
    std::string body = request.body;
    static const std::vector<std::string> none;
    const std::vector<std::string>& allowed = limits.allowed_hosts ? *limits.allowed_hosts : none;
    std::optional<Origin> first;
    for (int hop = 0; hop <= 10; ++hop) {
        KILN_TRY(origin, url_origin(*c, url));
        if (!host_allowed(origin.host, allowed))
            return make_error(ErrorKind::usage,
                              fmt::format("HTTP request to {} denied: host {} is not in "
                                          "allowed_hosts",
                                          escape_control(url), escape_control(origin.host)));
        if (!first) first = origin;
        HttpResponse response;
        Transfer t{&response, limits.max_body, false, &limits};
        CURL* h = c->easy_init();
        if (!h) return make_error(ErrorKind::limit, "out of memory");
        curl_slist* headers = nullptr;
        for (const auto& [k, v] : request.headers) {
            // A redirect to another origin must not carry the plugin's credentials there.
            if (is_credential(k) && origin != *first) continue;
            headers = c->slist_append(headers, fmt::format("{}: {}", k, v).c_str());
        }
        c->easy_setopt(h, CURLOPT_URL, url.c_str());
        c->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        c->easy_setopt(h, CURLOPT_PROXY, ""); // never through a proxy from the environment
        c->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        c->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        c->easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
        // A method that may carry a body says how long it is even when empty (Content-Length:
        // 0): servers otherwise wait for one, or refuse the request.
        if (!body.empty() || (method != "GET" && method != "HEAD")) {
            c->easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
            c->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
        } else if (method == "HEAD") {
            c->easy_setopt(h, CURLOPT_NOBODY, 1L);
        }
        if (headers) c->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        c->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        c->easy_setopt(h, CURLOPT_WRITEDATA, &t);
        c->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        c->easy_setopt(h, CURLOPT_HEADERDATA, &t);
        c->easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        c->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        c->easy_setopt(h, CURLOPT_XFERINFODATA, &t);
        if (limits.deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                *limits.deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                c->slist_free_all(headers);
                c->easy_cleanup(h);
                return make_error(ErrorKind::limit, "HTTP request: the call's time is up");
            }
            c->easy_setopt(h, CURLOPT_TIMEOUT_MS, long(left.count()));
        }
        CURLcode rc = perform(*c, h, t);
        long status = 0;
        char* location = nullptr;
        c->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        c->easy_getinfo(h, CURLINFO_REDIRECT_URL, &location);
        std::string next = location ? location : "";
        c->slist_free_all(headers);
        c->easy_cleanup(h);
        if (t.too_large)
            return make_error(ErrorKind::limit,
                              fmt::format("HTTP response body exceeds max_http_response_bytes "
                                          "({} bytes)",
                                          limits.max_body));
        if (t.stopped) return make_error(ErrorKind::limit, "HTTP request cancelled");
        if (rc == CURLE_OPERATION_TIMEDOUT)
            return make_error(ErrorKind::limit, "HTTP request timed out (the call's time is up)");
        if (rc != CURLE_OK)
            return make_error(ErrorKind::io,
                              fmt::format("HTTP request to {} failed: {}", escape_control(url),
                                          c->easy_strerror(rc)));
        response.status = int(status);
        bool redirect =
            status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
        if (!redirect || next.empty()) return response;
        // Each hop is checked again before connecting; a 303 (and a POST answered with 301 or
        // 302) continues as GET without the body, as browsers and curl do.
        if (status == 303 || ((status == 301 || status == 302) && method == "POST")) {
            method = "GET";
            body.clear();
        }
        url = next;
    }
    return make_error(ErrorKind::io, fmt::format("HTTP request to {}: too many redirects",
                                                 escape_control(request.url)));
}

} // namespace kiln::plugin
