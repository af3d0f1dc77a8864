// Text-format modules to the binary format.
#pragma once

#include "text/lexer.hpp"

#include <kiln/text.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace kiln::text {

/// Encodes the module whose fields are tokens [begin, end) of `tokens` (end is the index of the
/// rparen closing the module, or of eof); `name` is its $id, or empty.
Result<std::vector<uint8_t>> encode_module(const TokenList& tokens, size_t begin, size_t end,
                                           std::string_view name, const WatOptions& options);

/// Encodes a whole text: one `(module $id? field*)`, or the fields alone.
Result<std::vector<uint8_t>> encode_text(const TokenList& tokens, const WatOptions& options);

} // namespace kiln::text
