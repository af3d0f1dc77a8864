#include "wast_runner.hpp"

#include "cli_common.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

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
    std::ifstream in(path);
    if (!in)
        return make_error(ErrorKind::io, fmt::format("{}: cannot open skip list: {}", path.string(),
                                                     std::strerror(errno)));
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
// wast2json

/// A private directory for wast2json's output, removed with everything in it.
class TempDir {
public:
    static Result<TempDir> create() {
        std::error_code ec;
        std::string pattern = (fs::temp_directory_path(ec) / "kiln-wast-XXXXXX").string();
        if (ec || !::mkdtemp(pattern.data()))
            return make_error(ErrorKind::io, fmt::format("cannot create a temporary directory: {}",
                                                         std::strerror(errno)));
        return TempDir(pattern);
    }
    TempDir(TempDir&& other) noexcept : m_path(std::move(other.m_path)) { other.m_path.clear(); }
    TempDir& operator=(TempDir&&) = delete;
    ~TempDir() {
        std::error_code ec;
        if (!m_path.empty()) fs::remove_all(m_path, ec);
    }
    const fs::path& path() const { return m_path; }

private:
    explicit TempDir(fs::path path) : m_path(std::move(path)) {}
    fs::path m_path;
};

/// Converts a .wast script with wabt's wast2json; returns the path of the .json it wrote.
Result<fs::path> run_wast2json(const fs::path& wast, const fs::path& out_dir) {
    fs::path json_path = out_dir / (wast.stem().string() + ".json");
    // The proposals Kiln implements past 2.0 (SIMD is on by default in wabt).
    std::vector<std::string> args = {
        "wast2json", "--enable-tail-call", "--enable-extended-const", wast.string(),
        "-o",        json_path.string()};
    std::vector<char*> argv;
    for (auto& arg : args)
        argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
    if (rc == ENOENT)
        return make_error(ErrorKind::io,
                          fmt::format("{}: wast2json was not found in PATH; install wabt "
                                      "(apt-get install wabt) or pass wast2json's .json output",
                                      wast.string()));
    if (rc != 0)
        return make_error(ErrorKind::io, fmt::format("{}: cannot run wast2json: {}", wast.string(),
                                                     std::strerror(rc)));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return make_error(ErrorKind::io, fmt::format("{}: waiting for wast2json: {}",
                                                         wast.string(), std::strerror(errno)));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return make_error(
            ErrorKind::malformed,
            fmt::format("{}: wast2json could not convert it (status {})", wast.string(), status));
    return json_path;
}

// ---------------------------------------------------------------------------------------------
// Values of the JSON format: numbers are decimal bit patterns, references null or a number.

std::optional<ValType> valtype_from_name(std::string_view name) {
    for (auto t : {ValType::i32, ValType::i64, ValType::f32, ValType::f64, ValType::v128,
                   ValType::funcref, ValType::externref})
        if (name == valtype_name(t)) return t;
    return std::nullopt;
}

/// The bytes of a v128 lane type of the JSON format ("i8" ... "f64"), or 0.
unsigned lane_bytes(std::string_view lane_type) {
    if (lane_type == "i8") return 1;
    if (lane_type == "i16") return 2;
    if (lane_type == "i32" || lane_type == "f32") return 4;
    if (lane_type == "i64" || lane_type == "f64") return 8;
    return 0;
}

/// A v128 of the JSON format: "lane_type" and the lanes' bit patterns in "value", lane 0 first.
Result<Value> json_v128(const json& j) {
    const std::string& lane_type = j.at("lane_type").get_ref<const std::string&>();
    const json& lanes = j.at("value");
    const unsigned width = lane_bytes(lane_type);
    if (!width || !lanes.is_array() || lanes.size() != 16 / width)
        return make_error(ErrorKind::usage,
                          fmt::format("unsupported v128 value {} in script", j.dump()));
    uint8_t bytes[16] = {};
    for (unsigned i = 0; i < lanes.size(); ++i) {
        auto bits = parse_unsigned<uint64_t>(lanes[i].get_ref<const std::string&>());
        if (!bits || (width < 8 && *bits >> (width * 8)))
            return make_error(ErrorKind::usage,
                              fmt::format("unsupported v128 value {} in script", j.dump()));
        std::memcpy(bytes + i * width, &*bits, width); // little-endian host
    }
    V128 v;
    std::memcpy(&v, bytes, 16);
    return Value::v128(v);
}

Result<Value> json_value(const json& j) {
    const std::string& type_name = j.at("type").get_ref<const std::string&>();
    if (type_name == "v128") return json_v128(j);
    const std::string& text = j.at("value").get_ref<const std::string&>();
    auto type = valtype_from_name(type_name);
    auto bad = [&] {
        return make_error(ErrorKind::usage,
                          fmt::format("unsupported value {}:{} in script", type_name, text));
    };
    if (!type) return bad();
    switch (*type) {
    case ValType::i32:
    case ValType::f32:
        if (auto bits = parse_unsigned<uint32_t>(text)) return Value{*type, *bits};
        return bad();
    case ValType::i64:
    case ValType::f64:
        if (auto bits = parse_unsigned<uint64_t>(text)) return Value{*type, *bits};
        return bad();
    case ValType::funcref:
    case ValType::externref:
        if (text == "null") return Value::null(*type);
        if (*type == ValType::externref)
            if (auto n = parse_unsigned<uint64_t>(text))
                return Value::externref(externref_word(*n));
        return bad();
    case ValType::v128: break; // json_v128
    }
    return bad();
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

std::string describe_expected(Store& store, const json& e) {
    const std::string& type = e.at("type").get_ref<const std::string&>();
    if (type == "v128") {
        std::string lanes;
        for (const auto& lane : e.at("value"))
            lanes += (lanes.empty() ? "" : ",") + lane.get<std::string>();
        return fmt::format("v128:{}x{}:{}", e.at("lane_type").get<std::string>(),
                           e.at("value").size(), lanes);
    }
    if (!e.contains("value"))
        return type + (type == "funcref" || type == "externref" ? ":non-null" : ":any");
    const std::string& text = e.at("value").get_ref<const std::string&>();
    if (text.rfind("nan:", 0) == 0) return type + ":" + text;
    auto value = json_value(e);
    return value ? describe(store, *value) : type + ":" + text;
}

/// Whether float bits (of an f32 when `f32`) match "nan:canonical" or "nan:arithmetic".
bool matches_nan(std::string_view text, bool f32, uint64_t bits) {
    if (text == "nan:canonical") {
        if (f32) return (bits & 0x7fffffffu) == 0x7fc00000u;
        return (bits & 0x7fffffffffffffffu) == 0x7ff8000000000000u;
    }
    // nan:arithmetic is any quiet NaN: exponent all ones and the top mantissa bit set.
    if (f32) return (bits & 0x7fc00000u) == 0x7fc00000u;
    return (bits & 0x7ff8000000000000u) == 0x7ff8000000000000u;
}

/// A v128 result against its expected lanes, which may be NaN patterns for float lanes.
bool matches_v128(const json& e, const Value& got) {
    const std::string& lane_type = e.at("lane_type").get_ref<const std::string&>();
    const json& lanes = e.at("value");
    const unsigned width = lane_bytes(lane_type);
    if (!width || !lanes.is_array() || lanes.size() != 16 / width) return false;
    const V128 v = got.as_v128();
    for (unsigned i = 0; i < lanes.size(); ++i) {
        uint64_t bits = 0;
        std::memcpy(&bits, reinterpret_cast<const uint8_t*>(&v) + i * width, width);
        const std::string& text = lanes[i].get_ref<const std::string&>();
        if (text.rfind("nan:", 0) == 0) {
            if (!matches_nan(text, width == 4, bits)) return false;
            continue;
        }
        auto want = parse_unsigned<uint64_t>(text);
        if (!want || *want != bits) return false;
    }
    return true;
}

bool matches(const json& e, const Value& got) {
    if (e.at("type").get_ref<const std::string&>() != valtype_name(got.type)) return false;
    if (got.type == ValType::v128) return matches_v128(e, got);
    uint64_t bits =
        got.type == ValType::i32 || got.type == ValType::f32 ? got.bits & 0xffffffffu : got.bits;
    if (!e.contains("value")) return !is_reftype(got.type) || !got.is_null();
    const std::string& text = e.at("value").get_ref<const std::string&>();
    if (text.rfind("nan:", 0) == 0) return matches_nan(text, got.type == ValType::f32, bits);
    auto want = json_value(e);
    return want && want->bits == bits;
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

/// The state of one script: a Store with the spectest module, the instances made so far by
/// name, and the latest one, which actions without a module name address.
class ScriptRun {
public:
    ScriptRun(const Engine& engine, const WastOptions& options, std::string display,
              std::string name, fs::path dir)
        : m_options(options), m_display(std::move(display)), m_name(std::move(name)),
          m_dir(std::move(dir)), m_engine(engine), m_store(engine) {
        // Scripts go on calling an instance after it trapped.
        m_store.set_reuse_after_trap(true);
    }

    Result<void> define_spectest();
    WastCounts run(const json& commands);

private:
    Check run_command(const json& cmd);
    Check module_command(const json& cmd);
    Check register_command(const json& cmd);
    Check action_command(const json& cmd);
    Check assert_return(const json& cmd);
    Check assert_trap(const json& cmd);
    Check assert_not_compiling(const json& cmd, ErrorKind expected);
    Check assert_not_instantiating(const json& cmd, ErrorKind expected);

    Result<Module> compile_file(const json& cmd);
    tl::expected<Instance, std::string> instance_for(const json& action);
    /// Runs an action; the outer error is a script problem (unknown module or export).
    tl::expected<Result<std::vector<Value>>, std::string> perform(const json& action);
    std::string action_text(const json& action);

    const WastOptions& m_options;
    std::string m_display; ///< the script's path, as messages show it
    std::string m_name;    ///< the script's file name, as the skip list names it
    fs::path m_dir;        ///< where the script's modules are
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

WastCounts ScriptRun::run(const json& commands) {
    WastCounts counts;
    for (const auto& cmd : commands) {
        uint32_t line = cmd.value("line", 0u);
        std::string type = cmd.value("type", std::string("?"));
        Check check;
        try {
            check = run_command(cmd);
        } catch (const json::exception& e) {
            check = fail(fmt::format("unexpected script command: {}", e.what()));
        }
        if (check.verdict == Verdict::fail && m_options.skip_list) {
            if (const std::string* reason = m_options.skip_list->take(m_name, line)) {
                if (m_options.verbose)
                    fmt::print("{}:{}: {}: skipped ({}): {}\n", m_display, line, type, *reason,
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
                fmt::print("{}:{}: {}: {}\n", m_display, line, type, check.detail);
            break;
        }
    }
    return counts;
}

Check ScriptRun::run_command(const json& cmd) {
    const std::string& type = cmd.at("type").get_ref<const std::string&>();
    if (type == "module") return module_command(cmd);
    if (type == "register") return register_command(cmd);
    if (type == "action") return action_command(cmd);
    if (type == "assert_return") return assert_return(cmd);
    if (type == "assert_trap" || type == "assert_exhaustion") return assert_trap(cmd);
    if (type == "assert_invalid") return assert_not_compiling(cmd, ErrorKind::invalid);
    if (type == "assert_malformed") return assert_not_compiling(cmd, ErrorKind::malformed);
    if (type == "assert_unlinkable") return assert_not_instantiating(cmd, ErrorKind::unlinkable);
    if (type == "assert_uninstantiable")
        return assert_not_instantiating(cmd, ErrorKind::uninstantiable);
    return fail(fmt::format("unknown command type \"{}\"", type));
}

Result<Module> ScriptRun::compile_file(const json& cmd) {
    auto bytes = read_file(m_dir / cmd.at("filename").get<std::string>());
    if (!bytes) return tl::unexpected(bytes.error());
    return Module::compile(m_engine, *bytes);
}

Check ScriptRun::module_command(const json& cmd) {
    const std::string filename = cmd.at("filename").get<std::string>();
    std::string name = cmd.value("name", std::string());
    // Until this module is up, actions must not silently reach the previous one.
    m_current.reset();
    if (!name.empty()) m_named[name].reset();

    auto compiled = compile_file(cmd);
    if (!compiled)
        return fail(fmt::format("module {}: {}: {}", filename,
                                error_kind_name(compiled.error().kind), compiled.error().message));
    auto instance = m_linker.instantiate(m_store, *compiled);
    if (!instance)
        return fail(fmt::format("module {}: {}: {}", filename,
                                error_kind_name(instance.error().kind), instance.error().message));
    m_current = *instance;
    if (!name.empty()) m_named[name] = *instance;
    return pass();
}

Check ScriptRun::register_command(const json& cmd) {
    const std::string& as = cmd.at("as").get_ref<const std::string&>();
    json action = json::object();
    if (cmd.contains("name")) action["module"] = cmd["name"];
    auto instance = instance_for(action);
    if (!instance) return fail(fmt::format("register \"{}\": {}", as, instance.error()));
    m_linker.define_instance(m_store, as, *instance);
    return pass();
}

tl::expected<Instance, std::string> ScriptRun::instance_for(const json& action) {
    if (action.contains("module")) {
        const std::string& name = action["module"].get_ref<const std::string&>();
        auto it = m_named.find(name);
        if (it == m_named.end()) return tl::unexpected(fmt::format("unknown module {}", name));
        if (!it->second) return tl::unexpected(fmt::format("module {} failed to load", name));
        return *it->second;
    }
    if (!m_current) return tl::unexpected(std::string("no module is loaded"));
    return *m_current;
}

std::string ScriptRun::action_text(const json& action) {
    std::string args;
    for (const auto& arg : action.value("args", json::array())) {
        auto value = json_value(arg);
        args += (args.empty() ? "" : ", ") + (value ? describe(m_store, *value) : arg.dump());
    }
    std::string target =
        action.contains("module") ? action["module"].get<std::string>() + "." : std::string();
    if (action.at("type") == "get")
        return fmt::format("get {}{}", target, action.at("field").get<std::string>());
    return fmt::format("{}{}({})", target, action.at("field").get<std::string>(), args);
}

tl::expected<Result<std::vector<Value>>, std::string> ScriptRun::perform(const json& action) {
    auto instance = instance_for(action);
    if (!instance) return tl::unexpected(instance.error());
    const std::string& field = action.at("field").get_ref<const std::string&>();
    const std::string& type = action.at("type").get_ref<const std::string&>();
    if (type == "get") {
        auto global = instance->get_global(m_store, field);
        if (!global) return tl::unexpected(fmt::format("no exported global \"{}\"", field));
        auto value = global->get(m_store);
        if (!value) return Result<std::vector<Value>>(tl::unexpected(value.error()));
        return Result<std::vector<Value>>(std::vector{*value});
    }
    if (type != "invoke") return tl::unexpected(fmt::format("unknown action \"{}\"", type));
    auto func = instance->get_func(m_store, field);
    if (!func) return tl::unexpected(fmt::format("no exported function \"{}\"", field));
    std::vector<Value> args;
    for (const auto& arg : action.value("args", json::array())) {
        auto value = json_value(arg);
        if (!value) return tl::unexpected(value.error().message);
        args.push_back(*value);
    }
    return func->call(m_store, args);
}

Check ScriptRun::action_command(const json& cmd) {
    const json& action = cmd.at("action");
    auto outcome = perform(action);
    if (!outcome) return fail(fmt::format("{}: {}", action_text(action), outcome.error()));
    if (!*outcome)
        return fail(fmt::format("{}: {}", action_text(action), describe_error(outcome->error())));
    return pass();
}

Check ScriptRun::assert_return(const json& cmd) {
    const json& action = cmd.at("action");
    auto outcome = perform(action);
    if (!outcome) return fail(fmt::format("{}: {}", action_text(action), outcome.error()));
    if (!*outcome)
        return fail(fmt::format("{}: {}", action_text(action), describe_error(outcome->error())));
    const auto& results = **outcome;
    const json& expected = cmd.at("expected");
    bool ok = results.size() == expected.size();
    for (size_t i = 0; ok && i < results.size(); ++i)
        ok = matches(expected[i], results[i]);
    if (ok) return pass();
    std::string want;
    for (const auto& e : expected)
        want += (want.empty() ? "" : ", ") + describe_expected(m_store, e);
    return fail(fmt::format("{}: expected ({}), got {}", action_text(action), want,
                            describe_values(m_store, results)));
}

Check ScriptRun::assert_trap(const json& cmd) {
    const std::string& text = cmd.at("text").get_ref<const std::string&>();
    if (!cmd.contains("action")) return assert_not_instantiating(cmd, ErrorKind::uninstantiable);
    const json& action = cmd.at("action");
    auto outcome = perform(action);
    if (!outcome) return fail(fmt::format("{}: {}", action_text(action), outcome.error()));
    if (*outcome)
        return fail(fmt::format("{}: expected trap \"{}\", got {}", action_text(action), text,
                                describe_values(m_store, **outcome)));
    const Error& error = outcome->error();
    auto kinds = trap_kinds_for(text);
    bool expected =
        error.kind == ErrorKind::trap && error.trap &&
        (kinds.empty() || std::find(kinds.begin(), kinds.end(), error.trap->kind) != kinds.end());
    if (!expected)
        return fail(fmt::format("{}: expected trap \"{}\", got {}", action_text(action), text,
                                describe_error(error)));
    return pass();
}

Check ScriptRun::assert_not_compiling(const json& cmd, ErrorKind expected) {
    if (cmd.value("module_type", std::string("binary")) == "text")
        return skip("text-format module: the text parser is not part of the engine");
    const std::string& text = cmd.at("text").get_ref<const std::string&>();
    const std::string filename = cmd.at("filename").get<std::string>();
    auto compiled = compile_file(cmd);
    if (compiled)
        return fail(fmt::format("module {}: expected {} (\"{}\"), but it compiled", filename,
                                error_kind_name(expected), text));
    if (compiled.error().kind != expected)
        return fail(fmt::format("module {}: expected {} (\"{}\"), got {}: {}", filename,
                                error_kind_name(expected), text,
                                error_kind_name(compiled.error().kind), compiled.error().message));
    return pass();
}

Check ScriptRun::assert_not_instantiating(const json& cmd, ErrorKind expected) {
    const std::string& text = cmd.at("text").get_ref<const std::string&>();
    const std::string filename = cmd.at("filename").get<std::string>();
    auto compiled = compile_file(cmd);
    if (!compiled)
        return fail(fmt::format("module {}: expected {} (\"{}\"), but it did not compile: {}: {}",
                                filename, error_kind_name(expected), text,
                                error_kind_name(compiled.error().kind), compiled.error().message));
    auto instance = m_linker.instantiate(m_store, *compiled);
    if (instance)
        return fail(fmt::format("module {}: expected {} (\"{}\"), but it instantiated", filename,
                                error_kind_name(expected), text));
    if (instance.error().kind != expected)
        return fail(fmt::format("module {}: expected {} (\"{}\"), got {}: {}", filename,
                                error_kind_name(expected), text,
                                error_kind_name(instance.error().kind), instance.error().message));
    return pass();
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Runner

WastRunner::WastRunner(WastOptions options) : m_options(options) {}

Result<WastCounts> WastRunner::run_file(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return make_error(ErrorKind::io, fmt::format("{}: no such file", path.string()));
    std::optional<TempDir> temp;
    fs::path json_path = path;
    if (path.extension() == ".wast") {
        auto dir = TempDir::create();
        if (!dir) return tl::unexpected(dir.error());
        temp.emplace(std::move(*dir));
        auto converted = run_wast2json(path, temp->path());
        if (!converted) return tl::unexpected(converted.error());
        json_path = *converted;
    } else if (path.extension() != ".json") {
        return make_error(
            ErrorKind::usage,
            fmt::format("{}: expected a .wast script or wast2json's .json output", path.string()));
    }

    json script;
    try {
        std::ifstream in(json_path);
        script = json::parse(in);
    } catch (const json::exception& e) {
        return make_error(ErrorKind::malformed,
                          fmt::format("{}: not a wast2json script: {}", path.string(), e.what()));
    }
    if (!script.is_object() || !script.contains("commands") || !script["commands"].is_array())
        return make_error(
            ErrorKind::malformed,
            fmt::format("{}: not a wast2json script: no command list", path.string()));

    // Line numbers refer to the .wast, so a .json names its source in messages.
    std::string display = path.string();
    if (path.extension() == ".json" && script.contains("source_filename"))
        display = script["source_filename"].get<std::string>();
    std::string name = fs::path(display).filename().string();

    ScriptRun run(m_engine, m_options, display, name, json_path.parent_path());
    if (auto defined = run.define_spectest(); !defined)
        return make_error(
            defined.error().kind,
            fmt::format("{}: cannot set up spectest: {}", path.string(), defined.error().message));
    WastCounts counts = run.run(script["commands"]);
    if (m_options.skip_list)
        for (const auto& stale : m_options.skip_list->stale_entries(name))
            fmt::print(stderr, "warning: stale skip-list entry: {}\n", stale);
    return counts;
}

} // namespace kiln::tool
