// kiln-diff: runs a module on Kiln the way binaryen's fuzzing harness would and prints a
// normalized transcript, to be compared line by line with reference.mjs run on node.
//
// Transcript format, printed the same way by reference.mjs:
//   invalid                        the module failed to compile (decode or validation)
//   instantiate-failed             linking, a segment or the start function failed
//   call NAME                      each exported function, in export order, with zeros
//   call NAME fixed                then again, if it has parameters, with fixed_arg values
//   IMPORT(ARG, ...)               every call of an imported function, as it happens
//   result VAL ...                 the call's results (nothing after "result" for none)
//   trap                           the call trapped (which trap is not compared)
//   exhausted                      stack exhaustion: the harness skips such modules
//   skip NAME v128                 an export with v128 parameters or results, not called
//                                  (JavaScript can neither pass nor receive a v128)
//   global NAME VAL                each exported global at the end (v128 ones as just v128)
//   memory NAME PAGES HASH         each exported memory at the end, FNV-1a 32 of its bytes
// Values: i32:N, i64:N (signed decimal), f32:0xBITS, f64:0xBITS, with every NaN printed as
// f32:nan / f64:nan, references as ref:null or ref:nonnull, and v128:0x and 32 hex digits
// (lane 0 in the low bits). Of imports with v128, only (v128) -> () is supported (binaryen's
// log-v128; reference.mjs gives it a wasm adapter that passes the lanes to JavaScript).
//
// With --fuel-slice N, Kiln runs with fuel and suspend_on_fuel: every call is suspended each
// time N units of fuel are spent and resumed with N more, which must not change the transcript.
//
// Before every exported function other than itself, hangLimitInitializer (which binaryen adds
// to bound loops and recursion) is called silently, so each call gets the full budget.
#include "base/file.hpp"
#include "engine/runtime/store.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace kiln::engine;

constexpr const char* hang_limit_export = "hangLimitInitializer";

std::string format_value(const Value& v) {
    const uint64_t bits = v.bits;
    switch (v.type) {
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
    case ValType::v128: return fmt::format("v128:0x{:016x}{:016x}", v.hi, v.bits);
    }
    return "?";
}

bool has_v128(const FuncType& type) {
    auto is_v128 = [](ValType t) { return t == ValType::v128; };
    return std::any_of(type.params.begin(), type.params.end(), is_v128) ||
           std::any_of(type.results.begin(), type.results.end(), is_v128);
}

/// The k-th argument of the second call of each export: extremes and ordinary values, cycled.
uint64_t fixed_arg(ValType type, size_t k) {
    static constexpr uint64_t i32s[] = {0xffffffff, 1, 0x7fffffff, 0x80000000, 0x10000, 17};
    static constexpr uint64_t i64s[] = {~uint64_t(0),       1,           0x7fffffffffffffff,
                                        0x8000000000000000, 0x100000000, 17};
    static constexpr uint64_t f32s[] = {0x3fc00000, 0x80000000, 0x7f7fffff,
                                        0x00000001, 0xc2c88000, 0x7f800000};
    static constexpr uint64_t f64s[] = {0x3ff8000000000000, 0x8000000000000000, 0x7fefffffffffffff,
                                        0x0000000000000001, 0xc059100000000000, 0xfff0000000000000};
    switch (type) {
    case ValType::i32: return i32s[k % 6];
    case ValType::i64: return i64s[k % 6];
    case ValType::f32: return f32s[k % 6];
    case ValType::f64: return f64s[k % 6];
    default: return 0;
    }
}

uint32_t fnv1a(const uint8_t* data, uint64_t size) {
    uint32_t h = 2166136261u;
    for (uint64_t i = 0; i < size; ++i)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

/// Every imported function logs its name and arguments and returns zeros.
FuncInst* make_logger(Store& store, const FuncType& type, std::string name) {
    return store.create_host_func(type, [type, name](Store&, uint64_t* slots) {
        std::string line = name + "(";
        for (size_t i = 0, at = 0; i < type.params.size(); at += slot_count(type.params[i++])) {
            if (i) line += ", ";
            line += format_value(Value::from_slots(type.params[i], slots + at));
        }
        fmt::print("{})\n", line);
        std::fill_n(slots, slot_count(type.results), 0);
        return std::optional<Trap>{};
    });
}

uint64_t suspensions = 0;

/// Calls `f`; with a fuel slice, resumes it after every suspension until it finishes.
CallResult call_sliced(Store& store, FuncInst* f, std::span<const Value> args,
                       uint64_t fuel_slice) {
    if (fuel_slice) store.control().fuel = fuel_slice;
    CallResult r = store.call(f, args);
    while (!r && store.has_suspended()) {
        ++suspensions;
        store.control().fuel += fuel_slice;
        r = store.resume();
    }
    return r;
}

int run(const std::vector<uint8_t>& bytes, uint64_t fuel_slice) {
    Engine engine;
    auto compiled = compile(engine, bytes);
    if (!compiled) {
        fmt::print("invalid\n");
        return 0;
    }
    const Module& m = *(*compiled)->module;
    Store store(engine);
    if (fuel_slice) {
        store.control().fuel_enabled = true;
        store.control().suspend_on_fuel = true;
        // The start function, if any, runs inside instantiation, which cannot be resumed.
        store.control().fuel = ~uint64_t(0) / 2;
    }
    std::vector<Extern> imports;
    for (const Import& imp : m.imports) {
        const FuncType* type = imp.kind == ExternKind::func ? &m.types[imp.func_type] : nullptr;
        const bool log_v128 =
            type && type->params == std::vector{ValType::v128} && type->results.empty();
        if (!type || (has_v128(*type) && !log_v128)) {
            fmt::print("unsupported-import {}.{}\n", imp.module, imp.name);
            return 0;
        }
        imports.push_back(
            Extern{ExternKind::func, make_logger(store, m.types[imp.func_type], imp.name)});
    }
    auto instance = store.instantiate(*compiled, imports);
    if (!instance) {
        fmt::print("instantiate-failed\n");
        return 0;
    }
    Instance& inst = **instance;
    FuncInst* hang_limit = inst.get_func(hang_limit_export);

    for (const Export& e : m.exports) {
        if (e.kind != ExternKind::func) continue;
        FuncInst* f = inst.funcs[e.index];
        const auto& params = f->type->params;
        if (has_v128(*f->type)) {
            fmt::print("skip {} v128\n", e.name);
            continue;
        }
        for (bool fixed : {false, true}) {
            if (fixed && params.empty()) break;
            if (hang_limit && e.name != hang_limit_export)
                (void)call_sliced(store, hang_limit, {}, fuel_slice);
            fmt::print("call {}{}\n", e.name, fixed ? " fixed" : "");
            std::vector<Value> args;
            for (size_t k = 0; k < params.size(); ++k)
                args.push_back(Value{params[k], fixed ? fixed_arg(params[k], k) : 0});
            CallResult r = call_sliced(store, f, args, fuel_slice);
            if (!r) {
                if (r.error().kind == TrapKind::stack_exhausted) {
                    fmt::print("exhausted\n");
                    return 0;
                }
                fmt::print("trap\n");
                continue;
            }
            std::string line = "result";
            for (const Value& v : *r)
                line += " " + format_value(v);
            fmt::print("{}\n", line);
        }
    }

    for (const Export& e : m.exports) {
        if (e.kind == ExternKind::global) {
            const GlobalInst* g = inst.globals[e.index];
            fmt::print("global {} {}\n", e.name,
                       g->type.type == ValType::v128 ? "v128" : format_value(g->value()));
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
    uint64_t fuel_slice = 0;
    const char* path = nullptr;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--fuel-slice" && i + 1 < argc) {
            fuel_slice = std::strtoull(argv[++i], nullptr, 10);
        } else if (!path && !arg.starts_with("-")) {
            path = argv[i];
        } else {
            path = nullptr;
            break;
        }
    }
    if (!path) {
        fmt::print(stderr, "usage: kiln-diff [--fuel-slice N] MODULE.wasm\n");
        return 2;
    }
    auto bytes = kiln::read_file(path);
    if (!bytes) {
        fmt::print(stderr, "kiln-diff: {}\n", bytes.error().message);
        return 2;
    }
    int rc = run(*bytes, fuel_slice);
    if (fuel_slice) fmt::print(stderr, "kiln-diff: {} suspensions\n", suspensions);
    std::fflush(stdout);
    return rc;
}
