#include "limit_flags.hpp"

#include "base/text.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>

namespace kiln::tool {

Result<uint64_t> parse_limit(std::string_view text, uint64_t min, uint64_t max) {
    uint64_t value = 0;
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    const std::errc ec = std::from_chars(text.data(), text.data() + text.size(), value).ec;
    if (!digits || ec != std::errc{} || value < min || value > max)
        return make_error(ErrorKind::usage,
                          fmt::format("expected a whole number from {} to {}, got \"{}\"", min, max,
                                      escape_control(text)));
    return value;
}

} // namespace kiln::tool
