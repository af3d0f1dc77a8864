#include "plugin/fetch.hpp"

#include "base/file.hpp"
#include "base/result.hpp"
#include "plugin/http.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>

namespace kiln::plugin {

namespace {

Result<std::vector<uint8_t>> download(const Manifest::WasmUrl& url) {
    HttpLimits limits;
    static const std::vector<std::string> any{"*"};
    limits.allowed_hosts = &any; // the embedder chose this URL, not the plugin
    limits.max_body = 1u << 30;
    HttpRequest request{url.url, url.method, {url.headers.begin(), url.headers.end()}, {}};
    auto r = http_request(request, limits);
    if (!r) return tl::unexpected(r.error());
    if (r->status < 200 || r->status > 299)
        return make_error(ErrorKind::io, fmt::format("{}: HTTP status {}", url.url, r->status));
    return std::vector<uint8_t>(r->body.begin(), r->body.end());
}

Result<void> check_hash(const Manifest::Wasm& wasm, const std::vector<uint8_t>& bytes) {
    if (sodium_init() < 0) return make_error(ErrorKind::io, "libsodium failed to start");
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, bytes.data(), bytes.size());
    std::string hex;
    for (unsigned char b : digest)
        hex += fmt::format("{:02x}", b);
    std::string want = wasm.hash;
    std::transform(want.begin(), want.end(), want.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (hex != want)
        return make_error(ErrorKind::invalid,
                          fmt::format("{}: hash mismatch: the manifest says {}, the module's "
                                      "sha256 is {}",
                                      describe_wasm(wasm), wasm.hash, hex));
    return {};
}

} // namespace

std::string describe_wasm(const Manifest::Wasm& wasm) {
    if (auto* f = std::get_if<Manifest::WasmFile>(&wasm.source)) return f->path;
    if (auto* u = std::get_if<Manifest::WasmUrl>(&wasm.source)) return u->url;
    return wasm.name.empty() ? std::string("inline wasm") : wasm.name;
}

Result<std::vector<uint8_t>> fetch_wasm(const Manifest::Wasm& wasm) {
    Result<std::vector<uint8_t>> bytes;
    if (auto* f = std::get_if<Manifest::WasmFile>(&wasm.source))
        bytes = read_file(f->path);
    else if (auto* u = std::get_if<Manifest::WasmUrl>(&wasm.source))
        bytes = download(*u);
    else
        bytes = std::get<Manifest::WasmBytes>(wasm.source).data;
    if (bytes && !wasm.hash.empty()) KILN_CHECK(check_hash(wasm, *bytes));
    return bytes;
}

} // namespace kiln::plugin
