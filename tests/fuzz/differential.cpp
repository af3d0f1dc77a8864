// kiln-diff: runs a module on Kiln the way binaryen's fuzzing harness would and prints a
// normalized transcript, to be compared line by line with reference.mjs run on node.
//
// Transcript format (shared with reference.mjs, which is the specification of record):
//   invalid                        the module failed to compile (decode or validation)
//   instantiate-failed             linking, a segment or the start function failed
//   call NAME                      each exported function, in export order
//   IMPORT(ARG, ...)               every call of an imported function, as it happens
//   result VAL ...                 the call's results (nothing after "result" for none)
//   trap                           the call trapped (which trap is not compared)
//   exhausted                      stack exhaustion: the harness skips such modules
//   global NAME VAL                each exported global at the end
//   memory NAME PAGES HASH         each exported memory at the end, FNV-1a 32 of its bytes
// Values: i32:N, i64:N (signed decimal), f32:0xBITS, f64:0xBITS, with every NaN printed as
// f32:nan / f64:nan, and references as ref:null or ref:nonnull.
//
// Before every exported function other than itself, hangLimitInitializer (which binaryen adds
// to bound loops and recursion) is called silently, so each call gets the full budget.
#include "engine/runtime/store.hpp"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using namespace kiln::engine;

constexpr const char* hang_limit_export = "hangLimitInitializer";

std::string format_value(ValType type, uint64_t bits) {
    switch (type) {
    case ValType::i32: return fmt::format("i32:{}", int32_t(uint32_t(bits)));
    case ValType::i64: return fmt::format("i64:{}", int64_t(bits));
    case ValType::f32: {
        uint32_t b = uint32_t(bits);
        if (std::isnan(std::bit_cast<float>(b))) return "f32:nan";
        return fmt::format("f32:{:#010x}", b);
    }
    case ValType::f64:
        if (std::isnan(std::bit_cast<double>(bits))) return "f64:nan";
        return fmt::format("f64:{:#018x}", bits);
    case ValType::funcref:
    case ValType::externref: return bits ? "ref:nonnull" : "ref:null";
    default: return "v128";
    }
}

uint32_t fnv1a(const uint8_t* data, uint64_t size) {
    uint32_t h = 2166136261u;
    for (uint64_t i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
    return h;
}

/// Every imported function logs its name and arguments and returns zeros.
FuncInst* make_logger(Store& store, const FuncType& type, std::string name) {
    return store.create_host_func(type, [type, name](Store&, uint64_t* slots) {
        std::string line = name + "(";
        for (size_t i = 0; i < type.params.size(); ++i) {
            if (i) line += ", ";
            line += format_value(type.params[i], slots[i]);
        }
        fmt::print("{})\n", line);
        for (size_t i = 0; i < type.results.size(); ++i) slots[i] = 0;
        return std::optional<Trap>{};
    });
}

int run(const std::vector<uint8_t>& bytes) {
    Engine engine;
    auto compiled = compile(engine, bytes);
    if (!compiled) {
        fmt::print("invalid\n");
        return 0;
    }
    const Module& m = *(*compiled)->module;
    Store store(engine);
    Linker linker;
    for (const Import& imp : m.imports) {
        if (imp.kind != ExternKind::func) {
            fmt::print("unsupported-import {}.{}\n", imp.module, imp.name);
            return 0;
        }
        linker.define(imp.module, imp.name,
                      Extern{ExternKind::func, make_logger(store, m.types[imp.func_type],
                                                           imp.name)});
    }
    auto instance = linker.instantiate(store, *compiled);
    if (!instance) {
        fmt::print("instantiate-failed\n");
        return 0;
    }
    Instance& inst = **instance;
    FuncInst* hang_limit = inst.get_func(hang_limit_export);

    for (const Export& e : m.exports) {
        if (e.kind != ExternKind::func) continue;
        FuncInst* f = inst.funcs[e.index];
        if (hang_limit && e.name != hang_limit_export) (void)store.call(hang_limit, {});
        fmt::print("call {}\n", e.name);
        std::vector<Value> args;
        for (ValType t : f->type->params) args.push_back(Value{t, 0});
        CallResult r = store.call(f, args);
        if (!r) {
            if (r.error().kind == TrapKind::stack_exhausted) {
                fmt::print("exhausted\n");
                return 0;
            }
            fmt::print("trap\n");
            continue;
        }
        std::string line = "result";
        for (const Value& v : *r) line += " " + format_value(v.type, v.bits);
        fmt::print("{}\n", line);
    }

    for (const Export& e : m.exports) {
        if (e.kind == ExternKind::global) {
            const GlobalInst* g = inst.globals[e.index];
            fmt::print("global {} {}\n", e.name, format_value(g->type.type, g->bits));
        } else if (e.kind == ExternKind::memory) {
            const MemoryInst* mem = inst.memories[e.index];
            fmt::print("memory {} {} {:#010x}\n", e.name, mem->pages(),
                       fnv1a(mem->base, mem->size));
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        fmt::print(stderr, "usage: kiln-diff MODULE.wasm\n");
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        fmt::print(stderr, "kiln-diff: cannot read {}\n", argv[1]);
        return 2;
    }
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    int rc = run(bytes);
    std::fflush(stdout);
    return rc;
}
