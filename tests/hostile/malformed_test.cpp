// Malformed modules: thousands of mutations of a valid module, random bytes and hand-made
// pathological binaries go to Module::compile, which must return a module or an error, never
// crash. Whatever compiles is instantiated and its exports are called under fuel.
#include "hostile_util.hpp"

#include <random>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace kiln;
using namespace kiln::hostile;

using Bytes = std::vector<uint8_t>;

// A seed touching every section: imports of each kind, types, tables, memory, globals, exports,
// start, element and data segments (active and passive), bulk memory, loops and names.
constexpr const char* seed_wat = R"((module
  (type $bin (func (param i32 i32) (result i32)))
  (import "env" "f" (func $f (param i32) (result i32)))
  (import "env" "g" (global $g i32))
  (import "env" "m" (memory 1 2))
  (import "env" "t" (table 2 funcref))
  (table $own 4 funcref)
  (global $counter (mut i32) (i32.const 0))
  (global $k i64 (i64.const 77))
  (elem (table $own) (i32.const 0) func $add $loop)
  (elem $passive func $add)
  (data (i32.const 8) "hello, world")
  (data $pd "passive")
  (func $add (export "add") (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func $loop (export "loop") (param i32) (result i32) (local i32 i64 f32 f64)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (call $f (local.get 0))))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br_table $again $done (i32.and (local.get 0) (i32.const 1)))))
    (global.set $counter (local.get 1))
    (local.get 1))
  (func (export "bulk") (param i32)
    (memory.fill (i32.const 0) (i32.const 1) (local.get 0))
    (memory.copy (i32.const 100) (i32.const 0) (local.get 0))
    (memory.init $pd (i32.const 0) (i32.const 0) (i32.const 7))
    (table.init $own $passive (i32.const 2) (i32.const 0) (i32.const 1))
    (drop (call_indirect $own (type $bin) (i32.const 1) (i32.const 2) (i32.const 0))))
  (func (export "floats") (param f64) (result i64)
    (i64.trunc_sat_f64_s (f64.mul (local.get 0) (f64.convert_i32_s (global.get $g)))))
  (func $start (drop (memory.grow (i32.const 0))))
  (start $start)
  (export "mem" (memory 0))
  (export "k" (global $k))
))";

/// Instantiates `module` with every import defined by type, and calls every exported function
/// with zero arguments under fuel and a deadline. Returns how many calls were made.
int exercise(const Engine& engine, const Module& module) {
    Store store(engine);
    store.set_memory_limit(16 << 20);
    store.set_table_limit(10'000);
    store.set_timeout(1s);
    Linker linker;
    for (const ImportType& imp : module.imports()) {
        switch (imp.type.kind) {
        case ExternKind::func: {
            FuncType ft = imp.type.func;
            linker.func_new(imp.module, imp.name, ft,
                            [ft](Caller&, std::span<const Value>, std::span<Value> results) {
                                for (size_t i = 0; i < results.size(); ++i)
                                    results[i] = Value{ft.results[i], 0};
                            });
            break;
        }
        case ExternKind::memory: {
            auto m = Memory::create(store, imp.type.memory);
            if (!m) return 0;
            linker.define(imp.module, imp.name, *m);
            break;
        }
        case ExternKind::table: {
            auto t = Table::create(store, imp.type.table, Value::null(imp.type.table.elem));
            if (!t) return 0;
            linker.define(imp.module, imp.name, *t);
            break;
        }
        case ExternKind::global: {
            auto g = Global::create(store, imp.type.global, Value{imp.type.global.type, 0});
            if (!g) return 0;
            linker.define(imp.module, imp.name, *g);
            break;
        }
        }
    }
    store.set_fuel(20'000);
    auto inst = linker.instantiate(store, module);
    if (!inst) return 0;
    store.set_reuse_after_trap(true);
    int calls = 0;
    for (const ExportType& e : module.exports()) {
        if (e.type.kind != ExternKind::func) continue;
        std::vector<Value> args;
        for (ValType t : e.type.func.params)
            args.push_back(Value{t, 0});
        store.set_fuel(20'000);
        auto f = inst->get_func(store, e.name);
        if (!f) continue;
        auto r = f->call(store, args);
        if (store.has_suspended_call()) store.drop_suspended_call();
        ++calls;
    }
    return calls;
}

struct Stats {
    int tried = 0, compiled = 0, called = 0;
};

void try_bytes(const Engine& engine, const Bytes& bytes, Stats& stats) {
    ++stats.tried;
    auto m = Module::compile(engine, bytes);
    if (!m) {
        EXPECT_FALSE(m.error().message.empty());
        EXPECT_TRUE(m.error().kind == ErrorKind::malformed || m.error().kind == ErrorKind::invalid)
            << error_kind_name(m.error().kind) << ": " << m.error().message;
        return;
    }
    ++stats.compiled;
    stats.called += exercise(engine, *m);
}

Bytes mutate(const Bytes& seed, std::mt19937& rng) {
    Bytes b = seed;
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    int edits = 1 + int(pick(4));
    for (int e = 0; e < edits && !b.empty(); ++e) {
        size_t at = pick(b.size());
        switch (pick(8)) {
        case 0: b[at] ^= uint8_t(1u << pick(8)); break;
        case 1: b[at] = uint8_t(pick(256)); break;
        case 2: {
            static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x40, 0x0b, 0x41};
            b[at] = interesting[pick(sizeof interesting)];
            break;
        }
        case 3: b.insert(b.begin() + at, uint8_t(pick(256))); break;
        case 4: b.erase(b.begin() + at, b.begin() + std::min(b.size(), at + 1 + pick(8))); break;
        case 5: b.resize(at); break;
        case 6: { // a maximal 5-byte LEB128 in place of whatever was there
            static const uint8_t leb[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
            b.insert(b.begin() + at, std::begin(leb), std::end(leb));
            break;
        }
        default: { // duplicate a slice elsewhere
            size_t len = 1 + pick(std::min<size_t>(32, b.size() - at));
            Bytes slice(b.begin() + at, b.begin() + at + len);
            size_t to = pick(b.size());
            b.insert(b.begin() + to, slice.begin(), slice.end());
            break;
        }
        }
    }
    return b;
}

TEST(Malformed, MutationsOfAValidModuleNeverCrash) {
    Engine engine;
    auto seed = test::wat_to_wasm(seed_wat);
    if (!seed) GTEST_SKIP() << "wat2wasm is not installed";
    ASSERT_FALSE(seed->empty());
    {
        auto m = Module::compile(engine, *seed);
        ASSERT_TRUE(m) << m.error().message;
        EXPECT_GT(exercise(engine, *m), 3);
    }
    std::mt19937 rng(20240611);
    Stats stats;
    for (int i = 0; i < 4000; ++i) {
        try_bytes(engine, mutate(*seed, rng), stats);
        if (::testing::Test::HasFatalFailure()) return;
    }
    std::printf("[ measure  ] %d mutations: %d compiled, %d export calls made\n", stats.tried,
                stats.compiled, stats.called);
    EXPECT_GT(stats.compiled, 0);
    EXPECT_LT(stats.compiled, stats.tried);
}

TEST(Malformed, RandomBytesNeverCrash) {
    Engine engine;
    std::mt19937 rng(7);
    Stats stats;
    const Bytes header = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    for (int i = 0; i < 2000; ++i) {
        size_t len = std::uniform_int_distribution<size_t>(0, 300)(rng);
        Bytes b = i % 2 ? header : Bytes{};
        for (size_t k = 0; k < len; ++k)
            b.push_back(uint8_t(rng()));
        // Half of the headed ones get plausible section ids.
        if (i % 4 == 1 && b.size() > 8) b[8] = uint8_t(rng() % 13);
        try_bytes(engine, b, stats);
    }
    std::printf("[ measure  ] %d random inputs: %d compiled\n", stats.tried, stats.compiled);
}

// ---- hand-made pathological modules

void leb(Bytes& out, uint64_t v) {
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        out.push_back(v ? byte | 0x80 : byte);
    } while (v);
}

void section(Bytes& out, uint8_t id, const Bytes& body) {
    out.push_back(id);
    leb(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
}

/// A module with one function of type () -> () whose body (after its local declarations) is
/// `locals` then `code`.
Bytes one_function(const Bytes& locals, const Bytes& code) {
    Bytes m = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    section(m, 1, {0x01, 0x60, 0x00, 0x00});
    section(m, 3, {0x01, 0x00});
    section(m, 7, {0x01, 0x01, 'f', 0x00, 0x00});
    Bytes body = locals;
    body.insert(body.end(), code.begin(), code.end());
    Bytes sized;
    leb(sized, body.size());
    sized.insert(sized.end(), body.begin(), body.end());
    Bytes code_sec = {0x01};
    code_sec.insert(code_sec.end(), sized.begin(), sized.end());
    section(m, 10, code_sec);
    return m;
}

TEST(Malformed, PathologicalModulesAreRefusedOrRun) {
    Engine engine;
    const Bytes header = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    std::vector<std::pair<std::string, Bytes>> inputs;
    {
        Bytes m = header;
        m.push_back(1);
        leb(m, 0xffffffff); // a type section claiming 4 GiB
        m.push_back(0x01);
        inputs.emplace_back("section size 2^32-1", m);
    }
    {
        Bytes m = header, body;
        leb(body, 0xffffffff); // 2^32-1 types in a few bytes
        body.insert(body.end(), {0x60, 0x00, 0x00});
        section(m, 1, body);
        inputs.emplace_back("type count 2^32-1", m);
    }
    {
        Bytes locals = {0x02};
        leb(locals, 0x7fffffff);
        locals.push_back(0x7f);
        leb(locals, 0x7fffffff);
        locals.push_back(0x7e);
        inputs.emplace_back("2^32-2 locals", one_function(locals, {0x0b}));
    }
    {
        Bytes locals = {0x01};
        leb(locals, 50'000);
        locals.push_back(0x7e);
        inputs.emplace_back("50,000 locals", one_function(locals, {0x0b}));
    }
    for (int depth : {1000, 100'000}) {
        Bytes code;
        for (int i = 0; i < depth; ++i)
            code.insert(code.end(), {0x02, 0x40}); // block
        for (int i = 0; i < depth; ++i)
            code.push_back(0x0b);
        code.push_back(0x0b);
        inputs.emplace_back(std::to_string(depth) + " nested blocks", one_function({0x00}, code));
    }
    {
        Bytes code;
        for (int i = 0; i < 100'000; ++i)
            code.insert(code.end(), {0x03, 0x40}); // loop
        code.insert(code.end(), {0x0c, 0x00});     // br 0: the innermost loop spins
        for (int i = 0; i <= 100'000; ++i)
            code.push_back(0x0b);
        inputs.emplace_back("100,000 nested loops", one_function({0x00}, code));
    }
    {
        Bytes code;
        for (int i = 0; i < 100'000; ++i)
            code.insert(code.end(), {0x41, 0x00}); // i32.const 0
        for (int i = 0; i < 100'000; ++i)
            code.push_back(0x1a); // drop
        code.push_back(0x0b);
        inputs.emplace_back("100,000 values on the operand stack", one_function({0x00}, code));
    }
    {
        Bytes m = header;
        section(m, 5, {0x01, 0x01, 0x80, 0x80, 0x04, 0x01}); // memory min 65536 > max 1
        inputs.emplace_back("memory min above max", m);
    }
    {
        Bytes m = header, body = {0x01, 0x00};
        leb(body, 65537); // memory of 65537 pages
        section(m, 5, body);
        inputs.emplace_back("memory past 4 GiB", m);
    }
    {
        Bytes m = header, body;
        leb(body, 0xffffffff);
        section(m, 12, body); // data count 2^32-1 with no data section
        inputs.emplace_back("data count 2^32-1", m);
    }
    {
        Bytes m = header, name = {0x04, 'n', 'a', 'm', 'e', 0x01};
        Bytes sub;
        leb(sub, 0xffffffff); // 2^32-1 function names
        leb(name, sub.size());
        name.insert(name.end(), sub.begin(), sub.end());
        section(m, 0, name);
        inputs.emplace_back("name section with 2^32-1 names", m);
    }
    for (const auto& [what, bytes] : inputs) {
        SCOPED_TRACE(what);
        auto t0 = Clock::now();
        auto m = Module::compile(engine, bytes);
        double took = ms_since(t0);
        int calls = m ? exercise(engine, *m) : 0;
        std::printf("[ measure  ] %s: %s in %.1f ms%s\n", what.c_str(),
                    m ? "compiled" : m.error().message.c_str(), took,
                    m ? (", " + std::to_string(calls) + " calls").c_str() : "");
        EXPECT_LT(took, 5000.0);
    }
}

} // namespace
