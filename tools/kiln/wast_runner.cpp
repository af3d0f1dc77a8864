#include "wast_runner.hpp"

#include "base/file.hpp"
#include "base/text.hpp"
#include "cli_common.hpp"
#include "text/script.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace kiln::tool {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string_view trim(std::string_view s) {
    auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

template <typename T> std::optional<T> parse_unsigned(std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Skip list

Result<SkipList> SkipList::load(const fs::path& path) {
    KILN_TRY(bytes, read_file(path));
    std::istringstream in(std::string(bytes.begin(), bytes.end()));
    SkipList list;
    list.m_path = path.string();
    std::string text;
    size_t number = 0;
    while (std::getline(in, text)) {
        ++number;
        std::string_view line = trim(text);
        if (line.empty() || line[0] == '#') continue;
        auto key_end = std::min(line.find_first_of(" \t"), line.size());
        std::string_view key = line.substr(0, key_end);
        std::string_view reason = trim(line.substr(key_end));
        auto colon = key.rfind(':');
        std::optional<uint32_t> at;
        if (colon != std::string_view::npos && colon > 0)
            at = parse_unsigned<uint32_t>(key.substr(colon + 1));
        // A reason is required: the list is meant to shrink, and each entry says what to fix.
        if (!at || reason.empty())
            return make_error(
                ErrorKind::usage,
                fmt::format("{}:{}: expected \"FILE.wast:LINE  reason\"", list.m_path, number));
        list.m_entries.push_back(
            Entry{std::string(key.substr(0, colon)), *at, std::string(reason), number});
    }
    return list;
}

const std::string* SkipList::take(std::string_view file, uint32_t line) {
    for (auto& entry : m_entries) {
        if (entry.file == file && entry.line == line) {
            entry.used = true;
            return &entry.reason;
        }
    }
    return nullptr;
}

std::vector<std::string> SkipList::stale_entries(std::string_view file) const {
    std::vector<std::string> stale;
    for (const auto& entry : m_entries)
        if (entry.file == file && !entry.used)
            stale.push_back(fmt::format("{}:{}: {}:{} matches no failing assertion", m_path,
                                        entry.list_line, entry.file, entry.line));
    return stale;
}

namespace {

// ---------------------------------------------------------------------------------------------
// wast2json's JSON, read into the commands of a script: numbers are decimal bit patterns,
// references null or a number, and each module is a file beside the JSON (a .wasm, or a .wat
// for the text-format assertions).

using text::Script;
using text::ScriptAction;
using text::ScriptCommand;
using text::ScriptModule;
using text::ScriptValue;

std::optional<ValType> valtype_from_name(std::string_view name) {
    for (auto t : {ValType::i32, ValType::i64, ValType::f32, ValType::f64, ValType::v128,
                   ValType::funcref, ValType::externref})
        if (name == valtype_name(t)) return t;
    return std::nullopt;
}

/// A v128 of the JSON format: "lane_type" ("i8" ... "f64") and the lanes' bit patterns in
/// "value", lane 0 first; float lanes of an expected result may be NaN patterns.
Result<ScriptValue> json_v128(const json& j, bool expected_result) {
    const std::string lane_type = j.value("lane_type", std::string());
    const unsigned width = lane_type == "i8"                          ? 1
                           : lane_type == "i16"                       ? 2
                           : lane_type == "i32" || lane_type == "f32" ? 4
                           : lane_type == "i64" || lane_type == "f64" ? 8
                                                                      : 0;
    const json& lanes = j.contains("value") ? j.at("value") : json();
    auto bad = [&] {
        return make_error(ErrorKind::usage, fmt::format("unsupported v128 value {} in script",
                                                        escape_control(j.dump())));
    };
    if (!width || !lanes.is_array() || lanes.size() != 16 / width) return bad();
    ScriptValue v{ScriptValue::Kind::bits, ValType::v128, 0};
    v.lane_width = uint8_t(width);
    for (unsigned i = 0; i < lanes.size(); ++i) {
        if (!lanes[i].is_string()) return bad();
        const std::string& text = lanes[i].get_ref<const std::string&>();
        if (text == "nan:canonical" || text == "nan:arithmetic") {
            if (!expected_result || lane_type[0] != 'f') return bad();
            v.lanes[i] = text == "nan:canonical" ? ScriptValue::Kind::nan_canonical
                                                 : ScriptValue::Kind::nan_arithmetic;
            continue;
        }
        auto bits = parse_unsigned<uint64_t>(text);
        if (!bits || (width < 8 && *bits >> (width * 8))) return bad();
        std::memcpy(v.bytes.data() + i * width, &*bits, width); // little-endian host
    }
    return v;
}

Result<ScriptValue> json_value(const json& j, bool expected_result) {
    const std::string& type_name = j.at("type").get_ref<const std::string&>();
    auto type = valtype_from_name(type_name);
    if (type == ValType::v128) return json_v128(j, expected_result);
    std::string text = j.contains("value") ? j.at("value").get<std::string>() : std::string();
    auto bad = [&] {
        return make_error(ErrorKind::usage,
                          fmt::format("unsupported value {}:{} in script", type_name, text));
    };
    if (!type) return bad();
    ScriptValue v{ScriptValue::Kind::bits, *type, 0};
    if (!j.contains("value")) {
        if (!expected_result || !is_reftype(*type)) return bad();
        v.kind = ScriptValue::Kind::non_null;
        return v;
    }
    if (text == "nan:canonical" || text == "nan:arithmetic") {
        if (!expected_result || is_reftype(*type)) return bad();
        v.kind = text == "nan:canonical" ? ScriptValue::Kind::nan_canonical
                                         : ScriptValue::Kind::nan_arithmetic;
        return v;
    }
    if (is_reftype(*type) && text == "null") {
        v.kind = ScriptValue::Kind::null;
        return v;
    }
    if (*type == ValType::funcref) {
        // wast2json writes (ref.func) as a number, which names no function here: any non-null
        // reference matches it.
        if (!expected_result || !parse_unsigned<uint64_t>(text)) return bad();
        v.kind = ScriptValue::Kind::non_null;
        return v;
    }
    bool narrow = *type == ValType::i32 || *type == ValType::f32;
    auto bits = parse_unsigned<uint64_t>(text);
    if (!bits || (narrow && *bits > UINT32_MAX)) return bad();
    v.bits = *bits;
    return v;
}

Result<ScriptAction> json_action(const json& j) {
    ScriptAction a;
    const std::string& type = j.at("type").get_ref<const std::string&>();
    if (type == "invoke")
        a.kind = ScriptAction::Kind::invoke;
    else if (type == "get")
        a.kind = ScriptAction::Kind::get;
    else
        return make_error(ErrorKind::usage, fmt::format("unknown action \"{}\"", type));
    a.module = j.value("module", std::string());
    a.field = j.at("field").get<std::string>();
    for (const auto& arg : j.value("args", json::array())) {
        KILN_TRY(v, json_value(arg, false));
        a.args.push_back(v);
    }
    return a;
}

Result<ScriptModule> json_module(const json& cmd, const fs::path& dir) {
    ScriptModule m;
    std::string filename = cmd.at("filename").get<std::string>();
    auto bytes = read_file(dir / filename);
    if (!bytes) return tl::unexpected(bytes.error());
    m.form = cmd.value("module_type", std::string("binary")) == "text" ? ScriptModule::Form::quote
                                                                       : ScriptModule::Form::binary;
    m.name = cmd.value("name", std::string());
    m.label = filename;
    m.data.assign(bytes->begin(), bytes->end());
    return m;
}

Result<ScriptCommand> json_command(const json& cmd, const fs::path& dir) {
    using Kind = ScriptCommand::Kind;
    static const std::map<std::string, Kind, std::less<>> kinds = {
        {"module", Kind::module},
        {"register", Kind::register_},
        {"action", Kind::action},
        {"assert_return", Kind::assert_return},
        {"assert_trap", Kind::assert_trap},
        {"assert_exhaustion", Kind::assert_exhaustion},
        {"assert_malformed", Kind::assert_malformed},
        {"assert_invalid", Kind::assert_invalid},
        {"assert_unlinkable", Kind::assert_unlinkable},
        {"assert_uninstantiable", Kind::assert_uninstantiable},
    };
    const std::string& type = cmd.at("type").get_ref<const std::string&>();
    auto kind = kinds.find(type);
    if (kind == kinds.end())
        return make_error(ErrorKind::usage, fmt::format("unknown command type \"{}\"", type));
    ScriptCommand c;
    c.kind = kind->second;
    c.line = cmd.value("line", 0u);
    if (c.kind == Kind::register_) {
        c.text = cmd.at("as").get<std::string>();
        c.name = cmd.value("name", std::string());
        return c;
    }
    // assert_trap without an action: a module whose instantiation traps.
    if (c.kind == Kind::assert_trap && !cmd.contains("action"))
        c.kind = Kind::assert_uninstantiable;
    if (cmd.contains("action")) {
        KILN_TRY(a, json_action(cmd.at("action")));
        c.action = std::move(a);
    } else {
        KILN_TRY(m, json_module(cmd, dir));
        c.module = std::move(m);
    }
    // assert_trap lists the result types too, without values: only assert_return's count.
    if (c.kind == Kind::assert_return)
        for (const auto& e : cmd.value("expected", json::array())) {
            KILN_TRY(v, json_value(e, true));
            c.expected.push_back(v);
        }
    c.text = cmd.value("text", std::string());
    return c;
}

/// The value an argument stands for.
Value to_value(const ScriptValue& v) {
    if (v.kind == ScriptValue::Kind::null) return Value::null(v.type);
    if (v.type == ValType::v128) {
        V128 bits;
        std::memcpy(&bits, v.bytes.data(), 16);
        return Value::v128(bits);
    }
    if (v.type == ValType::externref) return Value::externref(externref_word(v.bits));
    return Value{v.type, v.bits};
}

/// "f32:1.5 (0x3fc00000)": floats show their bits, since NaN payloads and -0 matter.
std::string describe(Store& store, const Value& v) {
    std::string s = fmt::format("{}:{}", valtype_name(v.type), format_value(store, v));
    if (v.type == ValType::f32) s += fmt::format(" ({:#010x})", v.bits & 0xffffffffu);
    if (v.type == ValType::f64) s += fmt::format(" ({:#018x})", v.bits);
    return s;
}

std::string describe_values(Store& store, const std::vector<Value>& values) {
    std::string s;
    for (const auto& v : values)
        s += (s.empty() ? "" : ", ") + describe(store, v);
    return "(" + s + ")";
}

/// Whether float bits (of an f32 when `f32`) are the NaN a pattern asks for.
bool matches_nan(ScriptValue::Kind pattern, bool f32, uint64_t bits) {
    if (pattern == ScriptValue::Kind::nan_canonical) {
        if (f32) return (bits & 0x7fffffffu) == 0x7fc00000u;
        return (bits & 0x7fffffffffffffffu) == 0x7ff8000000000000u;
    }
    // Any quiet NaN: exponent all ones and the top mantissa bit set.
    if (f32) return (bits & 0x7fc00000u) == 0x7fc00000u;
    return (bits & 0x7ff8000000000000u) == 0x7ff8000000000000u;
}

/// The bits of lane `i` (of `width` bytes) of 16 bytes.
uint64_t lane_bits(const uint8_t* bytes, unsigned width, unsigned i) {
    uint64_t bits = 0;
    std::memcpy(&bits, bytes + i * width, width); // little-endian host
    return bits;
}

std::string describe_expected(Store& store, const ScriptValue& e) {
    std::string type = valtype_name(e.type);
    if (e.type == ValType::v128) {
        std::string lanes;
        for (unsigned i = 0; i < 16u / e.lane_width; ++i) {
            lanes += i ? "," : "";
            if (i < e.lanes.size() && e.lanes[i] != ScriptValue::Kind::bits)
                lanes += e.lanes[i] == ScriptValue::Kind::nan_canonical ? "nan:canonical"
                                                                        : "nan:arithmetic";
            else
                lanes += std::to_string(lane_bits(e.bytes.data(), e.lane_width, i));
        }
        return fmt::format("v128:{}-byte lanes:{}", e.lane_width, lanes);
    }
    switch (e.kind) {
    case ScriptValue::Kind::nan_canonical: return type + ":nan:canonical";
    case ScriptValue::Kind::nan_arithmetic: return type + ":nan:arithmetic";
    case ScriptValue::Kind::non_null: return type + ":non-null";
    case ScriptValue::Kind::null:
    case ScriptValue::Kind::bits: break;
    }
    return describe(store, to_value(e));
}

bool matches(const ScriptValue& e, const Value& got) {
    if (e.type != got.type) return false;
    if (got.type == ValType::v128) {
        const V128 v = got.as_v128();
        const auto* bytes = reinterpret_cast<const uint8_t*>(&v);
        for (unsigned i = 0; i < 16u / e.lane_width; ++i) {
            const uint64_t bits = lane_bits(bytes, e.lane_width, i);
            if (i < e.lanes.size() && e.lanes[i] != ScriptValue::Kind::bits) {
                if (!matches_nan(e.lanes[i], e.lane_width == 4, bits)) return false;
            } else if (bits != lane_bits(e.bytes.data(), e.lane_width, i)) {
                return false;
            }
        }
        return true;
    }
    uint64_t bits =
        got.type == ValType::i32 || got.type == ValType::f32 ? got.bits & 0xffffffffu : got.bits;
    switch (e.kind) {
    case ScriptValue::Kind::non_null: return !got.is_null();
    case ScriptValue::Kind::null: return got.is_null();
    case ScriptValue::Kind::nan_canonical:
    case ScriptValue::Kind::nan_arithmetic:
        return matches_nan(e.kind, got.type == ValType::f32, bits);
    case ScriptValue::Kind::bits: break;
    }
    return to_value(e).bits == bits;
}

/// The trap kinds that a spec trap message stands for; empty accepts any trap.
std::vector<TrapKind> trap_kinds_for(std::string_view text) {
    struct Mapping {
        std::string_view prefix;
        std::vector<TrapKind> kinds;
    };
    static const Mapping mappings[] = {
        {"unreachable", {TrapKind::unreachable}},
        {"out of bounds memory access", {TrapKind::memory_out_of_bounds}},
        {"out of bounds table access", {TrapKind::table_out_of_bounds}},
        // call_indirect past the end of the table: the spec's own wording for a table bound.
        {"undefined element", {TrapKind::table_out_of_bounds, TrapKind::uninitialized_element}},
        {"uninitialized element", {TrapKind::uninitialized_element}},
        {"integer divide by zero", {TrapKind::integer_divide_by_zero}},
        {"integer overflow", {TrapKind::integer_overflow}},
        {"invalid conversion to integer", {TrapKind::invalid_conversion}},
        {"indirect call type mismatch", {TrapKind::indirect_call_type_mismatch}},
        {"call stack exhausted", {TrapKind::stack_exhausted}},
        {"null", {TrapKind::null_reference}},
    };
    for (const auto& m : mappings)
        if (text.substr(0, m.prefix.size()) == m.prefix) return m.kinds;
    return {};
}

/// "trap: KIND: MESSAGE" for a trap, else "KIND: MESSAGE".
std::string describe_error(const Error& error) {
    if (error.kind == ErrorKind::trap && error.trap) return "trap: " + trap_text(*error.trap);
    return fmt::format("{}: {}", error_kind_name(error.kind), error.message);
}

// ---------------------------------------------------------------------------------------------
// One script

enum class Verdict { pass, fail, skip };

struct Check {
    Verdict verdict = Verdict::pass;
    std::string detail;
};

Check pass() {
    return {Verdict::pass, {}};
}
Check fail(std::string detail) {
    return {Verdict::fail, std::move(detail)};
}
Check skip(std::string reason) {
    return {Verdict::skip, std::move(reason)};
}

const char* command_name(ScriptCommand::Kind kind) {
    using Kind = ScriptCommand::Kind;
    switch (kind) {
    case Kind::module: return "module";
    case Kind::register_: return "register";
    case Kind::action: return "action";
    case Kind::assert_return: return "assert_return";
    case Kind::assert_trap: return "assert_trap";
    case Kind::assert_exhaustion: return "assert_exhaustion";
    case Kind::assert_malformed: return "assert_malformed";
    case Kind::assert_invalid: return "assert_invalid";
    case Kind::assert_unlinkable: return "assert_unlinkable";
    case Kind::assert_uninstantiable: return "assert_uninstantiable";
    }
    return "?";
}

/// The state of one script: a Store with the spectest module, the instances made so far by
/// name, and the latest one, which actions without a module name address.
class ScriptRun {
public:
    ScriptRun(const Engine& engine, const WastOptions& options, const Script& script,
              std::string display, std::string name)
        : m_options(options), m_script(script), m_display(std::move(display)),
          m_name(std::move(name)), m_engine(engine), m_store(engine) {
        // Scripts go on calling an instance after it trapped.
        m_store.set_reuse_after_trap(true);
    }

    Result<void> define_spectest();
    WastCounts run();

private:
    Check run_command(const ScriptCommand& cmd);
    Check module_command(const ScriptCommand& cmd);
    Check register_command(const ScriptCommand& cmd);
    Check action_command(const ScriptCommand& cmd);
    Check assert_return(const ScriptCommand& cmd);
    Check assert_trap(const ScriptCommand& cmd);
    Check assert_not_compiling(const ScriptCommand& cmd, ErrorKind expected);
    Check assert_not_instantiating(const ScriptCommand& cmd, ErrorKind expected);

    Result<Module> compile(const ScriptModule& module);
    tl::expected<Instance, std::string> instance_for(const std::string& module_name);
    /// Runs an action; the outer error is a script problem (unknown module or export).
    tl::expected<Result<std::vector<Value>>, std::string> perform(const ScriptAction& action);
    std::string action_text(const ScriptAction& action);

    const WastOptions& m_options;
    const Script& m_script;
    std::string m_display; ///< the script's path, as messages show it
    std::string m_name;    ///< the script's file name, as the skip list names it
    Engine m_engine;
    Store m_store;
    Linker m_linker;
    std::optional<Instance> m_current;
    /// Instances by $name; nullopt for a named module that failed, so later uses say why.
    std::map<std::string, std::optional<Instance>> m_named;
};

Result<void> ScriptRun::define_spectest() {
    struct Print {
        const char* name;
        std::vector<ValType> params;
    };
    const Print prints[] = {
        {"print", {}},
        {"print_i32", {ValType::i32}},
        {"print_i64", {ValType::i64}},
        {"print_f32", {ValType::f32}},
        {"print_f64", {ValType::f64}},
        {"print_i32_f32", {ValType::i32, ValType::f32}},
        {"print_f64_f64", {ValType::f64, ValType::f64}},
    };
    for (const auto& p : prints) {
        auto fn = [verbose = m_options.verbose, name = std::string(p.name)](
                      Caller& caller, std::span<const Value> args, std::span<Value>) {
            if (!verbose) return;
            std::string text;
            for (const Value& v : args)
                text += (text.empty() ? "" : ", ") + format_value(caller.store(), v);
            fmt::print("spectest.{}({})\n", name, text);
        };
        m_linker.func_new("spectest", p.name, FuncType{p.params, {}}, std::move(fn));
    }
    auto define_global = [&](const char* name, Value value) -> Result<void> {
        auto global = Global::create(m_store, GlobalType{value.type, false}, value);
        if (!global) return tl::unexpected(global.error());
        m_linker.define("spectest", name, *global);
        return {};
    };
    for (auto [name, value] :
         {std::pair{"global_i32", Value::i32(666)}, std::pair{"global_i64", Value::i64(666)},
          std::pair{"global_f32", Value::f32(666.6f)}, std::pair{"global_f64", Value::f64(666.6)}})
        if (auto defined = define_global(name, value); !defined) return defined;

    auto table = Table::create(m_store, TableType{ValType::funcref, {10, 20}},
                               Value::null(ValType::funcref));
    if (!table) return tl::unexpected(table.error());
    m_linker.define("spectest", "table", *table);
    auto memory = Memory::create(m_store, MemoryType{{1, 2}});
    if (!memory) return tl::unexpected(memory.error());
    m_linker.define("spectest", "memory", *memory);
    return {};
}

WastCounts ScriptRun::run() {
    WastCounts counts;
    for (const ScriptCommand& cmd : m_script.commands()) {
        Check check = run_command(cmd);
        const char* type = command_name(cmd.kind);
        if (check.verdict == Verdict::fail && m_options.skip_list) {
            if (const std::string* reason = m_options.skip_list->take(m_name, cmd.line)) {
                if (m_options.verbose)
                    fmt::print("{}:{}: {}: skipped ({}): {}\n", m_display, cmd.line, type, *reason,
                               check.detail);
                check = skip(*reason);
            }
        }
        switch (check.verdict) {
        case Verdict::pass: ++counts.passed; break;
        case Verdict::skip: ++counts.skipped; break;
        case Verdict::fail:
            ++counts.failed;
            if (m_options.verbose)
                fmt::print("{}:{}: {}: {}\n", m_display, cmd.line, type, check.detail);
            break;
        }
    }
    return counts;
}

Check ScriptRun::run_command(const ScriptCommand& cmd) {
    using Kind = ScriptCommand::Kind;
    switch (cmd.kind) {
    case Kind::module: return module_command(cmd);
    case Kind::register_: return register_command(cmd);
    case Kind::action: return action_command(cmd);
    case Kind::assert_return: return assert_return(cmd);
    case Kind::assert_trap:
    case Kind::assert_exhaustion: return assert_trap(cmd);
    case Kind::assert_invalid: return assert_not_compiling(cmd, ErrorKind::invalid);
    case Kind::assert_malformed: return assert_not_compiling(cmd, ErrorKind::malformed);
    case Kind::assert_unlinkable: return assert_not_instantiating(cmd, ErrorKind::unlinkable);
    case Kind::assert_uninstantiable:
        return assert_not_instantiating(cmd, ErrorKind::uninstantiable);
    }
    return fail("unknown command");
}

Result<Module> ScriptRun::compile(const ScriptModule& module) {
    auto bytes = m_script.encode(module);
    if (!bytes) return tl::unexpected(bytes.error());
    return Module::compile(m_engine, *bytes);
}

Check ScriptRun::module_command(const ScriptCommand& cmd) {
    const ScriptModule& module = *cmd.module;
    // Until this module is up, actions must not silently reach the previous one.
    m_current.reset();
    if (!module.name.empty()) m_named[module.name].reset();

    auto compiled = compile(module);
    if (!compiled)
        return fail(fmt::format("module {}: {}: {}", module.label,
                                error_kind_name(compiled.error().kind), compiled.error().message));
    auto instance = m_linker.instantiate(m_store, *compiled);
    if (!instance)
        return fail(fmt::format("module {}: {}: {}", module.label,
                                error_kind_name(instance.error().kind), instance.error().message));
    m_current = *instance;
    if (!module.name.empty()) m_named[module.name] = *instance;
    return pass();
}

Check ScriptRun::register_command(const ScriptCommand& cmd) {
    auto instance = instance_for(cmd.name);
    if (!instance) return fail(fmt::format("register \"{}\": {}", cmd.text, instance.error()));
    m_linker.define_instance(m_store, cmd.text, *instance);
    return pass();
}

tl::expected<Instance, std::string> ScriptRun::instance_for(const std::string& module_name) {
    if (!module_name.empty()) {
        auto it = m_named.find(module_name);
        if (it == m_named.end())
            return tl::unexpected(fmt::format("unknown module {}", module_name));
        if (!it->second)
            return tl::unexpected(fmt::format("module {} failed to load", module_name));
        return *it->second;
    }
    if (!m_current) return tl::unexpected(std::string("no module is loaded"));
    return *m_current;
}

std::string ScriptRun::action_text(const ScriptAction& action) {
    std::string args;
    for (const ScriptValue& arg : action.args)
        args += (args.empty() ? "" : ", ") + describe(m_store, to_value(arg));
    std::string target = action.module.empty() ? std::string() : action.module + ".";
    if (action.kind == ScriptAction::Kind::get)
        return fmt::format("get {}{}", target, action.field);
    return fmt::format("{}{}({})", target, action.field, args);
}

tl::expected<Result<std::vector<Value>>, std::string>
ScriptRun::perform(const ScriptAction& action) {
    auto instance = instance_for(action.module);
    if (!instance) return tl::unexpected(instance.error());
    if (action.kind == ScriptAction::Kind::get) {
        auto global = instance->get_global(m_store, action.field);
        if (!global) return tl::unexpected(fmt::format("no exported global \"{}\"", action.field));
        auto value = global->get(m_store);
        if (!value) return Result<std::vector<Value>>(tl::unexpected(value.error()));
        return Result<std::vector<Value>>(std::vector{*value});
    }
    auto func = instance->get_func(m_store, action.field);
    if (!func) return tl::unexpected(fmt::format("no exported function \"{}\"", action.field));
    std::vector<Value> args;
    for (const ScriptValue& arg : action.args)
        args.push_back(to_value(arg));
    return func->call(m_store, args);
}

Check ScriptRun::action_command(const ScriptCommand& cmd) {
    const ScriptAction& action = *cmd.action;
    auto outcome = perform(action);
    if (!outcome) return fail(fmt::format("{}: {}", action_text(action), outcome.error()));
    if (!*outcome)
        return fail(fmt::format("{}: {}", action_text(action), describe_error(outcome->error())));
    return pass();
}

Check ScriptRun::assert_return(const ScriptCommand& cmd) {
    const ScriptAction& action = *cmd.action;
    auto outcome = perform(action);
    if (!outcome) return fail(fmt::format("{}: {}", action_text(action), outcome.error()));
    if (!*outcome)
        return fail(fmt::format("{}: {}", action_text(action), describe_error(outcome->error())));
    const auto& results = **outcome;
    bool ok = results.size() == cmd.expected.size();
    for (size_t i = 0; ok && i < results.size(); ++i)
        ok = matches(cmd.expected[i], results[i]);
    if (ok) return pass();
    std::string want;
    for (const auto& e : cmd.expected)
        want += (want.empty() ? "" : ", ") + describe_expected(m_store, e);
    return fail(fmt::format("{}: expected ({}), got {}", action_text(action), want,
                            describe_values(m_store, results)));
}

Check ScriptRun::assert_trap(const ScriptCommand& cmd) {
    const ScriptAction& action = *cmd.action;
    auto outcome = perform(action);
    if (!outcome) return fail(fmt::format("{}: {}", action_text(action), outcome.error()));
    if (*outcome)
        return fail(fmt::format("{}: expected trap \"{}\", got {}", action_text(action), cmd.text,
                                describe_values(m_store, **outcome)));
    const Error& error = outcome->error();
    auto kinds = trap_kinds_for(cmd.text);
    bool expected =
        error.kind == ErrorKind::trap && error.trap &&
        (kinds.empty() || std::find(kinds.begin(), kinds.end(), error.trap->kind) != kinds.end());
    if (!expected)
        return fail(fmt::format("{}: expected trap \"{}\", got {}", action_text(action), cmd.text,
                                describe_error(error)));
    return pass();
}

Check ScriptRun::assert_not_compiling(const ScriptCommand& cmd, ErrorKind expected) {
    const ScriptModule& module = *cmd.module;
    auto compiled = compile(module);
    if (compiled)
        return fail(fmt::format("module {}: expected {} (\"{}\"), but it compiled", module.label,
                                error_kind_name(expected), cmd.text));
    if (compiled.error().kind != expected)
        return fail(fmt::format("module {}: expected {} (\"{}\"), got {}: {}", module.label,
                                error_kind_name(expected), cmd.text,
                                error_kind_name(compiled.error().kind), compiled.error().message));
    return pass();
}

Check ScriptRun::assert_not_instantiating(const ScriptCommand& cmd, ErrorKind expected) {
    const ScriptModule& module = *cmd.module;
    auto compiled = compile(module);
    if (!compiled)
        return fail(fmt::format("module {}: expected {} (\"{}\"), but it did not compile: {}: {}",
                                module.label, error_kind_name(expected), cmd.text,
                                error_kind_name(compiled.error().kind), compiled.error().message));
    auto instance = m_linker.instantiate(m_store, *compiled);
    if (instance)
        return fail(fmt::format("module {}: expected {} (\"{}\"), but it instantiated",
                                module.label, error_kind_name(expected), cmd.text));
    if (instance.error().kind != expected)
        return fail(fmt::format("module {}: expected {} (\"{}\"), got {}: {}", module.label,
                                error_kind_name(expected), cmd.text,
                                error_kind_name(instance.error().kind), instance.error().message));
    return pass();
}

/// The commands of wast2json's JSON output (a script converted by wabt, kept for
/// compatibility), `bytes` read from `path`: its modules are read from the files beside it.
/// `source` becomes the .wast it names, which its line numbers refer to.
Result<Script> script_from_json(const fs::path& path, const std::vector<uint8_t>& bytes,
                                std::string& source) {
    json doc;
    try {
        doc = json::parse(bytes);
    } catch (const json::exception& e) {
        return make_error(ErrorKind::malformed,
                          fmt::format("{}: not a wast2json script: {}", path.string(), e.what()));
    }
    if (!doc.is_object() || !doc.contains("commands") || !doc["commands"].is_array())
        return make_error(
            ErrorKind::malformed,
            fmt::format("{}: not a wast2json script: no command list", path.string()));
    if (doc.contains("source_filename") && doc["source_filename"].is_string())
        source = doc["source_filename"].get<std::string>();
    std::vector<ScriptCommand> commands;
    for (const auto& cmd : doc["commands"]) {
        Result<ScriptCommand> command = make_error(ErrorKind::usage, "");
        try {
            command = json_command(cmd, path.parent_path());
        } catch (const json::exception& e) {
            command = make_error(ErrorKind::malformed,
                                 fmt::format("unexpected script command: {}", e.what()));
        }
        if (!command)
            return make_error(command.error().kind,
                              fmt::format("{}: line {}: {}", path.string(),
                                          cmd.is_object() ? cmd.value("line", 0u) : 0u,
                                          command.error().message));
        commands.push_back(std::move(*command));
    }
    return Script(std::move(commands));
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Runner

WastRunner::WastRunner(WastOptions options) : m_options(options) {}

Result<WastCounts> WastRunner::run_file(const fs::path& path) {
    // Read first, so that a script that cannot be read fails alike in both forms.
    KILN_TRY(bytes, read_file(path));
    std::string display = path.string();
    std::optional<Script> script;
    if (path.extension() == ".json") {
        auto loaded = script_from_json(path, bytes, display);
        if (!loaded) return tl::unexpected(loaded.error());
        script.emplace(std::move(*loaded));
    } else {
        auto parsed = Script::parse(std::string(bytes.begin(), bytes.end()), path.string());
        if (!parsed) return tl::unexpected(parsed.error());
        script.emplace(std::move(*parsed));
    }
    std::string name = fs::path(display).filename().string();

    ScriptRun run(m_engine, m_options, *script, display, name);
    if (auto defined = run.define_spectest(); !defined)
        return make_error(
            defined.error().kind,
            fmt::format("{}: cannot set up spectest: {}", path.string(), defined.error().message));
    WastCounts counts = run.run();
    if (m_options.skip_list)
        for (const auto& stale : m_options.skip_list->stale_entries(name))
            fmt::print(stderr, "warning: stale skip-list entry: {}\n", stale);
    return counts;
}

} // namespace kiln::tool
