#include "text/module_parser.hpp"

#include "base/reader.hpp"
#include "engine/binary/instr.hpp"

#include <fmt/format.h>

#include <bit>
#include <optional>
#include <string>
#include <unordered_map>

namespace kiln::text {

namespace {

using engine::ImmKind;
using engine::Opcode;

// ---------------------------------------------------------------------------------------------
// The instruction table: every name of the engine's opcode list, so that an opcode added there
// (with an immediate kind this parser knows) is parsed without a change here.

struct OpInfo {
    uint16_t code; ///< 0xFC-prefixed opcodes are 0xFC00 | subcode, as engine::Opcode
    ImmKind imm;
};

const std::unordered_map<std::string_view, OpInfo>& instruction_table() {
    static const auto table = [] {
        std::unordered_map<std::string_view, OpInfo> t;
        // The list names `select` twice (0x1b, and 0x1c with types); emplace keeps the first,
        // and the parser picks 0x1c when a (result ...) follows.
#define KILN_OP(name, code, text, imm, a, b, r) t.emplace(text, OpInfo{code, ImmKind::imm});
#define KILN_OP_FC(name, code, text, imm, a, b, r)                                                 \
    t.emplace(text, OpInfo{0xfc00 | code, ImmKind::imm});
#define KILN_OP_FD(name, code, text, imm, a, b, r)                                                 \
    t.emplace(text, OpInfo{0xfd00 | code, ImmKind::imm});
#include "engine/binary/opcodes.def"
#undef KILN_OP_FD
        return t;
    }();
    return table;
}

constexpr uint16_t op_code(Opcode op) {
    return static_cast<uint16_t>(op);
}

/// log2 of the natural alignment of a memory access, from its name: the width in the name
/// (`i64.load32_s`), else the width of the type (`f64.store`).
uint32_t natural_alignment(std::string_view name) {
    std::string_view op = name.substr(name.find('.') + 1);
    if (name.starts_with("v128.")) {
        // v128.load/store move 16 bytes, v128.load8x8_s and its kind 8, and the splat, zero
        // and lane forms the lane width their name gives.
        if (op == "load" || op == "store") return 4;
        if (op.find('x') != std::string_view::npos) return 3;
        if (op.find("64") != std::string_view::npos) return 3;
    }
    if (op.find("8") != std::string_view::npos) return 0;
    if (op.find("16") != std::string_view::npos) return 1;
    if (op.find("32") != std::string_view::npos) return 2;
    return name.starts_with("i64") || name.starts_with("f64") ? 3 : 2;
}

// ---------------------------------------------------------------------------------------------
// Binary output

using Bytes = std::vector<uint8_t>;

void put_u32(Bytes& out, uint64_t v) {
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (v) b |= 0x80;
        out.push_back(b);
    } while (v);
}

void put_s64(Bytes& out, int64_t v) {
    while (true) {
        uint8_t b = v & 0x7f;
        v >>= 7; // arithmetic in C++20
        bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
        out.push_back(done ? b : b | 0x80);
        if (done) return;
    }
}

void put_bytes(Bytes& out, std::string_view bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
}

void put_name(Bytes& out, std::string_view bytes) {
    put_u32(out, bytes.size());
    put_bytes(out, bytes);
}

void put_opcode(Bytes& out, uint16_t code) {
    if (code >= 0x100) {
        out.push_back(uint8_t(code >> 8));
        put_u32(out, code & 0xff);
    } else {
        out.push_back(uint8_t(code));
    }
}

void put_fixed(Bytes& out, uint64_t bits, size_t size) {
    for (size_t i = 0; i < size; ++i)
        out.push_back(uint8_t(bits >> (8 * i)));
}

/// The function a `ref.func X` expression (with its end) names, else nullopt.
std::optional<uint32_t> ref_func_index(std::span<const uint8_t> expr) {
    if (expr.size() < 3 || expr[0] != op_code(Opcode::RefFunc) || expr.back() != 0x0b)
        return std::nullopt;
    Reader r(expr.subspan(1, expr.size() - 2));
    auto index = r.leb_u32();
    if (!index || !r.at_end()) return std::nullopt;
    return *index;
}

struct Section {
    Bytes bytes;
    uint32_t count = 0;
};

/// A function type as a map key: the parameter bytes, a 0 (no value type), the result bytes.
std::string signature_key(const FuncType& type) {
    std::string key;
    for (ValType t : type.params)
        key += char(t);
    key += '\0';
    for (ValType t : type.results)
        key += char(t);
    return key;
}

// ---------------------------------------------------------------------------------------------
// The parser

enum Space : uint8_t {
    type_space,
    func_space,
    table_space,
    memory_space,
    global_space,
    elem_space,
    data_space,
    space_count
};
constexpr const char* space_names[space_count] = {"type",   "func", "table", "memory",
                                                  "global", "elem", "data"};

struct IndexSpace {
    std::unordered_map<std::string_view, uint32_t> ids;
    uint32_t count = 0;
};

enum class FieldKind : uint8_t {
    type,
    import,
    func,
    table,
    memory,
    global,
    export_,
    start,
    elem,
    data
};

struct Field {
    FieldKind kind;
    size_t open;        ///< token index of its '('
    uint32_t index = 0; ///< func/table/memory/global: its index
};

/// An enclosing block: its $label (empty when it has none) and how it was written.
struct Label {
    std::string_view id;
    uint8_t op;         ///< block, loop or if
    bool in_else;       ///< plain if: its else was seen
    size_t token;       ///< where it opened
    size_t else_at = 0; ///< plain if: where its else opcode was written
};

/// A type use: `(type x)?` then params and results.
struct TypeUse {
    std::optional<uint32_t> index;
    size_t token = 0;
    FuncType type;
    bool has_signature = false; ///< params or results were written
};

struct ElemSegment {
    enum class Mode : uint8_t { passive, active, declarative } mode = Mode::passive;
    uint32_t table = 0;
    Bytes offset; ///< with its end
    ValType type = ValType::funcref;
    uint32_t count = 0;
    bool all_funcs = true;       ///< every item is a function index (or `ref.func X`)
    std::vector<uint32_t> funcs; ///< the items as function indices, while all_funcs
    Bytes exprs;                 ///< the items as expressions (with ends), when written so
};

// Folded instructions and blocks recurse; past this depth the text is refused rather than the
// native stack risked.
constexpr size_t max_nesting = 2000;

class ModuleParser {
public:
    ModuleParser(const TokenList& tokens, const WatOptions& options)
        : m_t(tokens), m_options(options), m_ops(instruction_table()) {}

    Result<Bytes> run(size_t begin, size_t end, std::string_view name);

private:
    // Tokens. The list ends with eof, and an lparen is always followed by its rparen, so
    // looking one past an lparen is safe.
    const Token& tok(size_t k = 0) const { return m_t[m_pos + k]; }
    std::string_view text(size_t k = 0) const { return m_t.text(tok(k)); }
    bool is_keyword(std::string_view kw, size_t k = 0) const {
        return tok(k).kind == TokenKind::keyword && text(k) == kw;
    }
    bool at_clause(std::string_view kw) const {
        return tok().kind == TokenKind::lparen && is_keyword(kw, 1);
    }
    bool at_index() const { return tok().kind == TokenKind::number || tok().kind == TokenKind::id; }

    // Errors
    std::string found() const;
    tl::unexpected<Error> fail_at(size_t token, std::string_view message) const {
        return tl::unexpected(m_t.error_at(m_t[token].offset, message));
    }
    tl::unexpected<Error> fail_at_text(std::string_view in_source, std::string_view message) const {
        return tl::unexpected(
            m_t.error_at(uint32_t(in_source.data() - m_t.source().data()), message));
    }
    tl::unexpected<Error> fail(std::string_view message) const { return fail_at(m_pos, message); }
    tl::unexpected<Error> expected(std::string_view what) const {
        return fail(fmt::format("expected {}, found {}", what, found()));
    }
    Result<void> expect_rparen();

    // Pass 1: declarations
    Result<void> declare(size_t begin, size_t end);
    Result<void> bind(Space space, size_t id_token, uint32_t index);
    Result<void> type_field();

    // Pass 2: definitions
    Result<void> define(const Field& field);
    Result<void> import_field();
    Result<void> func_field(const Field& field);
    Result<void> table_field(const Field& field);
    Result<void> memory_field(const Field& field);
    Result<void> global_field(const Field& field);
    Result<void> export_field();
    Result<void> start_field();
    Result<void> elem_field();
    Result<void> data_field();
    Result<void> inline_exports(ExternKind kind, uint32_t index);
    Result<std::pair<std::string, std::string>> inline_import();
    void put_import(const std::pair<std::string, std::string>& names, ExternKind kind,
                    const Bytes& desc);
    void put_elem(const ElemSegment& segment);

    // Pieces
    Result<uint32_t> index(Space space);
    Result<uint32_t> u32_literal(std::string_view what);
    Result<std::string> name_string();
    Result<ValType> valtype();
    Result<ValType> reftype();
    Result<void> limits(Bytes& out);
    Result<void> global_type(Bytes& out);
    Result<void> param_clause(std::vector<ValType>& params, std::vector<std::string_view>* names);
    Result<void> result_clause(std::vector<ValType>& results);
    Result<void> signature(FuncType& type, std::vector<std::string_view>* names);
    Result<TypeUse> type_use(std::vector<std::string_view>* names);
    Result<uint32_t> resolve(const TypeUse& use);
    uint32_t type_for(const FuncType& type);
    Result<void> block_type(Bytes& out);
    Result<void> elem_items(ElemSegment& segment, bool as_funcs);
    Result<void> offset_expr(Bytes& out);

    // Instructions
    Result<void> instrs(Bytes& out);
    Result<void> folded(Bytes& out);
    Result<void> plain(const OpInfo& op, Bytes& out);
    Result<void> block_start(uint8_t op, Bytes& out);
    Result<uint32_t> label_index();
    Result<uint32_t> local_index();
    Result<void> memarg(std::string_view op_name, Bytes& out);
    Result<void> lane_index(Bytes& out);
    Result<void> expr(Bytes& out);

    const TokenList& m_t;
    const WatOptions& m_options;
    const std::unordered_map<std::string_view, OpInfo>& m_ops;
    size_t m_pos = 0;

    IndexSpace m_spaces[space_count];
    std::vector<FuncType> m_types;
    std::unordered_map<std::string, uint32_t> m_type_keys; // encoded signature -> first index
    std::vector<Field> m_fields;
    std::vector<std::pair<uint32_t, std::string_view>> m_func_names;
    bool m_has_start = false;
    bool m_uses_data_count = false;

    Section m_imports, m_funcs, m_tables, m_memories, m_globals, m_exports, m_elems, m_code, m_data;
    Bytes m_start;

    // Per function, kept to reuse their storage.
    std::unordered_map<std::string_view, uint32_t> m_local_ids;
    std::vector<std::string_view> m_param_names;
    std::vector<ValType> m_locals;
    std::vector<Label> m_labels;
    Bytes m_body;
    Bytes m_pending; // immediates of folded instructions waiting for their operands (a stack)
    Bytes m_scratch;
    size_t m_depth = 0;
};

std::string ModuleParser::found() const {
    if (tok().kind == TokenKind::lparen && tok(1).kind != TokenKind::eof)
        return fmt::format("'({}'", text(1));
    return m_t.describe(m_pos);
}

Result<void> ModuleParser::expect_rparen() {
    if (tok().kind != TokenKind::rparen) return expected("')'");
    ++m_pos;
    return {};
}

// ---------------------------------------------------------------------------------------------
// Pass 1: every index space's names and sizes, and the explicit types, so that pass 2 can
// resolve names used before their definition and place inline types after the explicit ones.

Result<void> ModuleParser::bind(Space space, size_t id_token, uint32_t index) {
    std::string_view id = m_t.text(m_t[id_token]);
    if (!m_spaces[space].ids.emplace(id, index).second)
        return fail_at(id_token, fmt::format("duplicate {} {}", space_names[space], id));
    if (space == func_space) m_func_names.emplace_back(index, id.substr(1));
    return {};
}

Result<void> ModuleParser::declare(size_t begin, size_t end) {
    std::optional<std::pair<const char*, size_t>> first_definition;
    m_pos = begin;
    while (m_pos < end) {
        if (tok().kind != TokenKind::lparen || tok(1).kind != TokenKind::keyword)
            return expected("a module field such as (func ...)");
        const size_t open = m_pos;
        const size_t close = tok().close;
        std::string_view kw = text(1);
        auto import_allowed = [&](size_t at) -> Result<void> {
            if (first_definition)
                return fail_at(
                    at, fmt::format("import after {} (at {}:{}): imports come before "
                                    "the module's own functions, tables, memories "
                                    "and globals",
                                    first_definition->first,
                                    m_t.position(m_t[first_definition->second].offset).line,
                                    m_t.position(m_t[first_definition->second].offset).column));
            return {};
        };
        Field field{FieldKind::type, open};
        if (kw == "type") {
            KILN_CHECK(type_field());
        } else if (kw == "import") {
            KILN_CHECK(import_allowed(open));
            // (import "m" "n" (KIND $id? ...))
            size_t desc = open + 4;
            if (m_t[open + 2].kind != TokenKind::string ||
                m_t[open + 3].kind != TokenKind::string || m_t[desc].kind != TokenKind::lparen ||
                m_t[desc + 1].kind != TokenKind::keyword) {
                m_pos = open + 2;
                return expected("(import \"module\" \"name\" (func|table|memory|global ...))");
            }
            std::string_view what = m_t.text(m_t[desc + 1]);
            Space space = what == "func"     ? func_space
                          : what == "table"  ? table_space
                          : what == "memory" ? memory_space
                          : what == "global" ? global_space
                                             : space_count;
            if (space == space_count) {
                m_pos = desc;
                return expected("an import description: (func ...), (table ...), (memory ...) "
                                "or (global ...)");
            }
            uint32_t index = m_spaces[space].count++;
            if (m_t[desc + 2].kind == TokenKind::id) KILN_CHECK(bind(space, desc + 2, index));
            field.kind = FieldKind::import;
        } else if (kw == "func" || kw == "table" || kw == "memory" || kw == "global") {
            Space space = kw == "func"     ? func_space
                          : kw == "table"  ? table_space
                          : kw == "memory" ? memory_space
                                           : global_space;
            field.kind = kw == "func"     ? FieldKind::func
                         : kw == "table"  ? FieldKind::table
                         : kw == "memory" ? FieldKind::memory
                                          : FieldKind::global;
            field.index = m_spaces[space].count++;
            size_t j = open + 2;
            if (m_t[j].kind == TokenKind::id) KILN_CHECK(bind(space, j++, field.index));
            while (m_t[j].kind == TokenKind::lparen && m_t.text(m_t[j + 1]) == "export")
                j = m_t[j].close + 1;
            bool imported = m_t[j].kind == TokenKind::lparen &&
                            m_t[j + 1].kind == TokenKind::keyword &&
                            m_t.text(m_t[j + 1]) == "import";
            if (imported) {
                KILN_CHECK(import_allowed(j));
            } else {
                if (!first_definition)
                    first_definition.emplace(space == func_space ? "function" : space_names[space],
                                             open);
                // The abbreviations that define a segment with the table or memory.
                if (field.kind == FieldKind::table && m_t[j].kind == TokenKind::keyword &&
                    m_t[j + 1].kind == TokenKind::lparen && m_t.text(m_t[j + 2]) == "elem")
                    ++m_spaces[elem_space].count;
                if (field.kind == FieldKind::memory && m_t[j].kind == TokenKind::lparen &&
                    m_t.text(m_t[j + 1]) == "data")
                    ++m_spaces[data_space].count;
            }
        } else if (kw == "export") {
            field.kind = FieldKind::export_;
        } else if (kw == "start") {
            if (m_has_start) return fail_at(open, "multiple start sections");
            m_has_start = true;
            field.kind = FieldKind::start;
        } else if (kw == "elem" || kw == "data") {
            Space space = kw == "elem" ? elem_space : data_space;
            field.kind = kw == "elem" ? FieldKind::elem : FieldKind::data;
            uint32_t index = m_spaces[space].count++;
            if (m_t[open + 2].kind == TokenKind::id) KILN_CHECK(bind(space, open + 2, index));
        } else {
            m_pos = open + 1;
            return fail(fmt::format("unknown module field '{}' (expected type, import, func, "
                                    "table, memory, global, export, start, elem or data)",
                                    kw));
        }
        m_fields.push_back(field);
        m_pos = close + 1;
    }
    return {};
}

Result<void> ModuleParser::type_field() {
    m_pos += 2;
    std::optional<size_t> id;
    if (tok().kind == TokenKind::id) id = m_pos++;
    if (!at_clause("func")) return expected("(func ...)");
    m_pos += 2;
    FuncType type;
    std::vector<std::string_view> names; // allowed in a type definition, and meaningless there
    KILN_CHECK(signature(type, &names));
    KILN_CHECK(expect_rparen());
    KILN_CHECK(expect_rparen());
    uint32_t index = uint32_t(m_types.size());
    if (id) KILN_CHECK(bind(type_space, *id, index));
    // Explicit types are all kept (duplicates too); a type use finds the first equal one.
    m_type_keys.emplace(signature_key(type), index);
    m_types.push_back(std::move(type));
    return {};
}

// ---------------------------------------------------------------------------------------------
// Pieces

Result<uint32_t> ModuleParser::index(Space space) {
    if (tok().kind == TokenKind::id) {
        const auto& ids = m_spaces[space].ids;
        auto it = ids.find(text());
        if (it == ids.end()) return fail(fmt::format("unknown {} {}", space_names[space], text()));
        ++m_pos;
        return it->second;
    }
    if (tok().kind == TokenKind::number) {
        auto v = parse_unsigned(text(), 32);
        if (v) {
            ++m_pos;
            return uint32_t(*v);
        }
        if (v.error() == LiteralError::range)
            return fail(fmt::format("{} index {} out of range", space_names[space], text()));
    }
    return expected(fmt::format("a {} index or $name", space_names[space]));
}

Result<uint32_t> ModuleParser::u32_literal(std::string_view what) {
    if (tok().kind == TokenKind::number) {
        auto v = parse_unsigned(text(), 32);
        if (v) {
            ++m_pos;
            return uint32_t(*v);
        }
        if (v.error() == LiteralError::range)
            return fail(fmt::format("i32 constant out of range: {} (at most 4294967295)", text()));
    }
    return expected(what);
}

Result<std::string> ModuleParser::name_string() {
    if (tok().kind != TokenKind::string) return expected("a name string");
    std::string name = string_value(text());
    if (!is_valid_utf8(name)) return fail("malformed UTF-8 encoding: a name must be valid UTF-8");
    ++m_pos;
    return name;
}

Result<ValType> ModuleParser::valtype() {
    if (tok().kind == TokenKind::keyword) {
        std::string_view s = text();
        std::optional<ValType> t = s == "i32"         ? ValType::i32
                                   : s == "i64"       ? ValType::i64
                                   : s == "f32"       ? ValType::f32
                                   : s == "f64"       ? ValType::f64
                                   : s == "v128"      ? ValType::v128
                                   : s == "funcref"   ? ValType::funcref
                                   : s == "externref" ? ValType::externref
                                                      : std::optional<ValType>();
        if (t) {
            ++m_pos;
            return *t;
        }
    }
    return expected("a value type (i32, i64, f32, f64, funcref or externref)");
}

Result<ValType> ModuleParser::reftype() {
    if (is_keyword("funcref") || is_keyword("externref")) return valtype();
    return expected("a reference type (funcref or externref)");
}

Result<void> ModuleParser::limits(Bytes& out) {
    KILN_TRY(min, u32_literal("a size limit (a number)"));
    if (tok().kind == TokenKind::number) {
        KILN_TRY(max, u32_literal("a maximum"));
        out.push_back(0x01);
        put_u32(out, min);
        put_u32(out, max);
    } else {
        out.push_back(0x00);
        put_u32(out, min);
    }
    return {};
}

Result<void> ModuleParser::global_type(Bytes& out) {
    if (at_clause("mut")) {
        m_pos += 2;
        KILN_TRY(t, valtype());
        KILN_CHECK(expect_rparen());
        out.push_back(uint8_t(t));
        out.push_back(0x01);
        return {};
    }
    KILN_TRY(t, valtype());
    out.push_back(uint8_t(t));
    out.push_back(0x00);
    return {};
}

Result<void> ModuleParser::param_clause(std::vector<ValType>& params,
                                        std::vector<std::string_view>* names) {
    m_pos += 2;
    if (tok().kind == TokenKind::id) {
        if (!names) return fail("unexpected token: a parameter name is not allowed here");
        names->push_back(text());
        ++m_pos;
        KILN_TRY(t, valtype());
        params.push_back(t);
        return expect_rparen();
    }
    while (tok().kind != TokenKind::rparen) {
        KILN_TRY(t, valtype());
        params.push_back(t);
        if (names) names->push_back({});
    }
    ++m_pos;
    return {};
}

Result<void> ModuleParser::result_clause(std::vector<ValType>& results) {
    m_pos += 2;
    while (tok().kind != TokenKind::rparen) {
        KILN_TRY(t, valtype());
        results.push_back(t);
    }
    ++m_pos;
    return {};
}

Result<void> ModuleParser::signature(FuncType& type, std::vector<std::string_view>* names) {
    while (at_clause("param"))
        KILN_CHECK(param_clause(type.params, names));
    while (at_clause("result"))
        KILN_CHECK(result_clause(type.results));
    if (at_clause("param"))
        return fail("unexpected token: (param ...) after (result ...); parameters come first");
    return {};
}

Result<TypeUse> ModuleParser::type_use(std::vector<std::string_view>* names) {
    TypeUse use;
    use.token = m_pos;
    if (at_clause("type")) {
        m_pos += 2;
        KILN_TRY(i, index(type_space));
        use.index = i;
        KILN_CHECK(expect_rparen());
    }
    size_t before = m_pos;
    KILN_CHECK(signature(use.type, names));
    use.has_signature = m_pos != before;
    if (at_clause("type"))
        return fail("unexpected token: (type ...) comes before the parameters and results");
    return use;
}

uint32_t ModuleParser::type_for(const FuncType& type) {
    auto [it, inserted] = m_type_keys.emplace(signature_key(type), uint32_t(m_types.size()));
    if (inserted) m_types.push_back(type);
    return it->second;
}

Result<uint32_t> ModuleParser::resolve(const TypeUse& use) {
    if (!use.index) return type_for(use.type);
    if (use.has_signature) {
        if (*use.index >= m_types.size())
            return fail_at(use.token, fmt::format("unknown type {}", *use.index));
        const FuncType& declared = m_types[*use.index];
        if (declared != use.type)
            return fail_at(use.token,
                           fmt::format("inline function type {} does not match type {}: {}",
                                       functype_string(use.type), *use.index,
                                       functype_string(declared)));
    }
    return *use.index;
}

Result<void> ModuleParser::block_type(Bytes& out) {
    KILN_TRY(use, type_use(nullptr));
    auto is_short = [](const FuncType& t) { return t.params.empty() && t.results.size() <= 1; };
    auto put_short = [&out](const FuncType& t) {
        out.push_back(t.results.empty() ? 0x40 : uint8_t(t.results[0]));
    };
    if (!use.index && is_short(use.type)) {
        put_short(use.type);
        return {};
    }
    KILN_TRY(type, resolve(use));
    // A type of no parameters and at most one result has the short encoding also when it is
    // named by (type x), as wat2wasm writes it; an unknown index stays, for validation to report.
    if (type < m_types.size() && is_short(m_types[type])) {
        put_short(m_types[type]);
        return {};
    }
    put_s64(out, type);
    return {};
}

Result<std::pair<std::string, std::string>> ModuleParser::inline_import() {
    m_pos += 2;
    KILN_TRY(module, name_string());
    KILN_TRY(name, name_string());
    KILN_CHECK(expect_rparen());
    return std::pair{std::move(module), std::move(name)};
}

Result<void> ModuleParser::inline_exports(ExternKind kind, uint32_t index) {
    while (at_clause("export")) {
        m_pos += 2;
        KILN_TRY(name, name_string());
        KILN_CHECK(expect_rparen());
        put_name(m_exports.bytes, name);
        m_exports.bytes.push_back(uint8_t(kind));
        put_u32(m_exports.bytes, index);
        ++m_exports.count;
    }
    return {};
}

void ModuleParser::put_import(const std::pair<std::string, std::string>& names, ExternKind kind,
                              const Bytes& desc) {
    put_name(m_imports.bytes, names.first);
    put_name(m_imports.bytes, names.second);
    m_imports.bytes.push_back(uint8_t(kind));
    m_imports.bytes.insert(m_imports.bytes.end(), desc.begin(), desc.end());
    ++m_imports.count;
}

Result<void> ModuleParser::expr(Bytes& out) {
    KILN_CHECK(instrs(out));
    out.push_back(0x0b);
    return {};
}

Result<void> ModuleParser::offset_expr(Bytes& out) {
    // (offset instr*), or one folded instruction standing for it.
    if (at_clause("offset")) {
        m_pos += 2;
        KILN_CHECK(expr(out));
        return expect_rparen();
    }
    if (tok().kind != TokenKind::lparen) return expected("an offset: (offset ...)");
    KILN_CHECK(folded(out));
    out.push_back(0x0b);
    return {};
}

// ---------------------------------------------------------------------------------------------
// Pass 2: the fields in order, each into its section.

Result<void> ModuleParser::define(const Field& field) {
    m_pos = field.open;
    switch (field.kind) {
    case FieldKind::type: m_pos = m_t[field.open].close + 1; return {};
    case FieldKind::import: return import_field();
    case FieldKind::func: return func_field(field);
    case FieldKind::table: return table_field(field);
    case FieldKind::memory: return memory_field(field);
    case FieldKind::global: return global_field(field);
    case FieldKind::export_: return export_field();
    case FieldKind::start: return start_field();
    case FieldKind::elem: return elem_field();
    case FieldKind::data: return data_field();
    }
    return {};
}

Result<void> ModuleParser::import_field() {
    m_pos += 2;
    KILN_TRY(module, name_string());
    KILN_TRY(name, name_string());
    std::pair names{std::move(module), std::move(name)};
    std::string_view kind = text(1); // checked by pass 1
    m_pos += 2;
    if (tok().kind == TokenKind::id) ++m_pos;
    m_scratch.clear();
    ExternKind extern_kind;
    if (kind == "func") {
        m_param_names.clear();
        KILN_TRY(use, type_use(&m_param_names));
        KILN_TRY(type, resolve(use));
        put_u32(m_scratch, type);
        extern_kind = ExternKind::func;
    } else if (kind == "table") {
        Bytes lim;
        KILN_CHECK(limits(lim));
        KILN_TRY(t, reftype());
        m_scratch.push_back(uint8_t(t));
        m_scratch.insert(m_scratch.end(), lim.begin(), lim.end());
        extern_kind = ExternKind::table;
    } else if (kind == "memory") {
        KILN_CHECK(limits(m_scratch));
        extern_kind = ExternKind::memory;
    } else {
        KILN_CHECK(global_type(m_scratch));
        extern_kind = ExternKind::global;
    }
    KILN_CHECK(expect_rparen());
    put_import(names, extern_kind, m_scratch);
    return expect_rparen();
}

Result<void> ModuleParser::func_field(const Field& field) {
    m_pos += 2;
    if (tok().kind == TokenKind::id) ++m_pos;
    KILN_CHECK(inline_exports(ExternKind::func, field.index));
    m_param_names.clear();
    if (at_clause("import")) {
        KILN_TRY(names, inline_import());
        KILN_TRY(use, type_use(&m_param_names));
        KILN_TRY(type, resolve(use));
        m_scratch.clear();
        put_u32(m_scratch, type);
        put_import(names, ExternKind::func, m_scratch);
        return expect_rparen();
    }
    KILN_TRY(use, type_use(&m_param_names));
    KILN_TRY(type, resolve(use));
    put_u32(m_funcs.bytes, type);
    ++m_funcs.count;

    // Locals: the parameters (named when the signature is written out), then (local ...).
    m_local_ids.clear();
    m_locals.clear();
    for (size_t i = 0; i < m_param_names.size(); ++i) {
        std::string_view id = m_param_names[i];
        if (!id.empty() && !m_local_ids.emplace(id, uint32_t(i)).second)
            return fail_at_text(id, fmt::format("duplicate local {}", id));
    }
    size_t params = use.has_signature       ? use.type.params.size()
                    : type < m_types.size() ? m_types[type].params.size()
                                            : 0;
    while (at_clause("local")) {
        m_pos += 2;
        if (tok().kind == TokenKind::id) {
            std::string_view id = text();
            if (!m_local_ids.emplace(id, uint32_t(params + m_locals.size())).second)
                return fail(fmt::format("duplicate local {}", id));
            ++m_pos;
            KILN_TRY(t, valtype());
            m_locals.push_back(t);
            KILN_CHECK(expect_rparen());
            continue;
        }
        while (tok().kind != TokenKind::rparen) {
            KILN_TRY(t, valtype());
            m_locals.push_back(t);
        }
        ++m_pos;
    }
    if (at_clause("param") || at_clause("result") || at_clause("type"))
        return fail(fmt::format("unexpected token: ({} ...) after the locals", text(1)));

    m_labels.clear();
    m_body.clear();
    KILN_CHECK(expr(m_body));
    if (at_clause("local") || at_clause("param") || at_clause("result"))
        return fail(fmt::format("unexpected token: ({} ...) after the instructions", text(1)));
    KILN_CHECK(expect_rparen());

    // Locals in runs of one type.
    m_scratch.clear();
    uint32_t groups = 0;
    Bytes groups_bytes;
    for (size_t i = 0; i < m_locals.size();) {
        size_t j = i;
        while (j < m_locals.size() && m_locals[j] == m_locals[i])
            ++j;
        put_u32(groups_bytes, j - i);
        groups_bytes.push_back(uint8_t(m_locals[i]));
        ++groups;
        i = j;
    }
    put_u32(m_scratch, groups);
    m_scratch.insert(m_scratch.end(), groups_bytes.begin(), groups_bytes.end());
    put_u32(m_code.bytes, m_scratch.size() + m_body.size());
    m_code.bytes.insert(m_code.bytes.end(), m_scratch.begin(), m_scratch.end());
    m_code.bytes.insert(m_code.bytes.end(), m_body.begin(), m_body.end());
    ++m_code.count;
    return {};
}

Result<void> ModuleParser::table_field(const Field& field) {
    m_pos += 2;
    if (tok().kind == TokenKind::id) ++m_pos;
    KILN_CHECK(inline_exports(ExternKind::table, field.index));
    if (at_clause("import")) {
        KILN_TRY(names, inline_import());
        Bytes lim;
        KILN_CHECK(limits(lim));
        KILN_TRY(t, reftype());
        m_scratch.clear();
        m_scratch.push_back(uint8_t(t));
        m_scratch.insert(m_scratch.end(), lim.begin(), lim.end());
        put_import(names, ExternKind::table, m_scratch);
        return expect_rparen();
    }
    if (tok().kind == TokenKind::keyword) {
        // (table reftype (elem ...)): a table just large enough, and a segment filling it.
        KILN_TRY(t, reftype());
        if (!at_clause("elem")) return expected("(elem ...)");
        m_pos += 2;
        ElemSegment segment;
        segment.mode = ElemSegment::Mode::active;
        segment.table = field.index;
        segment.type = t;
        segment.offset = {op_code(Opcode::I32Const), 0x00, 0x0b};
        KILN_CHECK(elem_items(segment, at_index()));
        KILN_CHECK(expect_rparen());
        m_tables.bytes.push_back(uint8_t(t));
        m_tables.bytes.push_back(0x01);
        put_u32(m_tables.bytes, segment.count);
        put_u32(m_tables.bytes, segment.count);
        ++m_tables.count;
        put_elem(segment);
        return expect_rparen();
    }
    Bytes lim;
    KILN_CHECK(limits(lim));
    KILN_TRY(t, reftype());
    m_tables.bytes.push_back(uint8_t(t));
    m_tables.bytes.insert(m_tables.bytes.end(), lim.begin(), lim.end());
    ++m_tables.count;
    return expect_rparen();
}

Result<void> ModuleParser::memory_field(const Field& field) {
    m_pos += 2;
    if (tok().kind == TokenKind::id) ++m_pos;
    KILN_CHECK(inline_exports(ExternKind::memory, field.index));
    if (at_clause("import")) {
        KILN_TRY(names, inline_import());
        m_scratch.clear();
        KILN_CHECK(limits(m_scratch));
        put_import(names, ExternKind::memory, m_scratch);
        return expect_rparen();
    }
    if (at_clause("data")) {
        // (memory (data ...)): a memory just large enough, and a segment filling it.
        m_pos += 2;
        std::string bytes;
        while (tok().kind == TokenKind::string) {
            append_string_value(text(), bytes);
            ++m_pos;
        }
        KILN_CHECK(expect_rparen());
        uint64_t pages = (bytes.size() + page_size - 1) / page_size;
        m_memories.bytes.push_back(0x01);
        put_u32(m_memories.bytes, pages);
        put_u32(m_memories.bytes, pages);
        ++m_memories.count;
        if (field.index == 0) {
            m_data.bytes.push_back(0x00);
        } else {
            m_data.bytes.push_back(0x02);
            put_u32(m_data.bytes, field.index);
        }
        m_data.bytes.insert(m_data.bytes.end(), {op_code(Opcode::I32Const), 0x00, 0x0b});
        put_name(m_data.bytes, bytes);
        ++m_data.count;
        return expect_rparen();
    }
    KILN_CHECK(limits(m_memories.bytes));
    ++m_memories.count;
    return expect_rparen();
}

Result<void> ModuleParser::global_field(const Field& field) {
    m_pos += 2;
    if (tok().kind == TokenKind::id) ++m_pos;
    KILN_CHECK(inline_exports(ExternKind::global, field.index));
    if (at_clause("import")) {
        KILN_TRY(names, inline_import());
        m_scratch.clear();
        KILN_CHECK(global_type(m_scratch));
        put_import(names, ExternKind::global, m_scratch);
        return expect_rparen();
    }
    KILN_CHECK(global_type(m_globals.bytes));
    m_labels.clear();
    m_local_ids.clear();
    KILN_CHECK(expr(m_globals.bytes));
    ++m_globals.count;
    return expect_rparen();
}

Result<void> ModuleParser::export_field() {
    m_pos += 2;
    KILN_TRY(name, name_string());
    if (tok().kind != TokenKind::lparen)
        return expected("what is exported: (func x), (table x), (memory x) or (global x)");
    std::string_view kind = text(1);
    ExternKind extern_kind;
    Space space;
    if (kind == "func") {
        extern_kind = ExternKind::func;
        space = func_space;
    } else if (kind == "table") {
        extern_kind = ExternKind::table;
        space = table_space;
    } else if (kind == "memory") {
        extern_kind = ExternKind::memory;
        space = memory_space;
    } else if (kind == "global") {
        extern_kind = ExternKind::global;
        space = global_space;
    } else {
        return expected("what is exported: (func x), (table x), (memory x) or (global x)");
    }
    m_pos += 2;
    KILN_TRY(i, index(space));
    KILN_CHECK(expect_rparen());
    put_name(m_exports.bytes, name);
    m_exports.bytes.push_back(uint8_t(extern_kind));
    put_u32(m_exports.bytes, i);
    ++m_exports.count;
    return expect_rparen();
}

Result<void> ModuleParser::start_field() {
    m_pos += 2;
    KILN_TRY(func, index(func_space));
    put_u32(m_start, func);
    return expect_rparen();
}

Result<void> ModuleParser::elem_items(ElemSegment& segment, bool as_funcs) {
    if (as_funcs) {
        while (at_index()) {
            KILN_TRY(func, index(func_space));
            segment.funcs.push_back(func);
            ++segment.count;
        }
        return {};
    }
    while (tok().kind == TokenKind::lparen) {
        size_t mark = segment.exprs.size();
        if (at_clause("item")) {
            m_pos += 2;
            KILN_CHECK(expr(segment.exprs));
            KILN_CHECK(expect_rparen());
        } else {
            KILN_CHECK(folded(segment.exprs));
            segment.exprs.push_back(0x0b);
        }
        if (segment.all_funcs) {
            auto func = ref_func_index(std::span(segment.exprs).subspan(mark));
            if (func)
                segment.funcs.push_back(*func);
            else
                segment.all_funcs = false;
        }
        ++segment.count;
    }
    return {};
}

Result<void> ModuleParser::elem_field() {
    m_pos += 2;
    if (tok().kind == TokenKind::id) ++m_pos;
    m_labels.clear();
    m_local_ids.clear();
    ElemSegment segment;
    bool table_given = false;
    if (is_keyword("declare")) {
        segment.mode = ElemSegment::Mode::declarative;
        ++m_pos;
    } else {
        if (at_clause("table")) {
            m_pos += 2;
            KILN_TRY(table, index(table_space));
            KILN_CHECK(expect_rparen());
            segment.table = table;
            table_given = true;
        }
        if (tok().kind == TokenKind::lparen) {
            segment.mode = ElemSegment::Mode::active;
            KILN_CHECK(offset_expr(segment.offset));
        } else if (table_given) {
            return expected("an offset: (offset ...)");
        }
    }
    if (is_keyword("func")) {
        ++m_pos;
        KILN_CHECK(elem_items(segment, true));
    } else if (is_keyword("funcref") || is_keyword("externref")) {
        KILN_TRY(t, reftype());
        segment.type = t;
        KILN_CHECK(elem_items(segment, false));
    } else if (segment.mode == ElemSegment::Mode::active) {
        // (elem (offset ...) x*): function indices for table 0.
        KILN_CHECK(elem_items(segment, true));
    } else {
        return expected("the element list: func followed by indices, or a reference type "
                        "followed by expressions");
    }
    KILN_CHECK(expect_rparen());
    put_elem(segment);
    return {};
}

void ModuleParser::put_elem(const ElemSegment& s) {
    // The encoding wat2wasm picks too: function indices when every item is one, the table index
    // only when it is not 0 or the segment is not of funcref (which flag 0 and 4 imply).
    using Mode = ElemSegment::Mode;
    bool use_exprs = s.type != ValType::funcref || !s.all_funcs;
    bool explicit_table = s.mode == Mode::active && (s.table != 0 || s.type != ValType::funcref);
    uint8_t flags = s.mode == Mode::passive       ? 0x01
                    : s.mode == Mode::declarative ? 0x03
                    : explicit_table              ? 0x02
                                                  : 0x00;
    if (use_exprs) flags |= 0x04;
    Bytes& out = m_elems.bytes;
    out.push_back(flags);
    if (explicit_table) put_u32(out, s.table);
    if (s.mode == Mode::active) out.insert(out.end(), s.offset.begin(), s.offset.end());
    if (flags & 0x03) out.push_back(use_exprs ? uint8_t(s.type) : 0x00);
    put_u32(out, s.count);
    if (use_exprs) {
        out.insert(out.end(), s.exprs.begin(), s.exprs.end());
    } else {
        for (uint32_t f : s.funcs)
            put_u32(out, f);
    }
    ++m_elems.count;
}

Result<void> ModuleParser::data_field() {
    m_pos += 2;
    if (tok().kind == TokenKind::id) ++m_pos;
    m_labels.clear();
    m_local_ids.clear();
    std::optional<uint32_t> memory;
    if (at_clause("memory")) {
        m_pos += 2;
        KILN_TRY(m, index(memory_space));
        KILN_CHECK(expect_rparen());
        memory = m;
    }
    Bytes offset;
    if (tok().kind == TokenKind::lparen)
        KILN_CHECK(offset_expr(offset));
    else if (memory)
        return expected("an offset: (offset ...)");
    std::string bytes;
    while (tok().kind == TokenKind::string) {
        append_string_value(text(), bytes);
        ++m_pos;
    }
    if (tok().kind != TokenKind::rparen) return expected("a string or ')'");
    ++m_pos;
    Bytes& out = m_data.bytes;
    if (offset.empty()) {
        out.push_back(0x01);
    } else if (memory.value_or(0) == 0) {
        out.push_back(0x00);
    } else {
        out.push_back(0x02);
        put_u32(out, *memory);
    }
    out.insert(out.end(), offset.begin(), offset.end());
    put_name(out, bytes);
    ++m_data.count;
    return {};
}

// ---------------------------------------------------------------------------------------------
// Instructions

Result<uint32_t> ModuleParser::label_index() {
    if (tok().kind == TokenKind::id) {
        for (size_t i = m_labels.size(); i-- > 0;) {
            if (m_labels[i].id == text()) {
                ++m_pos;
                return uint32_t(m_labels.size() - 1 - i);
            }
        }
        return fail(fmt::format("unknown label {}", text()));
    }
    if (tok().kind == TokenKind::number) {
        auto v = parse_unsigned(text(), 32);
        if (v) {
            ++m_pos;
            return uint32_t(*v);
        }
    }
    return expected("a label (a depth or $name)");
}

Result<uint32_t> ModuleParser::local_index() {
    if (tok().kind == TokenKind::id) {
        auto it = m_local_ids.find(text());
        if (it == m_local_ids.end()) return fail(fmt::format("unknown local {}", text()));
        ++m_pos;
        return it->second;
    }
    if (tok().kind == TokenKind::number) {
        auto v = parse_unsigned(text(), 32);
        if (v) {
            ++m_pos;
            return uint32_t(*v);
        }
    }
    return expected("a local index or $name");
}

Result<void> ModuleParser::memarg(std::string_view op_name, Bytes& out) {
    uint64_t offset = 0;
    uint32_t align = natural_alignment(op_name);
    if (tok().kind == TokenKind::keyword && text().starts_with("offset=")) {
        auto v = parse_unsigned(text().substr(7), 32);
        if (!v)
            return fail(
                v.error() == LiteralError::range
                    ? fmt::format("i32 constant out of range: {} (at most 4294967295)", text())
                    : fmt::format("expected offset=N, found '{}'", text()));
        offset = *v;
        ++m_pos;
    }
    if (tok().kind == TokenKind::keyword && text().starts_with("align=")) {
        auto v = parse_unsigned(text().substr(6), 32);
        if (!v) return fail(fmt::format("expected align=N, found '{}'", text()));
        if (*v == 0 || (*v & (*v - 1)) != 0)
            return fail(fmt::format("alignment must be a power of two, found {}", text()));
        align = uint32_t(std::countr_zero(*v));
        ++m_pos;
    }
    put_u32(out, align);
    put_u32(out, offset);
    return {};
}

Result<void> ModuleParser::lane_index(Bytes& out) {
    // A lane index is a u8 in the text; whether the shape has that lane is for the validator.
    auto v = tok().kind == TokenKind::number
                 ? parse_unsigned(text(), 8)
                 : tl::expected<uint64_t, LiteralError>(tl::unexpected(LiteralError::syntax));
    if (!v) {
        if (v.error() == LiteralError::range)
            return fail(fmt::format("malformed lane index: {}", text()));
        return expected("a lane index");
    }
    ++m_pos;
    out.push_back(uint8_t(*v));
    return {};
}

Result<void> ModuleParser::block_start(uint8_t op, Bytes& out) {
    size_t at = m_pos;
    ++m_pos;
    std::string_view id;
    if (tok().kind == TokenKind::id) id = text(), ++m_pos;
    out.push_back(op);
    KILN_CHECK(block_type(out));
    m_labels.push_back(Label{id, op, false, at});
    return {};
}

Result<void> ModuleParser::instrs(Bytes& out) {
    const size_t base = m_labels.size();
    while (true) {
        const Token& t = tok();
        if (t.kind == TokenKind::lparen) {
            // A clause of the enclosing construct ends the sequence; its parser takes it.
            if (tok(1).kind == TokenKind::keyword) {
                std::string_view kw = text(1);
                if (kw == "then" || kw == "else" || kw == "param" || kw == "result" ||
                    kw == "local" || kw == "type" || kw == "item" || kw == "export" ||
                    kw == "import")
                    break;
            }
            KILN_CHECK(folded(out));
            continue;
        }
        if (t.kind != TokenKind::keyword) break;
        std::string_view kw = text();
        if (kw == "end" || kw == "else") {
            if (m_labels.size() == base) break; // the caller's
            Label& label = m_labels.back();
            size_t at = m_pos++;
            if (tok().kind == TokenKind::id) {
                if (text() != label.id)
                    return fail(label.id.empty()
                                    ? fmt::format("mismatching label: {} closes a block without "
                                                  "a label",
                                                  text())
                                    : fmt::format("mismatching label: expected {}, found {}",
                                                  label.id, text()));
                ++m_pos;
            }
            if (kw == "else") {
                if (label.op != op_code(Opcode::If) || label.in_else)
                    return fail_at(at, "'else' without its 'if'");
                label.in_else = true;
                label.else_at = out.size();
                out.push_back(op_code(Opcode::Else));
                continue;
            }
            // An empty else is left out, as wat2wasm does: the if means the same without it.
            if (label.in_else && out.size() == label.else_at + 1) out.pop_back();
            m_labels.pop_back();
            out.push_back(op_code(Opcode::End));
            continue;
        }
        auto it = m_ops.find(kw);
        if (it == m_ops.end()) return fail(fmt::format("unknown operator '{}'", kw));
        if (it->second.imm == ImmKind::block) {
            KILN_CHECK(block_start(uint8_t(it->second.code), out));
            continue;
        }
        KILN_CHECK(plain(it->second, out));
    }
    if (m_labels.size() > base) {
        Position p = m_t.position(m_t[m_labels.back().token].offset);
        return expected(fmt::format("'end' for the block at {}:{}", p.line, p.column));
    }
    return {};
}

Result<void> ModuleParser::folded(Bytes& out) {
    if (m_depth >= max_nesting)
        return fail(fmt::format("instructions nested more than {} deep", max_nesting));
    ++m_depth;
    struct Leave {
        size_t& depth;
        ~Leave() { --depth; }
    } leave{m_depth};

    const size_t open = m_pos;
    if (tok(1).kind != TokenKind::keyword) {
        ++m_pos;
        return expected("an instruction");
    }
    std::string_view kw = text(1);
    auto it = m_ops.find(kw);
    if (it == m_ops.end() || it->second.code == op_code(Opcode::End) ||
        it->second.code == op_code(Opcode::Else))
        return fail_at(open + 1, fmt::format("unknown operator '{}'", kw));
    const OpInfo op = it->second;
    m_pos = open + 1;

    if (op.code == op_code(Opcode::If)) {
        // (if label? blocktype cond* (then ...) (else ...)?): the condition comes first, and
        // the if's label is not in its scope.
        const size_t mark = m_pending.size();
        KILN_CHECK(block_start(uint8_t(op.code), m_pending));
        Label label = m_labels.back();
        m_labels.pop_back();
        while (tok().kind == TokenKind::lparen && !is_keyword("then", 1) && !is_keyword("else", 1))
            KILN_CHECK(folded(out));
        out.insert(out.end(), m_pending.begin() + mark, m_pending.end());
        m_pending.resize(mark);
        m_labels.push_back(label);
        if (!at_clause("then")) return expected("(then ...)");
        m_pos += 2;
        KILN_CHECK(instrs(out));
        KILN_CHECK(expect_rparen());
        if (at_clause("else")) {
            m_pos += 2;
            const size_t else_at = out.size();
            out.push_back(op_code(Opcode::Else));
            KILN_CHECK(instrs(out));
            KILN_CHECK(expect_rparen());
            if (out.size() == else_at + 1) out.pop_back();
        }
    } else if (op.imm == ImmKind::block) {
        KILN_CHECK(block_start(uint8_t(op.code), out));
        KILN_CHECK(instrs(out));
    } else {
        // Immediates first in the text, last in the binary: they wait on m_pending while the
        // operands are written.
        const size_t mark = m_pending.size();
        KILN_CHECK(plain(op, m_pending));
        while (tok().kind == TokenKind::lparen)
            KILN_CHECK(folded(out));
        out.insert(out.end(), m_pending.begin() + mark, m_pending.end());
        m_pending.resize(mark);
        return expect_rparen();
    }
    KILN_CHECK(expect_rparen());
    m_labels.pop_back();
    out.push_back(op_code(Opcode::End));
    return {};
}

Result<void> ModuleParser::plain(const OpInfo& op, Bytes& out) {
    const std::string_view name = text();
    ++m_pos;
    if (op.code == op_code(Opcode::Select) && at_clause("result")) {
        std::vector<ValType> types;
        while (at_clause("result"))
            KILN_CHECK(result_clause(types));
        put_opcode(out, op_code(Opcode::SelectT));
        put_u32(out, types.size());
        for (ValType t : types)
            out.push_back(uint8_t(t));
        return {};
    }
    put_opcode(out, op.code);
    switch (op.imm) {
    case ImmKind::none: return {};
    case ImmKind::block: return fail_at(m_pos - 1, "a block cannot be written here");
    case ImmKind::label: {
        KILN_TRY(depth, label_index());
        put_u32(out, depth);
        return {};
    }
    case ImmKind::br_table: {
        std::vector<uint32_t> targets;
        do {
            KILN_TRY(depth, label_index());
            targets.push_back(depth);
        } while (at_index());
        put_u32(out, targets.size() - 1);
        for (uint32_t t : targets)
            put_u32(out, t);
        return {};
    }
    case ImmKind::func: {
        KILN_TRY(func, index(func_space));
        put_u32(out, func);
        return {};
    }
    case ImmKind::call_indirect: {
        uint32_t table = 0;
        if (at_index()) {
            KILN_TRY(t, index(table_space));
            table = t;
        }
        KILN_TRY(use, type_use(nullptr));
        KILN_TRY(type, resolve(use));
        put_u32(out, type);
        put_u32(out, table);
        return {};
    }
    case ImmKind::local: {
        KILN_TRY(local, local_index());
        put_u32(out, local);
        return {};
    }
    case ImmKind::global: {
        KILN_TRY(global, index(global_space));
        put_u32(out, global);
        return {};
    }
    case ImmKind::table: {
        uint32_t table = 0;
        if (at_index()) {
            KILN_TRY(t, index(table_space));
            table = t;
        }
        put_u32(out, table);
        return {};
    }
    case ImmKind::mem: return memarg(name, out);
    case ImmKind::memidx: out.push_back(0x00); return {};
    case ImmKind::i32:
    case ImmKind::i64: {
        const unsigned bits = op.imm == ImmKind::i32 ? 32 : 64;
        if (tok().kind == TokenKind::number) {
            auto v = parse_integer(text(), bits);
            if (v) {
                ++m_pos;
                put_s64(out, bits == 32 ? int64_t(int32_t(uint32_t(*v))) : int64_t(*v));
                return {};
            }
            if (v.error() == LiteralError::range)
                return fail(fmt::format("i{} constant out of range: {}", bits, text()));
        }
        return expected(fmt::format("an i{} literal", bits));
    }
    case ImmKind::f32:
    case ImmKind::f64: {
        const bool f32 = op.imm == ImmKind::f32;
        if (tok().kind == TokenKind::number || tok().kind == TokenKind::keyword) {
            auto bits = f32 ? parse_f32(text()).map([](uint32_t b) { return uint64_t(b); })
                            : parse_f64(text());
            if (bits) {
                ++m_pos;
                put_fixed(out, *bits, f32 ? 4 : 8);
                return {};
            }
            if (bits.error() == LiteralError::range)
                return fail(fmt::format("f{} constant out of range: {}", f32 ? 32 : 64, text()));
        }
        return expected(fmt::format("an f{} literal", f32 ? 32 : 64));
    }
    case ImmKind::ref_type: {
        if (is_keyword("func") || is_keyword("extern")) {
            out.push_back(uint8_t(text() == "func" ? ValType::funcref : ValType::externref));
            ++m_pos;
            return {};
        }
        return expected("a heap type (func or extern)");
    }
    case ImmKind::select_t: return fail_at(m_pos - 1, "typed select is written select (result t)");
    case ImmKind::v128: {
        // v128.const SHAPE LANE...: 16 bytes, lane 0 first.
        auto shape = tok().kind == TokenKind::keyword ? v128_shape(text()) : std::nullopt;
        if (!shape) return expected("a v128 shape (i8x16, i16x8, i32x4, i64x2, f32x4 or f64x2)");
        ++m_pos;
        for (unsigned i = 0; i < shape->lanes(); ++i) {
            const bool literal = tok().kind == TokenKind::number ||
                                 (shape->is_float && tok().kind == TokenKind::keyword);
            auto bits =
                literal
                    ? parse_lane(*shape, text())
                    : tl::expected<uint64_t, LiteralError>(tl::unexpected(LiteralError::syntax));
            if (!bits) {
                if (bits.error() == LiteralError::range)
                    return fail(fmt::format("constant out of range: {}", text()));
                return expected(fmt::format("{} lane literals, found {}", shape->lanes(), i));
            }
            ++m_pos;
            put_fixed(out, *bits, shape->width);
        }
        return {};
    }
    case ImmKind::shuffle:
        for (unsigned i = 0; i < 16; ++i)
            KILN_CHECK(lane_index(out));
        return {};
    case ImmKind::lane: return lane_index(out);
    case ImmKind::mem_lane: KILN_CHECK(memarg(name, out)); return lane_index(out);
    case ImmKind::memory_init: {
        KILN_TRY(data, index(data_space));
        put_u32(out, data);
        out.push_back(0x00);
        m_uses_data_count = true;
        return {};
    }
    case ImmKind::data: {
        KILN_TRY(data, index(data_space));
        put_u32(out, data);
        m_uses_data_count = true;
        return {};
    }
    case ImmKind::memory_copy:
        out.push_back(0x00);
        out.push_back(0x00);
        return {};
    case ImmKind::table_init: {
        // table.init TABLE? ELEM
        uint32_t table = 0;
        if (at_index() && (tok(1).kind == TokenKind::number || tok(1).kind == TokenKind::id)) {
            KILN_TRY(t, index(table_space));
            table = t;
        }
        KILN_TRY(elem, index(elem_space));
        put_u32(out, elem);
        put_u32(out, table);
        return {};
    }
    case ImmKind::elem: {
        KILN_TRY(elem, index(elem_space));
        put_u32(out, elem);
        return {};
    }
    case ImmKind::table_copy: {
        uint32_t dst = 0, src = 0;
        if (at_index()) {
            KILN_TRY(d, index(table_space));
            KILN_TRY(s, index(table_space));
            dst = d;
            src = s;
        }
        put_u32(out, dst);
        put_u32(out, src);
        return {};
    }
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// The module

Result<Bytes> ModuleParser::run(size_t begin, size_t end, std::string_view name) {
    KILN_CHECK(declare(begin, end));
    for (const Field& field : m_fields) {
        KILN_CHECK(define(field));
        // Every field parser stops at its own ')'; anything else is a bug, caught here.
        if (m_pos != m_t[field.open].close + 1) return expected("')'");
    }

    Bytes out = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    auto section = [&out](uint8_t id, const Section& s) {
        if (s.count == 0) return;
        Bytes count;
        put_u32(count, s.count);
        out.push_back(id);
        put_u32(out, count.size() + s.bytes.size());
        out.insert(out.end(), count.begin(), count.end());
        out.insert(out.end(), s.bytes.begin(), s.bytes.end());
    };
    Section types;
    for (const FuncType& t : m_types) {
        types.bytes.push_back(0x60);
        put_u32(types.bytes, t.params.size());
        for (ValType v : t.params)
            types.bytes.push_back(uint8_t(v));
        put_u32(types.bytes, t.results.size());
        for (ValType v : t.results)
            types.bytes.push_back(uint8_t(v));
    }
    types.count = uint32_t(m_types.size());
    section(1, types);
    section(2, m_imports);
    section(3, m_funcs);
    section(4, m_tables);
    section(5, m_memories);
    section(6, m_globals);
    section(7, m_exports);
    if (!m_start.empty()) {
        out.push_back(8);
        put_u32(out, m_start.size());
        out.insert(out.end(), m_start.begin(), m_start.end());
    }
    section(9, m_elems);
    // The data count section only when the code needs it (memory.init, data.drop) and there
    // are segments to count, as wat2wasm writes it.
    if (m_uses_data_count && m_spaces[data_space].count > 0) {
        Bytes count;
        put_u32(count, m_spaces[data_space].count);
        out.push_back(12);
        put_u32(out, count.size());
        out.insert(out.end(), count.begin(), count.end());
    }
    section(10, m_code);
    section(11, m_data);

    if (m_options.names && (!name.empty() || !m_func_names.empty())) {
        Bytes names;
        put_name(names, "name");
        if (!name.empty()) {
            Bytes sub;
            put_name(sub, name.substr(1));
            names.push_back(0);
            put_u32(names, sub.size());
            names.insert(names.end(), sub.begin(), sub.end());
        }
        if (!m_func_names.empty()) {
            Bytes sub;
            put_u32(sub, m_func_names.size());
            for (const auto& [index, func_name] : m_func_names) {
                put_u32(sub, index);
                put_name(sub, func_name);
            }
            names.push_back(1);
            put_u32(names, sub.size());
            names.insert(names.end(), sub.begin(), sub.end());
        }
        out.push_back(0);
        put_u32(out, names.size());
        out.insert(out.end(), names.begin(), names.end());
    }
    return out;
}

} // namespace

Result<std::vector<uint8_t>> encode_module(const TokenList& tokens, size_t begin, size_t end,
                                           std::string_view name, const WatOptions& options) {
    ModuleParser parser(tokens, options);
    return parser.run(begin, end, name);
}

Result<std::vector<uint8_t>> encode_text(const TokenList& tokens, const WatOptions& options) {
    const Token& first = tokens[0];
    if (first.kind == TokenKind::lparen && tokens[1].kind == TokenKind::keyword &&
        tokens.text(tokens[1]) == "module") {
        size_t pos = 2;
        std::string_view name;
        if (tokens[pos].kind == TokenKind::id) name = tokens.text(tokens[pos++]);
        if (tokens[pos].kind == TokenKind::keyword &&
            (tokens.text(tokens[pos]) == "binary" || tokens.text(tokens[pos]) == "quote"))
            return tl::unexpected(tokens.error_at(
                tokens[pos].offset,
                fmt::format("(module {} ...) belongs in a .wast script, not in a module's text",
                            tokens.text(tokens[pos]))));
        size_t close = first.close;
        if (tokens[close + 1].kind != TokenKind::eof)
            return tl::unexpected(
                tokens.error_at(tokens[close + 1].offset,
                                fmt::format("expected end of input after the module, found {}",
                                            tokens.describe(close + 1))));
        return encode_module(tokens, pos, close, name, options);
    }
    return encode_module(tokens, 0, tokens.size() - 1, {}, options);
}

} // namespace kiln::text
