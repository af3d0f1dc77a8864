// WebAssembly spec test scripts (.wast): modules in text, binary or quoted form, actions and
// assertions, parsed for a runner (`kiln wast`) to carry out.
#pragma once

#include "text/lexer.hpp"

#include <array>
#include <kiln/text.hpp>
#include <kiln/types.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::text {

/// An argument or an expected result.
struct ScriptValue {
    enum class Kind : uint8_t {
        bits,           ///< a number (its bits) or an externref (its number)
        null,           ///< ref.null
        nan_canonical,  ///< expected: a canonical NaN of either sign
        nan_arithmetic, ///< expected: any quiet NaN
        non_null,       ///< expected: `(ref.func)` or `(ref.extern)`, any non-null reference
    };
    Kind kind = Kind::bits;
    ValType type = ValType::i32;
    uint64_t bits = 0;
    /// A v128 (kind bits): its lanes' width in bytes (1, 2, 4 or 8), its 16 bytes (lane 0
    /// first), and for an expected result which float lanes are NaN patterns (Kind per lane).
    uint8_t lane_width = 0;
    std::array<uint8_t, 16> bytes{};
    std::array<Kind, 4> lanes{};
};

/// A module as a script gives it.
struct ScriptModule {
    enum class Form : uint8_t {
        text,   ///< `(module field*)`: tokens [begin, end) of the script
        binary, ///< `(module binary "...")`: `data` holds the bytes
        quote,  ///< `(module quote "...")`: `data` holds the text, parsed when it is used
    };
    Form form = Form::text;
    std::string name;  ///< its $id, or empty
    std::string label; ///< where it stands, for messages ("FILE:LINE")
    size_t begin = 0, end = 0;
    std::string data;
};

struct ScriptAction {
    enum class Kind : uint8_t { invoke, get } kind = Kind::invoke;
    std::string module; ///< $id of the module acted on, or empty for the latest
    std::string field;
    std::vector<ScriptValue> args;
};

struct ScriptCommand {
    enum class Kind : uint8_t {
        module,
        register_,
        action,
        assert_return,
        assert_trap,
        assert_exhaustion,
        assert_malformed,
        assert_invalid,
        assert_unlinkable,
        assert_uninstantiable,
    };
    Kind kind = Kind::module;
    uint32_t line = 0;
    std::optional<ScriptModule> module;
    std::optional<ScriptAction> action;
    std::vector<ScriptValue> expected; ///< assert_return
    std::string text;                  ///< an assertion's message; register: the name
    std::string name;                  ///< register: the module's $id, or empty for the latest
};

/// A parsed script: its commands, and what it takes to encode their modules.
class Script {
public:
    /// Parses a .wast script. A module in text form is only cut out here; encode() parses it,
    /// so that a malformed module is its command's failure, not the script's.
    static Result<Script> parse(std::string source, std::string file_name);
    /// A script whose commands were read elsewhere (wast2json's JSON): modules binary or quoted.
    explicit Script(std::vector<ScriptCommand> commands) : m_commands(std::move(commands)) {}

    const std::vector<ScriptCommand>& commands() const { return m_commands; }
    /// The binary of one of the script's modules.
    Result<std::vector<uint8_t>> encode(const ScriptModule& module) const;

private:
    Script() = default;
    // The tokens point into the source: both live on the heap so a Script moves freely.
    std::unique_ptr<const std::string> m_source;
    std::unique_ptr<const TokenList> m_tokens;
    std::vector<ScriptCommand> m_commands;
};

} // namespace kiln::text
