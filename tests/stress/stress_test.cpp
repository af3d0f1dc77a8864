// Concurrency: one compiled Module shared by many threads, each with its own Store and
// instances; interrupts and suspensions fired from another thread racing calls as they start and
// finish. Run under TSan (scripts/sanitize.sh) to catch data races.
#include "hostile_util.hpp"

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace kiln;
using namespace kiln::hostile;

constexpr const char* shared_wat = R"((module
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (type $bin (func (param i32 i32) (result i32)))
  (memory (export "mem") 1)
  (table 2 funcref)
  (elem (i32.const 0) $add $mul)
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func $mul (type $bin) (i32.mul (local.get 0) (local.get 1)))
  ;; 1 + 2 + ... + n
  (func $sum (export "sum") (param i32) (result i32) (local i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (block (loop
      (br_if 1 (i32.eqz (local.get 0)))
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br 0)))
    (local.get 1))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  ;; Stores x at p, reads it back through the table's functions and the host: (x + x) * 2 * 2.
  (func (export "mixed") (param $p i32) (param $x i32) (result i32)
    (i32.store (local.get $p) (local.get $x))
    (call $twice
      (call_indirect (type $bin)
        (call_indirect (type $bin) (i32.load (local.get $p)) (i32.load (local.get $p))
                       (i32.const 0))
        (i32.const 2) (i32.const 1))))
  ;; sum(n) computed by calling back through the host: wasm -> host -> wasm.
  (func (export "sum_via_host") (param i32) (result i32)
    (call $twice (i32.const 0)) (drop)
    (call $sum (local.get 0)))
))";

int32_t sum_to(int32_t n) {
    return int32_t(uint32_t(int64_t(n) * (n + 1) / 2));
}

int32_t fib(int32_t n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

TEST(Stress, EightThreadsShareOneModule) {
    constexpr int threads = 8, calls = 10'000;
    Engine engine;
    KILN_MODULE(module, engine, shared_wat);
    // One Linker shared by every thread: instantiation only reads it.
    Linker linker;
    std::atomic<uint64_t> host_calls{0};
    linker.func_wrap("env", "twice", [&](int32_t x) {
        host_calls.fetch_add(1, std::memory_order_relaxed);
        return x * 2;
    });
    std::atomic<int> failures{0}, done{0};
    auto worker = [&](int id) {
        std::mt19937 rng(id);
        Store store(engine);
        std::optional<Instance> inst;
        for (int i = 0; i < calls; ++i) {
            // A new instance now and then: instantiation races other threads' calls.
            if (i % 1000 == 0) {
                auto made = linker.instantiate(store, module);
                if (!made) {
                    failures.fetch_add(1);
                    return;
                }
                inst = *made;
            }
            int32_t a = int32_t(rng() % 2000), want = 0;
            Result<std::vector<Value>> r;
            switch (i % 4) {
            case 0:
                r = inst->get_func(store, "sum")->call(store, {Value::i32(a)});
                want = sum_to(a);
                break;
            case 1:
                r = inst->get_func(store, "fib")->call(store, {Value::i32(a % 15)});
                want = fib(a % 15);
                break;
            case 2:
                r = inst->get_func(store, "mixed")
                        ->call(store, {Value::i32(a * 4), Value::i32(a + id)});
                want = (a + id) * 8;
                break;
            default:
                r = inst->get_func(store, "sum_via_host")->call(store, {Value::i32(a)});
                want = sum_to(a);
                break;
            }
            if (!r || (*r)[0].as_i32() != want) {
                if (failures.fetch_add(1) < 10)
                    ADD_FAILURE() << "thread " << id << " call " << i << ": "
                                  << (r ? std::to_string((*r)[0].as_i32()) : r.error().message)
                                  << ", expected " << want;
            }
            done.fetch_add(1, std::memory_order_relaxed);
        }
        // Every call to sum went to this store's last instance only.
        auto g = inst->get_global(store, "calls")->get(store);
        if (!g || g->as_i32() != 1000 / 2) failures.fetch_add(1);
    };
    auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back(worker, t);
    for (auto& t : pool)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(done.load(), threads * calls);
    EXPECT_EQ(host_calls.load(), uint64_t(threads * calls / 2));
    std::printf("[ measure  ] %d threads x %d calls on one Module in %.0f ms\n", threads, calls,
                ms_since(t0));
}

/// Outcomes of calls that interrupts and suspensions race.
struct Tally {
    int ok = 0, interrupted = 0, suspended = 0, resumed_ok = 0, dropped = 0, other = 0;
};

/// Calls `name` (sum or sum_via_host) `calls` times on `store` while another thread fires
/// interrupt() and suspend() at random moments. Every call must return the right sum, trap with
/// interrupted or be suspended (then resumed to the right sum or dropped).
void race_interrupts(const Engine& engine, const Module& module, const std::string& name, int calls,
                     Tally& tally) {
    Store store(engine);
    store.set_reuse_after_trap(true);
    Linker linker;
    std::optional<Func> sum;
    linker.func_wrap("env", "twice", [&](Caller& caller, int32_t x) -> int32_t {
        // Host re-entry: a nested call may be interrupted, never suspended (only the outermost
        // run can be), and the host passes its trap on.
        auto r = sum->call(caller.store(), {Value::i32(100)});
        if (!r) {
            caller.trap(r.error().message);
            return 0;
        }
        return x * 2;
    });
    auto inst = linker.instantiate(store, module);
    ASSERT_TRUE(inst) << inst.error().message;
    sum = inst->get_func(store, "sum");
    auto f = inst->get_func(store, name);
    InterruptHandle handle = store.interrupt_handle();
    std::atomic<bool> stop{false};
    std::thread firer([&] {
        std::mt19937 rng(42);
        while (!stop.load(std::memory_order_relaxed)) {
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
            if (rng() % 2)
                handle.interrupt();
            else
                handle.suspend();
        }
    });
    std::mt19937 rng(1);
    auto check = [&](const Result<std::vector<Value>>& r, int32_t want, bool resumed) {
        std::string o = outcome(r);
        if (o == "ok") {
            if ((*r)[0].as_i32() == want)
                ++(resumed ? tally.resumed_ok : tally.ok);
            else
                ++tally.other;
        } else if (o == trapped(TrapKind::interrupted) ||
                   (o == trapped(TrapKind::host_error) &&
                    r.error().message.find("interrupted") != std::string::npos)) {
            ++tally.interrupted;
        } else if (o == "suspended:interrupted") {
            ++tally.suspended;
        } else {
            if (++tally.other < 10) ADD_FAILURE() << o << ": " << r.error().message;
        }
        return o;
    };
    for (int i = 0; i < calls; ++i) {
        int32_t n = int32_t(rng() % 5000);
        auto r = f->call(store, {Value::i32(n)});
        std::string o = check(r, sum_to(n), false);
        while (o == "suspended:interrupted") {
            if (!store.has_suspended_call()) {
                ++tally.other;
                break;
            }
            if (rng() % 2) {
                store.drop_suspended_call();
                ++tally.dropped;
                break;
            }
            o = check(store.resume(), sum_to(n), true);
        }
        if (store.has_suspended_call()) {
            ++tally.other;
            store.drop_suspended_call();
        }
    }
    stop.store(true);
    firer.join();
    expect_recovers(engine, store);
}

TEST(Stress, InterruptsAndSuspensionsRaceCalls) {
    Engine engine;
    KILN_MODULE(module, engine, shared_wat);
    for (const char* name : {"sum", "sum_via_host"}) {
        SCOPED_TRACE(name);
        Tally t;
        race_interrupts(engine, module, name, 20'000, t);
        std::printf("[ measure  ] %s: %d ok, %d interrupted, %d suspended (%d resumed to the "
                    "right result, %d dropped), %d other\n",
                    name, t.ok, t.interrupted, t.suspended, t.resumed_ok, t.dropped, t.other);
        EXPECT_EQ(t.other, 0);
        EXPECT_GT(t.ok, 0);
        EXPECT_GT(t.interrupted + t.suspended, 0);
    }
}

// Interrupt handles fired from another thread while their stores are created, used and
// destroyed: a handle outlives its store safely.
TEST(Stress, InterruptHandlesOutliveTheirStores) {
    Engine engine;
    KILN_MODULE(module, engine, shared_wat);
    std::mutex mutex;
    std::optional<InterruptHandle> current;
    std::atomic<bool> stop{false};
    std::thread firer([&] {
        std::mt19937 rng(3);
        std::vector<InterruptHandle> kept; // handles of destroyed stores, fired again later
        while (!stop.load(std::memory_order_relaxed)) {
            std::optional<InterruptHandle> h;
            {
                std::lock_guard lock(mutex);
                h = current;
            }
            if (h) {
                if (rng() % 2)
                    h->interrupt();
                else
                    h->suspend();
                if (kept.size() < 64) kept.push_back(*h);
            }
            for (auto& k : kept)
                k.interrupt();
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100));
        }
    });
    Linker linker;
    linker.func_wrap("env", "twice", [](int32_t x) { return x * 2; });
    int bad = 0;
    for (int s = 0; s < 200; ++s) {
        Store store(engine);
        store.set_reuse_after_trap(true);
        {
            std::lock_guard lock(mutex);
            current = store.interrupt_handle();
        }
        auto inst = linker.instantiate(store, module);
        ASSERT_TRUE(inst) << inst.error().message;
        auto sum = inst->get_func(store, "sum");
        for (int i = 0; i < 50; ++i) {
            auto r = sum->call(store, {Value::i32(3000)});
            std::string o = outcome(r);
            if (o == "ok" && (*r)[0].as_i32() != sum_to(3000))
                ++bad;
            else if (o != "ok" && o != trapped(TrapKind::interrupted) &&
                     o != "suspended:interrupted")
                ++bad;
            if (store.has_suspended_call()) store.drop_suspended_call();
        }
        std::lock_guard lock(mutex);
        current.reset();
    }
    stop.store(true);
    firer.join();
    EXPECT_EQ(bad, 0);
}

} // namespace
