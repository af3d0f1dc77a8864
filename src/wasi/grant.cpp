// Directory grants as text, one syntax for `kiln run --dir`, `kiln call --allow-path` and the keys
// of a manifest's allowed_paths.
#include <kiln/wasi.hpp>

#include <fmt/format.h>

namespace kiln {

namespace {

Result<WasiPreopen> bad_grant(std::string_view text, std::string_view why) {
    return make_error(ErrorKind::usage,
                      fmt::format("\"{}\" is not a directory grant ({}): expected HOST, "
                                  "HOST:GUEST or HOST::GUEST, after ro: for read-only",
                                  text, why));
}

} // namespace

Result<WasiPreopen> parse_preopen(std::string_view text) {
    WasiPreopen grant;
    std::string_view rest = text;
    // "ro::x" keeps the meaning `::` gives it everywhere: host "ro", guest "x".
    if (rest.starts_with("ro:") && !rest.starts_with("ro::")) {
        grant.read_only = true;
        rest.remove_prefix(3);
    }
    std::string_view host = rest, guest = rest;
    if (size_t sep = rest.find("::"); sep != std::string_view::npos) {
        host = rest.substr(0, sep);
        guest = rest.substr(sep + 2);
    } else if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
        host = rest.substr(0, colon);
        guest = rest.substr(colon + 1);
    }
    if (host.empty()) return bad_grant(text, "no host directory");
    if (guest.empty()) return bad_grant(text, "no guest path");
    // A third part would leave it to guessing which colon separates.
    if (host.find(':') != std::string_view::npos || guest.find(':') != std::string_view::npos)
        return bad_grant(text, "more than one separator");
    grant.host = std::string(host);
    grant.guest = std::string(guest);
    return grant;
}

} // namespace kiln
