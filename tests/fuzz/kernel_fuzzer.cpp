// libFuzzer target for the plugin kernel ABI (src/plugin/env.cpp, kernel.cpp): the input is a
// program of kernel calls (alloc, free, length, loads and stores, input, output, error, vars,
// config, logs, reset) with arguments of every kind, stale and forged handles included, run
// inside real plugin calls. The guest (kernel_fuzz.wat) exports the kernel functions it imports;
// its `run` calls the host function kiln:fuzz/drive, which calls them through the plugin's store
// as the guest would and checks each answer against a model of kernel memory, vars and the
// call's input, output and error. Then the call's outcome must be what the model predicts.
// Invariants: nothing crashes; memory in use is what the model holds and stays within the
// manifest's max_pages; alloc fails exactly past that budget; lengths, loads and the blocks the
// host makes (config, vars, the input) match the model; a new block never meets an older one.
//
// Built with -DKILN_FUZZ=ON under clang (see docs/testing.md); kiln-kernel-fuzz-replay runs the
// same entry point over the corpus in every build.
#include "fuzz_input.hpp"

#include <kiln/plugin.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace kiln;
using kiln::fuzz::FuzzInput;

constexpr uint64_t page = 65536;
constexpr uint32_t max_pages = 2;
/// What kernel memory may hold: the manifest's pages less the guest's one page of memory.
constexpr uint64_t kernel_budget = (max_pages - 1) * page;
constexpr uint64_t max_var_bytes = 64;
constexpr int max_calls = 4;
/// Lengths of the strings a program writes: keys and values short enough to fit max_var_bytes
/// a few times, messages longer.
constexpr size_t max_key = 12, max_value = 24, max_message = 80;
const std::map<std::string, std::string> config = {
    {"key", "value"}, {"empty", ""}, {"", "the empty key"}, {"long", std::string(200, 'x')}};
const char* const key_names[] = {"key", "empty", "", "long", "a", "bb"};
/// The operations of Driver::operation, and the byte that ends the call instead.
constexpr uint8_t op_count = 25;
constexpr uint8_t end_call = 0xff;
const char* const log_functions[] = {"log_trace", "log_debug", "log_info", "log_warn", "log_error"};

/// Kernel memory, vars and the call's registers as the ABI says they behave.
struct Model {
    std::map<uint64_t, std::string> blocks; ///< by handle
    uint64_t in_use = 0;
    uint64_t floor = 0; ///< every block since the last reset ends at or below this address
    uint64_t input = 0, input_len = 0, output = 0, output_len = 0, error = 0;
    std::map<std::string, std::string> vars;
    uint64_t var_bytes = 0;

    /// The block holding `address` and the offset in it.
    std::string* find(uint64_t address, uint64_t& offset) {
        auto it = blocks.upper_bound(address);
        if (it == blocks.begin()) return nullptr;
        --it;
        if (address - it->first >= it->second.size()) return nullptr;
        offset = address - it->first;
        return &it->second;
    }
    uint64_t length(uint64_t handle) const {
        auto it = blocks.find(handle);
        return it == blocks.end() ? 0 : it->second.size();
    }
    uint8_t load_u8(uint64_t address) {
        uint64_t off = 0;
        std::string* b = find(address, off);
        return b ? uint8_t((*b)[off]) : 0;
    }
    uint64_t load_u64(uint64_t address) {
        uint64_t off = 0, v = 0;
        std::string* b = find(address, off);
        if (!b || b->size() - off < 8) return 0;
        for (int i = 7; i >= 0; --i)
            v = v << 8 | uint8_t((*b)[off + i]);
        return v;
    }
    void store_u8(uint64_t address, uint8_t v) {
        uint64_t off = 0;
        if (std::string* b = find(address, off)) (*b)[off] = char(v);
    }
    void store_u64(uint64_t address, uint64_t v) {
        uint64_t off = 0;
        std::string* b = find(address, off);
        if (!b || b->size() - off < 8) return;
        for (int i = 0; i < 8; ++i)
            (*b)[off + i] = char(v >> (8 * i));
    }
    void free(uint64_t handle) {
        auto it = blocks.find(handle);
        if (it == blocks.end()) return;
        in_use -= it->second.size();
        blocks.erase(it);
    }
    /// What the host reads from a block it is handed, which it then frees.
    std::string take(uint64_t handle) {
        auto it = blocks.find(handle);
        std::string s = it == blocks.end() ? std::string() : it->second;
        free(handle);
        return s;
    }
    void reset_kernel() {
        blocks.clear();
        in_use = floor = 0;
        input = input_len = output = output_len = error = 0;
    }
};

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "kernel fuzzer: %s\n", what.c_str());
    std::abort();
}

void expect(bool ok, const std::string& what) {
    if (!ok) finding(what);
}

/// One input: the program, the model, and what the current call should end with.
struct Run {
    explicit Run(std::span<const uint8_t> bytes)
        : program(bytes), input(reinterpret_cast<const char*>(bytes.data()), bytes.size()) {}

    FuzzInput program;
    std::string_view input; ///< every call's input: the program's own bytes
    Model model;
    std::vector<uint64_t> seen; ///< handles the program has been given, live or not
    size_t log_lines = 0;
    // The current call.
    bool entered = false;
    bool trapped = false;
    int32_t rc = 0;
};
Run* current_run = nullptr;

/// The kernel functions as the guest exports them, called from inside its call.
class Abi {
public:
    explicit Abi(Caller& caller) : m_caller(caller) {}

    /// Calls `name`; a failure is returned for the caller to judge.
    Result<std::vector<Value>> call(const std::string& name, std::initializer_list<Value> args) {
        auto it = m_funcs.find(name);
        if (it == m_funcs.end()) {
            auto e = m_caller.get_export(name);
            if (!e || !e->func()) finding("the guest does not export " + name);
            it = m_funcs.emplace(name, *e->func()).first;
        }
        return it->second.call(m_caller.store(), args);
    }
    /// Calls `name`, which must not fail; its result, or 0 when it has none.
    uint64_t ok(const std::string& name, std::initializer_list<Value> args = {}) {
        auto r = call(name, args);
        if (!r) finding(name + " failed: " + r.error().message);
        return r->empty()                     ? 0
               : (*r)[0].type == ValType::i32 ? uint32_t((*r)[0].bits)
                                              : (*r)[0].bits;
    }

private:
    Caller& m_caller;
    std::map<std::string, Func> m_funcs;
};

Value i64(uint64_t v) {
    return Value::i64(int64_t(v));
}

/// Runs the program from where the last call stopped, until it ends this call.
class Driver {
public:
    Driver(Run& run, CurrentPlugin& plugin)
        : r(run), m(run.model), in(run.program), abi(plugin.caller()), plugin(plugin) {}

    /// The call's start: the input in kernel memory, nothing else.
    void start() {
        m.reset_kernel();
        uint64_t h = abi.ok("input_offset"), len = abi.ok("input_length");
        expect(len == r.input.size(), "input_length is not the input's size");
        if (len) {
            expect(h != 0 && plugin.read(h) == std::string(r.input),
                   "the input block does not hold the input");
            add_block(h, std::string(r.input));
        } else {
            expect(h == 0, "input_offset names a block for an empty input");
        }
        m.input = h;
        m.input_len = len;
        check_memory("at the start of the call");
    }

    /// Runs operations until the program ends the call (its code) or one traps (nullopt).
    std::optional<int32_t> run() {
        for (step = 0; !in.empty(); ++step) {
            uint8_t op = in.byte();
            if (op == end_call) return int32_t(in.below(3) == 0 ? in.byte() : 0);
            op %= op_count;
            if (!operation(op)) return std::nullopt;
            check_memory("after operation " + std::to_string(op));
        }
        return 0;
    }

private:
    std::string at() const { return " (step " + std::to_string(step) + ")"; }

    void check_memory(const std::string& when) {
        uint64_t used = abi.ok("memory_bytes");
        expect(used == m.in_use, "memory_bytes is " + std::to_string(used) + ", the model holds " +
                                     std::to_string(m.in_use) + ", " + when + at());
        expect(used <= kernel_budget, "kernel memory past max_pages " + when + at());
    }

    void remember(uint64_t h) {
        if (!h) return;
        if (r.seen.size() < 64)
            r.seen.push_back(h);
        else
            r.seen[h % 64] = h;
    }

    /// A handle: null, forged, or one the program was given (perhaps freed since).
    uint64_t pick() {
        switch (in.below(6)) {
        case 0: return 0;
        case 1: return in.u64();
        default: return r.seen.empty() ? in.byte() : r.seen[in.byte() % r.seen.size()];
        }
    }
    /// An address near a handle, often at its block's edges.
    uint64_t address() {
        uint64_t h = pick();
        return h + in.size_near(m.length(h) ? m.length(h) : 8);
    }

    /// Checks where a new block of `size` bytes at `h` lies, and models it holding `bytes`.
    void add_block(uint64_t h, std::string bytes) {
        uint64_t size = bytes.size();
        expect(h > m.floor, "a new block at " + std::to_string(h) +
                                " reuses addresses of an earlier block of this call" + at());
        expect(h + size > h && h + size < (uint64_t(1) << 62), "a block past the address limit");
        m.floor = h + size;
        m.in_use += size;
        m.blocks.emplace(h, std::move(bytes));
        remember(h);
    }

    /// alloc through the ABI: a zeroed block, or 0 exactly when the budget does not allow it.
    uint64_t alloc(uint64_t size) {
        uint64_t h = abi.ok("alloc", {i64(size)});
        bool fits = size != 0 && size <= kernel_budget - m.in_use;
        expect((h != 0) == fits, "alloc(" + std::to_string(size) + ") gave " + std::to_string(h) +
                                     " with " + std::to_string(m.in_use) + " bytes in use" + at());
        if (h) add_block(h, std::string(size, '\0'));
        return h;
    }

    /// A block holding `s`, written byte by byte through the ABI (0 when it does not fit).
    uint64_t put(std::string_view s) {
        uint64_t h = alloc(s.size());
        for (size_t i = 0; h && i < s.size(); ++i) {
            abi.ok("store_u8", {i64(h + i), Value::i32(uint8_t(s[i]))});
            m.store_u8(h + i, uint8_t(s[i]));
        }
        return h;
    }

    /// A handle to hand the host as a string: mostly a fresh block with a key name or input
    /// bytes, else any handle.
    uint64_t string_arg() {
        switch (in.below(4)) {
        case 0: return pick();
        case 1: return put(in.string(max_key));
        default: return put(key_names[in.below(std::size(key_names))]);
        }
    }

    /// A block the host made and returned, expected to hold `expected` (nullopt: none).
    void host_block(const std::string& fn, uint64_t h, std::optional<std::string> expected) {
        // The host allocates like alloc does: an empty value gives no block, nor does a full
        // budget.
        bool fits = expected && !expected->empty() && expected->size() <= kernel_budget - m.in_use;
        expect((h != 0) == fits, fn + " returned " + std::to_string(h) + at());
        if (!h) return;
        expect(plugin.read(h) == expected, fn + " returned a block with other bytes" + at());
        add_block(h, *expected);
    }

    bool operation(uint8_t op) {
        switch (op) {
        case 0:
        case 1: {
            uint64_t size = in.below(4) ? in.size_near(64) : in.size_near(kernel_budget - m.in_use);
            alloc(size);
            return true;
        }
        case 2: {
            uint64_t h = pick();
            abi.ok("free", {i64(h)});
            m.free(h);
            return true;
        }
        case 3:
        case 4: {
            uint64_t h = pick();
            const char* fn = op == 3 ? "length" : "length_unsafe";
            expect(abi.ok(fn, {i64(h)}) == m.length(h), std::string(fn) + " differs" + at());
            return true;
        }
        case 5:
        case 6: {
            uint64_t a = address();
            uint64_t got = op == 5 ? abi.ok("load_u8", {i64(a)}) : abi.ok("load_u64", {i64(a)});
            uint64_t want = op == 5 ? m.load_u8(a) : m.load_u64(a);
            expect(got == want, "a load at " + std::to_string(a) + " gave " + std::to_string(got) +
                                    ", not " + std::to_string(want) + at());
            return true;
        }
        case 7: {
            uint64_t a = address();
            uint8_t v = in.byte();
            abi.ok("store_u8", {i64(a), Value::i32(v)});
            m.store_u8(a, v);
            return true;
        }
        case 8: {
            uint64_t a = address(), v = in.u64();
            abi.ok("store_u64", {i64(a), i64(v)});
            m.store_u64(a, v);
            return true;
        }
        case 9:
            expect(abi.ok("input_length") == m.input_len, "input_length differs" + at());
            expect(abi.ok("input_offset") == m.input, "input_offset differs" + at());
            return true;
        case 10: {
            uint64_t off = in.size_near(m.input_len);
            uint64_t want = off < m.input_len ? m.load_u8(m.input + off) : 0;
            expect(abi.ok("input_load_u8", {i64(off)}) == want, "input_load_u8 differs" + at());
            return true;
        }
        case 11: {
            uint64_t off = in.size_near(m.input_len);
            uint64_t want =
                off < m.input_len && m.input_len - off >= 8 ? m.load_u64(m.input + off) : 0;
            expect(abi.ok("input_load_u64", {i64(off)}) == want, "input_load_u64 differs" + at());
            return true;
        }
        case 12: {
            uint64_t h = pick(), len = in.size_near(m.length(h));
            abi.ok("input_set", {i64(h), i64(len)});
            m.input = h;
            m.input_len = len;
            return true;
        }
        case 13:
        case 14: {
            uint64_t h = pick(), len = in.size_near(m.length(h));
            if (op == 14 && in.below(2)) len = m.length(h); // a valid output now and then
            abi.ok("output_set", {i64(h), i64(len)});
            m.output = h;
            m.output_len = len;
            return true;
        }
        case 15:
            expect(abi.ok("output_offset") == m.output, "output_offset differs" + at());
            expect(abi.ok("output_length") == m.output_len, "output_length differs" + at());
            expect(abi.ok("error_get") == m.error, "error_get differs" + at());
            return true;
        case 16: {
            uint64_t h = in.below(4) ? pick() : put(in.string(max_message));
            abi.ok("error_set", {i64(h)});
            m.error = h;
            return true;
        }
        case 17:
            if (in.below(4)) return true; // rarely: it ends most of what the program built
            abi.ok("reset");
            m.reset_kernel();
            return true;
        case 18:
        case 19: {
            bool vars = op == 19;
            uint64_t key = string_arg();
            std::string k = m.take(key);
            const char* fn = vars ? "var_get" : "config_get";
            uint64_t h = abi.ok(fn, {i64(key)});
            const auto& map = vars ? m.vars : config;
            auto it = map.find(k);
            host_block(fn, h, it == map.end() ? std::nullopt : std::optional(it->second));
            return true;
        }
        case 20:
        case 21: {
            uint64_t key = string_arg();
            uint64_t value = in.below(4) == 0 ? 0
                             : in.below(2)    ? pick()
                                              : put(in.string(max_value));
            std::string k = m.take(key);
            std::optional<std::string> v;
            if (value) v = m.take(value);
            auto it = m.vars.find(k);
            uint64_t old = it == m.vars.end() ? 0 : k.size() + it->second.size();
            uint64_t add = v ? k.size() + v->size() : 0;
            bool over = v && m.var_bytes - old + add > max_var_bytes;
            auto result = abi.call("var_set", {i64(key), i64(value)});
            if (over) {
                expect(!result && result.error().kind == ErrorKind::trap,
                       "var_set past max_var_bytes did not trap" + at());
                plugin.caller().trap(std::move(result.error()));
                return false;
            }
            expect(result.has_value(), "var_set failed within max_var_bytes" + at());
            m.var_bytes = m.var_bytes - old + add;
            if (v)
                m.vars[k] = *v;
            else if (it != m.vars.end())
                m.vars.erase(it);
            return true;
        }
        case 22: {
            uint64_t msg = string_arg();
            std::string text = m.take(msg);
            size_t before = r.log_lines;
            abi.ok(log_functions[in.below(5)], {i64(msg)});
            // A handle that is no block, or an empty one, logs nothing.
            if (text.empty()) expect(r.log_lines == before, "an empty log message logged" + at());
            return true;
        }
        case 23:
            expect(abi.ok("get_log_level") == 0, "get_log_level is not trace" + at());
            expect(abi.ok("http_status_code") == 0, "http_status_code without a request" + at());
            expect(abi.ok("http_headers") == 0, "http_headers without a request" + at());
            return true;
        default: // a store and a load at the edges of the newest block
            if (!m.blocks.empty()) {
                auto last = std::prev(m.blocks.end());
                uint64_t a = last->first + in.size_near(last->second.size());
                uint8_t v = in.byte();
                abi.ok("store_u8", {i64(a), Value::i32(v)});
                m.store_u8(a, v);
                expect(abi.ok("load_u8", {i64(a)}) == m.load_u8(a), "load after store" + at());
            }
            return true;
        }
    }

    Run& r;
    Model& m;
    FuzzInput& in;
    Abi abi;
    CurrentPlugin& plugin;
    size_t step = 0;
};

std::shared_ptr<const CompiledPlugin> compiled_plugin() {
    static const std::shared_ptr<const CompiledPlugin> compiled = [] {
        Manifest manifest;
        manifest.wasm.push_back({Manifest::WasmFile{KILN_KERNEL_FUZZ_MODULE}, {}, {}});
        manifest.max_pages = max_pages;
        manifest.max_var_bytes = max_var_bytes;
        manifest.config = config;
        PluginOptions options;
        options.log_level = "trace";
        options.log = [](std::string_view, LogLevel, std::string_view) {
            if (current_run) ++current_run->log_lines;
        };
        options.functions.push_back(PluginFunction{
            "kiln:fuzz", "drive", FuncType{{}, {ValType::i32}},
            [](CurrentPlugin& plugin, std::span<const Value>, std::span<Value> results) {
                Run& run = *current_run;
                run.entered = true;
                Driver driver(run, plugin);
                driver.start();
                std::optional<int32_t> rc = driver.run();
                run.trapped = !rc;
                run.rc = rc.value_or(0);
                results[0] = Value::i32(run.rc);
            }});
        auto c = CompiledPlugin::create(Engine(), std::move(manifest), std::move(options));
        if (!c) {
            std::fprintf(stderr, "kernel fuzzer: %s\n", c.error().message.c_str());
            std::exit(2);
        }
        return *c;
    }();
    return compiled;
}

/// Checks a call's outcome against the model, as call_outcome() defines it.
void check_outcome(const Run& r, const Result<std::string>& out) {
    const Model& m = r.model;
    auto fails_with = [&](ErrorKind kind, const char* what) {
        expect(!out && out.error().kind == kind,
               std::string("the call should have failed: ") + what +
                   (out ? "; it returned output" : "; it failed with: " + out.error().message));
    };
    if (!r.entered)
        finding("the guest's call never reached the host" +
                (out ? "" : ": " + out.error().message));
    if (r.trapped) return fails_with(ErrorKind::trap, "a kernel function trapped");
    if (m.error) return fails_with(ErrorKind::plugin, "the plugin set an error");
    if (r.rc != 0) return fails_with(ErrorKind::plugin, "the plugin returned non-zero");
    if (!m.output) {
        if (m.output_len) return fails_with(ErrorKind::plugin, "output_set with a null handle");
        return expect(out && out->empty(), "no output_set but output came");
    }
    auto it = m.blocks.find(m.output);
    if (it == m.blocks.end() || m.output_len > it->second.size())
        return fails_with(ErrorKind::plugin, "output_set names bytes outside any block");
    expect(out && *out == it->second.substr(0, m.output_len), "the output is not the block's");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The input is copied into kernel memory too; keep it well within the budget.
    if (size > kernel_budget / 4) return 0;
    auto plugin = Plugin::create(compiled_plugin());
    if (!plugin) finding("Plugin::create: " + plugin.error().message);
    Run run({data, size});
    current_run = &run;
    for (int call = 0; call < max_calls && (call == 0 || !run.program.empty()); ++call) {
        run.entered = run.trapped = false;
        run.rc = 0;
        auto out = plugin->call("run", run.input);
        check_outcome(run, out);
    }
    current_run = nullptr;
    return 0;
}
