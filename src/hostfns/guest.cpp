#include "hostfns/guest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace kiln::hostfns {

Result<std::string> read_guest(const Caller& caller, uint32_t ptr, uint32_t len,
                               std::string_view what) {
    auto s = caller.read_string(ptr, len);
    if (!s)
        return make_error(ErrorKind::limit,
                          fmt::format("{}: {} bytes at {} are outside the guest's memory ({} "
                                      "bytes)",
                                      what, len, ptr, caller.memory_size()));
    return std::move(*s);
}

Result<std::string> read_guest_string(const Caller& caller, uint32_t ptr, std::string_view what,
                                      uint64_t max_len) {
    const uint64_t size = caller.memory_size();
    if (ptr == 0) return make_error(ErrorKind::plugin, fmt::format("{}: a null pointer", what));
    if (ptr >= size)
        return make_error(ErrorKind::limit,
                          fmt::format("{}: pointer {} is outside the guest's memory ({} bytes)",
                                      what, ptr, size));
    // Read in chunks: a string is usually short, and memory is read only up to its NUL.
    std::string out;
    std::vector<uint8_t> chunk;
    for (uint64_t at = ptr; at < size;) {
        const uint64_t n = std::min<uint64_t>(
            {size - at, uint64_t(64) << 10, max_len + 1 - std::min(max_len, out.size())});
        chunk.resize(n);
        if (!caller.read(at, chunk)) break;
        auto nul = std::find(chunk.begin(), chunk.end(), 0);
        out.append(chunk.begin(), nul);
        if (out.size() > max_len)
            return make_error(
                ErrorKind::limit,
                fmt::format("{}: the string at {} is longer than {} bytes", what, ptr, max_len));
        if (nul != chunk.end()) return out;
        at += n;
    }
    return make_error(ErrorKind::plugin,
                      fmt::format("{}: the string at {} has no NUL before the end of the guest's "
                                  "memory ({} bytes)",
                                  what, ptr, size));
}

Result<uint32_t> write_guest(Caller& caller, std::string_view allocator, std::string_view bytes,
                             bool nul) {
    const uint64_t total = bytes.size() + (nul ? 1 : 0);
    if (total > INT32_MAX)
        return make_error(ErrorKind::limit, fmt::format("{} bytes are too many for the guest's {}",
                                                        total, allocator));
    auto ext = caller.get_export(std::string(allocator));
    auto func = ext ? ext->func() : std::nullopt;
    if (!func)
        return make_error(ErrorKind::unlinkable,
                          fmt::format("the guest exports no function \"{}\"", allocator));
    auto typed = func->typed<int32_t(int32_t)>(caller.store());
    if (!typed)
        return make_error(ErrorKind::unlinkable,
                          fmt::format("the guest's \"{}\": {}", allocator, typed.error().message));
    auto ptr = typed->call(caller.store(), int32_t(total));
    if (!ptr) {
        Error e = std::move(ptr.error());
        e.message = fmt::format("the guest's {}({}) failed: {}", allocator, total, e.message);
        return tl::unexpected(std::move(e));
    }
    const uint32_t p = uint32_t(*ptr);
    if (p == 0)
        return make_error(ErrorKind::limit,
                          fmt::format("the guest's {}({}) returned 0", allocator, total));
    if (uint64_t(p) + total > caller.memory_size())
        return make_error(ErrorKind::limit,
                          fmt::format("the guest's {}({}) returned {}, outside its memory ({} "
                                      "bytes)",
                                      allocator, total, p, caller.memory_size()));
    (void)caller.write(
        p, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (nul) (void)caller.store(uint64_t(p) + bytes.size(), uint8_t(0));
    return p;
}

} // namespace kiln::hostfns
