#include <kiln/text.hpp>

#include "text/module_parser.hpp"

namespace kiln {

Result<std::vector<uint8_t>> wat_to_wasm(std::string_view source, std::string_view file_name,
                                         const WatOptions& options) {
    KILN_TRY(tokens, text::TokenList::tokenize(source, std::string(file_name)));
    return text::encode_text(tokens, options);
}

bool looks_like_wat(std::span<const uint8_t> bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
        uint8_t c = bytes[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        return c == '(' || (c == ';' && i + 1 < bytes.size() && bytes[i + 1] == ';');
    }
    return false;
}

} // namespace kiln
