// Call observers: start and end of each call with the plugin's name, the function, the duration,
// the fuel used (equal to what the store reports consumed), the peak of linear plus kernel
// memory, and the outcome (success, a trap, an error the plugin set, a refused call).
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <memory>
#include <mutex>
#include <thread>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::HasSubstr;

/// A CallEvent copied out of its callback.
struct Seen {
    bool start = false;
    std::string plugin, function;
    std::chrono::nanoseconds duration{0};
    std::optional<uint64_t> fuel_used;
    uint64_t peak_memory_bytes = 0;
    std::optional<Error> error;
};

/// Collects the events of every call, in order.
struct Recorder {
    std::mutex mutex;
    std::vector<Seen> events;

    CallObserver observer() {
        auto record = [this](bool start) {
            return [this, start](const CallEvent& e) {
                Seen s{start,      std::string(e.plugin), std::string(e.function),
                       e.duration, e.fuel_used,           e.peak_memory_bytes,
                       {}};
                EXPECT_EQ(e.ok(), e.error == nullptr);
                if (e.error) s.error = *e.error;
                std::lock_guard lock(mutex);
                events.push_back(std::move(s));
            };
        };
        return CallObserver{record(true), record(false)};
    }
};

constexpr uint64_t page = 65536;

// `count` loops n times (n from the input's first byte) without touching the kernel, so that the
// same module can run outside the plugin runtime to measure its fuel.
constexpr const char* body = R"(
  (func (export "count") (result i32) (local $n i32) (local $i i32)
    (local.set $n (call $input_load_u8 (i64.const 0)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.const 0))
  (func (export "count_fixed") (result i32) (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.const 1000)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.const 0))
  (data (i32.const 0) "refused")
  (func (export "ok") (result i32) (call $out_str (i32.const 0) (i32.const 7)) (i32.const 0))
  (func (export "fail") (result i32)
    (call $error_set (call $str (i32.const 0) (i32.const 7)))
    (i32.const 1))
  (func (export "trap") (result i32) unreachable)
  (func (export "kernel_block") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 100000)))
    (call $free (local.get $h))
    (i32.const 0))
  (func (export "grow") (result i32) i32.const 2 memory.grow drop i32.const 0)
)";

class Observers : public PluginTest {
protected:
    std::optional<Plugin> observed(Recorder& recorder,
                                   const std::function<void(Manifest&)>& edit = {}) {
        PluginOptions options;
        options.name = "observed";
        options.observers.push_back(recorder.observer());
        return make_plugin(body, std::move(options), edit);
    }
};

TEST_F(Observers, StartAndEndOfACall) {
    Recorder r;
    auto p = observed(r);
    ASSERT_TRUE(p);
    EXPECT_EQ(call_ok(*p, "ok"), "refused");
    ASSERT_EQ(r.events.size(), 2u);
    const Seen& start = r.events[0];
    const Seen& end = r.events[1];
    EXPECT_TRUE(start.start);
    EXPECT_EQ(start.plugin, "observed");
    EXPECT_EQ(start.function, "ok");
    EXPECT_EQ(start.duration.count(), 0);
    EXPECT_FALSE(start.error);
    EXPECT_FALSE(end.start);
    EXPECT_EQ(end.plugin, "observed");
    EXPECT_EQ(end.function, "ok");
    EXPECT_GT(end.duration.count(), 0);
    EXPECT_FALSE(end.error);
    EXPECT_FALSE(end.fuel_used) << "the manifest meters no fuel";
}

TEST_F(Observers, FuelUsedIsWhatTheStoreConsumed) {
    static constexpr uint64_t fuel = 1'000'000;
    Recorder r;
    auto p = observed(r, [](Manifest& m) { m.fuel = fuel; });
    ASSERT_TRUE(p);
    call_ok(*p, "count_fixed");
    ASSERT_EQ(r.events.size(), 2u);
    ASSERT_TRUE(r.events[1].fuel_used);

    // The same export in a plain Store with the same fuel: what the store says it consumed.
    auto wasm = extism_wasm(body);
    auto module = Module::compile(engine, wasm);
    KILN_ASSERT_OK(module);
    Store store(engine);
    Linker linker;
    linker.func_wrap("extism:host/env", "input_load_u8", [](uint64_t) -> int32_t { return 0; });
    linker.func_wrap("extism:host/env", "alloc", [](uint64_t) -> uint64_t { return 0; });
    linker.func_wrap("extism:host/env", "free", [](uint64_t) {});
    linker.func_wrap("extism:host/env", "store_u8", [](uint64_t, int32_t) {});
    linker.func_wrap("extism:host/env", "output_set", [](uint64_t, uint64_t) {});
    linker.func_wrap("extism:host/env", "error_set", [](uint64_t) {});
    auto instance = linker.instantiate(store, *module);
    KILN_ASSERT_OK(instance);
    store.set_fuel(fuel);
    auto f = instance->get_func(store, "count_fixed");
    ASSERT_TRUE(f);
    KILN_ASSERT_OK(f->call(store, {}));
    const uint64_t consumed = fuel - store.fuel().value_or(0);
    EXPECT_GT(consumed, 1000u);
    EXPECT_EQ(*r.events[1].fuel_used, consumed);

    // More work, more fuel; and running out uses all of it.
    call_ok(*p, "count", std::string(1, char(200)));
    call_ok(*p, "count", std::string(1, char(20)));
    ASSERT_EQ(r.events.size(), 6u);
    EXPECT_GT(*r.events[3].fuel_used, *r.events[5].fuel_used);

    auto starved = observed(r, [](Manifest& m) { m.fuel = 50; });
    ASSERT_TRUE(starved);
    call_fails(*starved, "count_fixed");
    ASSERT_EQ(r.events.size(), 8u);
    EXPECT_EQ(r.events[7].fuel_used, std::optional<uint64_t>(50));
    ASSERT_TRUE(r.events[7].error && r.events[7].error->trap);
    EXPECT_EQ(r.events[7].error->trap->kind, TrapKind::out_of_fuel);
}

TEST_F(Observers, OutcomeOfSuccessTrapAndPluginError) {
    Recorder r;
    auto p = observed(r);
    ASSERT_TRUE(p);
    call_ok(*p, "ok");
    call_fails(*p, "trap");
    call_fails(*p, "fail");
    call_fails(*p, "missing");
    ASSERT_EQ(r.events.size(), 8u);
    EXPECT_FALSE(r.events[1].error);

    const Seen& trap = r.events[3];
    EXPECT_EQ(trap.function, "trap");
    ASSERT_TRUE(trap.error);
    EXPECT_EQ(trap.error->kind, ErrorKind::trap);
    ASSERT_TRUE(trap.error->trap);
    EXPECT_EQ(trap.error->trap->kind, TrapKind::unreachable);

    const Seen& fail = r.events[5];
    ASSERT_TRUE(fail.error);
    EXPECT_EQ(fail.error->kind, ErrorKind::plugin);
    EXPECT_EQ(fail.error->message, "refused");

    // A function the plugin does not export: seen too, failing before any wasm ran.
    const Seen& missing = r.events[7];
    EXPECT_EQ(missing.function, "missing");
    ASSERT_TRUE(missing.error);
    EXPECT_EQ(missing.error->kind, ErrorKind::usage);
    EXPECT_THAT(missing.error->message, HasSubstr("missing"));
}

TEST_F(Observers, PeakMemoryIsLinearPlusKernelPeak) {
    Recorder r;
    auto p = observed(r);
    ASSERT_TRUE(p);
    call_ok(*p, "count", "abc"); // only the 3-byte input in kernel memory
    call_ok(*p, "kernel_block"); // a 100000-byte block, freed before the call ends
    call_ok(*p, "grow");         // linear memory from 1 page to 3
    call_ok(*p, "ok");           // the 7-byte output block
    ASSERT_EQ(r.events.size(), 8u);
    EXPECT_EQ(r.events[1].peak_memory_bytes, page + 3);
    EXPECT_EQ(r.events[3].peak_memory_bytes, page + 100000);
    EXPECT_EQ(r.events[5].peak_memory_bytes, 3 * page);
    EXPECT_EQ(r.events[7].peak_memory_bytes, 3 * page + 7);
}

TEST_F(Observers, InstanceObserversFollowTheCompiledPluginsOnes) {
    Recorder shared, own;
    PluginOptions options;
    options.observers.push_back(shared.observer());
    auto compiled = CompiledPlugin::create(engine, manifest_for(body), options);
    KILN_ASSERT_OK(compiled);
    auto a = Plugin::create(*compiled);
    auto b = Plugin::create(*compiled);
    KILN_ASSERT_OK(a);
    KILN_ASSERT_OK(b);
    std::vector<std::string> order;
    a->add_observer(own.observer());
    a->add_observer(CallObserver{[&](const CallEvent&) { order.push_back("second start"); }, {}});
    call_ok(*a, "ok");
    call_ok(*b, "ok");
    EXPECT_EQ(shared.events.size(), 4u) << "the options' observers see every instance";
    EXPECT_EQ(own.events.size(), 2u) << "an instance's observer sees only that instance";
    EXPECT_EQ(order, std::vector<std::string>{"second start"});
    EXPECT_EQ(shared.events[0].plugin, "plugin") << "no name given: the default";
}

TEST_F(Observers, SeeCallsOfPooledInstancesOnEachThread) {
    Recorder r;
    PluginOptions options;
    options.observers.push_back(r.observer());
    auto compiled = CompiledPlugin::create(engine, manifest_for(body), options);
    KILN_ASSERT_OK(compiled);
    PluginPool pool(*compiled, 3);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto lease = pool.get(std::chrono::seconds(5));
                ASSERT_TRUE(lease);
                EXPECT_TRUE((*lease)->call("ok", "").has_value());
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(r.events.size(), 60u);
}

TEST_F(Observers, ARefusedReentrantCallIsNotSeen) {
    Recorder r;
    auto self = std::make_shared<Plugin*>(nullptr);
    auto inner = std::make_shared<std::optional<Error>>();
    PluginOptions options;
    options.observers.push_back(r.observer());
    PluginFunction f;
    f.name = "again";
    f.type = FuncType{{}, {}};
    f.fn = [self, inner](CurrentPlugin&, std::span<const Value>, std::span<Value>) {
        auto out = (*self)->call("ok", "");
        if (!out) *inner = out.error();
    };
    options.functions.push_back(f);
    auto p = make_plugin(R"(
  (import "extism:host/user" "again" (func $again))
  (func (export "outer") (result i32) (call $again) (i32.const 0))
)",
                         std::move(options));
    ASSERT_TRUE(p);
    *self = &*p;
    call_ok(*p, "outer");
    ASSERT_TRUE(*inner) << "the re-entrant call was not refused";
    ASSERT_EQ(r.events.size(), 2u);
    EXPECT_EQ(r.events[0].function, "outer");
    EXPECT_EQ(r.events[1].function, "outer");
}

} // namespace
