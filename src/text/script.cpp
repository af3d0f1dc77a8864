#include "text/script.hpp"

#include "text/module_parser.hpp"

#include <fmt/format.h>

namespace kiln::text {

namespace {

class ScriptParser {
public:
    explicit ScriptParser(const TokenList& tokens) : m_t(tokens) {}

    Result<std::vector<ScriptCommand>> run();

private:
    const Token& tok(size_t k = 0) const { return m_t[m_pos + k]; }
    std::string_view text(size_t k = 0) const { return m_t.text(tok(k)); }
    bool at_clause(std::string_view kw) const {
        return tok().kind == TokenKind::lparen && tok(1).kind == TokenKind::keyword &&
               text(1) == kw;
    }
    tl::unexpected<Error> fail(std::string_view message) const {
        return tl::unexpected(m_t.error_at(tok().offset, message));
    }
    tl::unexpected<Error> expected(std::string_view what) const {
        std::string found = tok().kind == TokenKind::lparen && tok(1).kind != TokenKind::eof
                                ? fmt::format("'({}'", text(1))
                                : m_t.describe(m_pos);
        return fail(fmt::format("expected {}, found {}", what, found));
    }
    Result<void> expect_rparen() {
        if (tok().kind != TokenKind::rparen) return expected("')'");
        ++m_pos;
        return {};
    }
    /// The line of the current token; commands come in order, so counting goes on from the
    /// last one instead of from the start.
    uint32_t line() {
        std::string_view source = m_t.source();
        for (; m_line_offset < tok().offset; ++m_line_offset)
            if (source[m_line_offset] == '\n') ++m_line;
        return m_line;
    }

    Result<ScriptModule> module();
    Result<ScriptAction> action();
    Result<ScriptValue> value(bool expected_result);
    Result<std::string> message();
    Result<std::string> strings();

    const TokenList& m_t;
    size_t m_pos = 0;
    uint32_t m_line = 1;
    uint32_t m_line_offset = 0;
};

Result<std::string> ScriptParser::strings() {
    std::string out;
    while (tok().kind == TokenKind::string) {
        append_string_value(text(), out);
        ++m_pos;
    }
    return out;
}

Result<std::string> ScriptParser::message() {
    if (tok().kind != TokenKind::string) return expected("the expected message (a string)");
    std::string s = string_value(text());
    ++m_pos;
    return s;
}

Result<ScriptModule> ScriptParser::module() {
    if (!at_clause("module")) return expected("(module ...)");
    ScriptModule m;
    m.label = fmt::format("{}:{}", m_t.file_name(), line());
    const size_t close = tok().close;
    m_pos += 2;
    if (tok().kind == TokenKind::id) {
        m.name = std::string(text());
        ++m_pos;
    }
    if (tok().kind == TokenKind::keyword && (text() == "binary" || text() == "quote")) {
        m.form = text() == "binary" ? ScriptModule::Form::binary : ScriptModule::Form::quote;
        ++m_pos;
        KILN_TRY(data, strings());
        m.data = std::move(data);
        KILN_CHECK(expect_rparen());
        return m;
    }
    m.form = ScriptModule::Form::text;
    m.begin = m_pos;
    m.end = close;
    m_pos = close + 1;
    return m;
}

Result<ScriptValue> ScriptParser::value(bool expected_result) {
    if (tok().kind != TokenKind::lparen || tok(1).kind != TokenKind::keyword)
        return expected("a value such as (i32.const 1)");
    std::string_view kw = text(1);
    m_pos += 2;
    ScriptValue v;
    if (kw == "i32.const" || kw == "i64.const") {
        v.type = kw == "i32.const" ? ValType::i32 : ValType::i64;
        auto bits = parse_integer(text(), v.type == ValType::i32 ? 32 : 64);
        if (tok().kind != TokenKind::number || !bits) return expected("an integer literal");
        v.bits = *bits;
    } else if (kw == "f32.const" || kw == "f64.const") {
        v.type = kw == "f32.const" ? ValType::f32 : ValType::f64;
        if (expected_result && (text() == "nan:canonical" || text() == "nan:arithmetic")) {
            v.kind = text() == "nan:canonical" ? ScriptValue::Kind::nan_canonical
                                               : ScriptValue::Kind::nan_arithmetic;
        } else {
            auto bits = v.type == ValType::f32
                            ? parse_f32(text()).map([](uint32_t b) { return uint64_t(b); })
                            : parse_f64(text());
            if ((tok().kind != TokenKind::number && tok().kind != TokenKind::keyword) || !bits)
                return expected("a float literal");
            v.bits = *bits;
        }
    } else if (kw == "v128.const") {
        // (v128.const SHAPE LANE...); in an expected result a float lane may be a NaN pattern.
        v.type = ValType::v128;
        auto shape = tok().kind == TokenKind::keyword ? v128_shape(text()) : std::nullopt;
        if (!shape) return expected("a v128 shape (i8x16, i16x8, i32x4, i64x2, f32x4 or f64x2)");
        v.lane_width = uint8_t(shape->width);
        ++m_pos;
        for (unsigned i = 0; i < shape->lanes(); ++i) {
            if (expected_result && shape->is_float &&
                (text() == "nan:canonical" || text() == "nan:arithmetic")) {
                v.lanes[i] = text() == "nan:canonical" ? ScriptValue::Kind::nan_canonical
                                                       : ScriptValue::Kind::nan_arithmetic;
                ++m_pos;
                continue;
            }
            auto bits = parse_lane(*shape, text());
            if ((tok().kind != TokenKind::number && tok().kind != TokenKind::keyword) || !bits)
                return expected(fmt::format("{} lane literals", shape->lanes()));
            for (unsigned b = 0; b < shape->width; ++b)
                v.bytes[i * shape->width + b] = uint8_t(*bits >> (8 * b));
            ++m_pos;
        }
        KILN_CHECK(expect_rparen());
        return v;
    } else if (kw == "ref.null") {
        v.kind = ScriptValue::Kind::null;
        if (text() == "func" || text() == "extern")
            v.type = text() == "func" ? ValType::funcref : ValType::externref;
        else
            return expected("a heap type (func or extern)");
    } else if (kw == "ref.extern" || kw == "ref.func") {
        v.type = kw == "ref.extern" ? ValType::externref : ValType::funcref;
        if (expected_result && tok().kind == TokenKind::rparen) {
            v.kind = ScriptValue::Kind::non_null;
            ++m_pos;
            return v;
        }
        auto n = parse_unsigned(text(), 64);
        if (kw == "ref.func" || tok().kind != TokenKind::number || !n)
            return expected("an externref number");
        v.bits = *n;
    } else {
        m_pos -= 1;
        return fail(fmt::format("unsupported value '{}' (expected i32.const, i64.const, "
                                "f32.const, f64.const, v128.const, ref.null or ref.extern)",
                                kw));
    }
    ++m_pos;
    KILN_CHECK(expect_rparen());
    return v;
}

Result<ScriptAction> ScriptParser::action() {
    ScriptAction a;
    if (at_clause("invoke"))
        a.kind = ScriptAction::Kind::invoke;
    else if (at_clause("get"))
        a.kind = ScriptAction::Kind::get;
    else
        return expected("an action: (invoke ...) or (get ...)");
    m_pos += 2;
    if (tok().kind == TokenKind::id) {
        a.module = std::string(text());
        ++m_pos;
    }
    if (tok().kind != TokenKind::string) return expected("the export's name (a string)");
    a.field = string_value(text());
    ++m_pos;
    if (a.kind == ScriptAction::Kind::invoke)
        while (tok().kind == TokenKind::lparen) {
            KILN_TRY(arg, value(false));
            a.args.push_back(arg);
        }
    KILN_CHECK(expect_rparen());
    return a;
}

bool is_module_field(std::string_view kw) {
    for (std::string_view field :
         {"type", "import", "func", "table", "memory", "global", "export", "start", "elem", "data"})
        if (kw == field) return true;
    return false;
}

Result<std::vector<ScriptCommand>> ScriptParser::run() {
    using Kind = ScriptCommand::Kind;
    std::vector<ScriptCommand> commands;
    // A script may also be the fields of one module, without (module ...) around them.
    if (tok().kind == TokenKind::lparen && tok(1).kind == TokenKind::keyword &&
        is_module_field(text(1))) {
        ScriptCommand cmd;
        cmd.kind = Kind::module;
        cmd.line = line();
        ScriptModule m;
        m.label = fmt::format("{}:{}", m_t.file_name(), cmd.line);
        m.begin = 0;
        m.end = m_t.size() - 1;
        cmd.module = std::move(m);
        commands.push_back(std::move(cmd));
        return commands;
    }
    while (tok().kind != TokenKind::eof) {
        if (tok().kind != TokenKind::lparen || tok(1).kind != TokenKind::keyword)
            return expected("a script command such as (module ...) or (assert_return ...)");
        ScriptCommand cmd;
        cmd.line = line();
        std::string_view kw = text(1);
        if (kw == "module") {
            cmd.kind = Kind::module;
            KILN_TRY(m, module());
            cmd.module = std::move(m);
            commands.push_back(std::move(cmd));
            continue;
        }
        if (kw == "invoke" || kw == "get") {
            cmd.kind = Kind::action;
            KILN_TRY(a, action());
            cmd.action = std::move(a);
            commands.push_back(std::move(cmd));
            continue;
        }
        m_pos += 2;
        if (kw == "register") {
            cmd.kind = Kind::register_;
            KILN_TRY(as, message());
            cmd.text = std::move(as);
            if (tok().kind == TokenKind::id) {
                cmd.name = std::string(text());
                ++m_pos;
            }
        } else if (kw == "assert_return") {
            cmd.kind = Kind::assert_return;
            KILN_TRY(a, action());
            cmd.action = std::move(a);
            while (tok().kind == TokenKind::lparen) {
                KILN_TRY(v, value(true));
                cmd.expected.push_back(v);
            }
        } else if (kw == "assert_trap" || kw == "assert_exhaustion") {
            cmd.kind = kw == "assert_trap" ? Kind::assert_trap : Kind::assert_exhaustion;
            if (kw == "assert_trap" && at_clause("module")) {
                // A module whose instantiation traps (its start function).
                cmd.kind = Kind::assert_uninstantiable;
                KILN_TRY(m, module());
                cmd.module = std::move(m);
            } else {
                KILN_TRY(a, action());
                cmd.action = std::move(a);
            }
            KILN_TRY(msg, message());
            cmd.text = std::move(msg);
        } else if (kw == "assert_malformed" || kw == "assert_invalid" ||
                   kw == "assert_unlinkable" || kw == "assert_uninstantiable") {
            cmd.kind = kw == "assert_malformed"    ? Kind::assert_malformed
                       : kw == "assert_invalid"    ? Kind::assert_invalid
                       : kw == "assert_unlinkable" ? Kind::assert_unlinkable
                                                   : Kind::assert_uninstantiable;
            KILN_TRY(m, module());
            cmd.module = std::move(m);
            KILN_TRY(msg, message());
            cmd.text = std::move(msg);
        } else {
            m_pos -= 1;
            return fail(fmt::format("unknown script command '{}'", kw));
        }
        KILN_CHECK(expect_rparen());
        commands.push_back(std::move(cmd));
    }
    return commands;
}

} // namespace

Result<Script> Script::parse(std::string source, std::string file_name) {
    Script script;
    script.m_source = std::make_unique<const std::string>(std::move(source));
    KILN_TRY(tokens, TokenList::tokenize(*script.m_source, std::move(file_name)));
    script.m_tokens = std::make_unique<const TokenList>(std::move(tokens));
    ScriptParser parser(*script.m_tokens);
    KILN_TRY(commands, parser.run());
    script.m_commands = std::move(commands);
    return script;
}

Result<std::vector<uint8_t>> Script::encode(const ScriptModule& module) const {
    switch (module.form) {
    case ScriptModule::Form::binary:
        return std::vector<uint8_t>(module.data.begin(), module.data.end());
    case ScriptModule::Form::quote:
        return wat_to_wasm(module.data, module.label + " (module quote)");
    case ScriptModule::Form::text: break;
    }
    if (!m_tokens)
        return make_error(ErrorKind::usage,
                          fmt::format("{}: module text without its script", module.label));
    return encode_module(*m_tokens, module.begin, module.end, module.name, WatOptions{});
}

} // namespace kiln::text
