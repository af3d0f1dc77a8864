// Runaway guests stopped by the store's limits: deadlines, interrupts from another thread, fuel,
// memory and table bombs, and 4 GiB bulk operations. After each, the same store and a new store
// must still run code.
#include "hostile_util.hpp"

#include <atomic>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace kiln;
using namespace kiln::hostile;

// Infinite loops and unbounded recursion of various shapes. Each export first calls env.mark,
// so a test on another thread knows the guest is running.
constexpr const char* runaway_wat = R"((module
  (import "env" "mark" (func $mark))
  (type $v (func))
  (table 2 funcref)
  (elem (i32.const 0) $ping $pong)
  (func (export "br_if") (call $mark) (loop (br_if 0 (i32.const 1))))
  (func (export "br") (call $mark) (loop (br 0)))
  (func (export "nested") (local i32) (call $mark)
    (loop $outer
      (local.set 0 (i32.const 0))
      (loop $inner
        (local.set 0 (i32.add (local.get 0) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get 0) (i32.const 1000))))
      (br $outer)))
  (func (export "br_table") (local i32) (call $mark)
    (loop $a
      (loop $b
        (local.set 0 (i32.xor (local.get 0) (i32.const 1)))
        (br_table $a $b (local.get 0)))))
  (func $body (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "calls") (local i32) (call $mark)
    (loop (local.set 0 (call $body (local.get 0))) (br 0)))
  (func $recurse (export "recurse") (call $recurse))
  (func $ping (export "ping") (call_indirect (type $v) (i32.const 1)))
  (func $pong (call_indirect (type $v) (i32.const 0)))
  (type $i (func (param i32)))
  (table $tails 2 funcref)
  (elem (table $tails) (i32.const 0) func $tail_a $tail_b)
  (func $spin (param i32) (return_call $spin (i32.add (local.get 0) (i32.const 1))))
  (func (export "tail_calls") (call $mark) (return_call $spin (i32.const 0)))
  (func $tail_a (param i32)
    (return_call_indirect $tails (type $i) (local.get 0) (i32.const 1)))
  (func $tail_b (param i32)
    (return_call_indirect $tails (type $i) (i32.add (local.get 0) (i32.const 1)) (i32.const 0)))
  (func (export "tail_calls_indirect") (call $mark) (return_call $tail_a (i32.const 0)))
))";

// Tail calls loop without growing the stack, so they are loops here, not recursion.
const std::vector<std::string> loop_shapes = {
    "br_if", "br", "nested", "br_table", "calls", "tail_calls", "tail_calls_indirect"};

/// A store's instance of runaway_wat with env.mark setting `marked`.
struct Runaway {
    Runaway(const Module& module, Store& store) : store(store) {
        linker.func_wrap("env", "mark", [this] { marked.store(true); });
        auto inst = linker.instantiate(store, module);
        EXPECT_TRUE(inst) << inst.error().message;
        if (inst) instance = *inst;
    }
    Result<std::vector<Value>> call(const std::string& name) {
        marked.store(false);
        auto f = instance->get_func(store, name);
        EXPECT_TRUE(f) << name;
        return f->call(store, {});
    }
    Store& store;
    Linker linker;
    std::optional<Instance> instance;
    std::atomic<bool> marked{false};
};

/// Fires `fire` on another thread `delay` after the guest called env.mark; returns when it was
/// fired.
class Watchdog {
public:
    template <typename F>
    Watchdog(std::atomic<bool>& marked, std::chrono::milliseconds delay, F fire)
        : m_thread([this, &marked, delay, fire] {
              while (!marked.load() && !m_stop.load())
                  std::this_thread::sleep_for(100us);
              if (m_stop.load()) return;
              std::this_thread::sleep_for(delay);
              m_fired_at = Clock::now();
              fire();
          }) {}
    ~Watchdog() { join(); }
    /// Stops waiting (for a call that ended before marking) and joins.
    Clock::time_point join() {
        m_stop.store(true);
        if (m_thread.joinable()) m_thread.join();
        return m_fired_at;
    }

private:
    std::atomic<bool> m_stop{false};
    Clock::time_point m_fired_at{};
    std::thread m_thread;
};

class Limits : public ::testing::Test {
protected:
    Engine m_engine;
};

TEST_F(Limits, InfiniteLoopsStopAtTheDeadline) {
    KILN_MODULE(module, m_engine, runaway_wat);
    constexpr auto deadline = 100ms;
    for (const std::string& shape : loop_shapes) {
        SCOPED_TRACE(shape);
        Store store(m_engine);
        store.set_timeout(deadline);
        Runaway guest(module, store);
        ASSERT_TRUE(guest.instance);
        auto t0 = Clock::now();
        auto r = guest.call(shape);
        double took = ms_since(t0);
        EXPECT_EQ(outcome(r), trapped(TrapKind::deadline));
        EXPECT_GE(took, 100.0);
        // The engine checks the clock every 10,000 units of work; 10 ms is the goal, 50 ms keeps
        // the test stable on a loaded machine.
        EXPECT_LT(took, 150.0);
        std::printf("[ measure  ] deadline %s: returned after %.2f ms, overshoot %.2f ms\n",
                    shape.c_str(), took, took - 100.0);
        expect_recovers(m_engine, store);
    }
}

TEST_F(Limits, InfiniteLoopsStopOnInterruptFromAnotherThread) {
    KILN_MODULE(module, m_engine, runaway_wat);
    for (const std::string& shape : loop_shapes) {
        SCOPED_TRACE(shape);
        Store store(m_engine);
        store.set_timeout(10s); // a lost interrupt fails the test instead of hanging it
        Runaway guest(module, store);
        ASSERT_TRUE(guest.instance);
        InterruptHandle handle = store.interrupt_handle();
        Watchdog dog(guest.marked, 20ms, [handle] { handle.interrupt(); });
        auto r = guest.call(shape);
        auto returned = Clock::now();
        auto fired = dog.join();
        EXPECT_EQ(outcome(r), trapped(TrapKind::interrupted));
        double latency = std::chrono::duration<double, std::milli>(returned - fired).count();
        EXPECT_LT(latency, 50.0);
        std::printf("[ measure  ] interrupt %s: returned %.3f ms after interrupt()\n",
                    shape.c_str(), latency);
        expect_recovers(m_engine, store);
    }
}

TEST_F(Limits, RunawayShapesRunOutOfFuelAtTheSamePointEveryTime) {
    KILN_MODULE(module, m_engine, runaway_wat);
    struct Shape {
        std::string name;
        uint64_t fuel;
    };
    // Recursion gets little fuel so that fuel, not the call depth, stops it.
    std::vector<Shape> shapes;
    for (const std::string& s : loop_shapes)
        shapes.push_back({s, 1'000'000});
    shapes.push_back({"recurse", 10'000});
    shapes.push_back({"ping", 10'000});
    for (const Shape& shape : shapes) {
        SCOPED_TRACE(shape.name);
        std::vector<uint64_t> left;
        // Runs alternate between new stores and one reused store.
        Store reused(m_engine);
        for (int run = 0; run < 5; ++run) {
            std::optional<Store> own;
            Store& store = run % 2 ? reused : own.emplace(m_engine);
            store.set_fuel(shape.fuel);
            Runaway guest(module, store);
            ASSERT_TRUE(guest.instance);
            auto r = guest.call(shape.name);
            EXPECT_EQ(outcome(r), trapped(TrapKind::out_of_fuel));
            ASSERT_TRUE(store.fuel());
            left.push_back(*store.fuel());
            expect_recovers(m_engine, store);
        }
        for (uint64_t l : left)
            EXPECT_EQ(l, left[0]);
        // What is left is less than one charge (a loop iteration or a function entry).
        EXPECT_LT(left[0], 100u);
        std::printf("[ measure  ] fuel %s: %llu given, %llu left on each of 5 runs\n",
                    shape.name.c_str(), (unsigned long long)shape.fuel,
                    (unsigned long long)left[0]);
    }
}

TEST_F(Limits, MemoryBombHitsTheStoreLimit) {
    KILN_MODULE(module, m_engine, R"((module
      (memory 1)
      ;; Grows one page at a time, filling each new page, until growth fails 100 times (also
      ;; asking for 65535 pages and for 2^32-1 pages each time); returns the final page count.
      (func (export "bomb") (result i32) (local $old i32) (local $fails i32)
        (loop $again
          (local.set $old (memory.grow (i32.const 1)))
          (if (i32.eq (local.get $old) (i32.const -1))
            (then
              (local.set $fails (i32.add (local.get $fails) (i32.const 1)))
              (if (i32.ne (memory.grow (i32.const 65535)) (i32.const -1)) (then unreachable))
              (if (i32.ne (memory.grow (i32.const -1)) (i32.const -1)) (then unreachable)))
            (else
              (memory.fill (i32.mul (local.get $old) (i32.const 65536)) (i32.const 0x5a)
                           (i32.const 65536))
              (i32.store (i32.mul (local.get $old) (i32.const 65536)) (local.get $old))))
          (br_if $again (i32.lt_u (local.get $fails) (i32.const 100))))
        (memory.size))
      (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))))");
    constexpr uint64_t limit = 64 << 20;
    Store store(m_engine);
    store.set_memory_limit(limit);
    Linker linker;
    KILN_ASSERT_OK(inst, linker.instantiate(store, module));
    uint64_t rss_before = rss_bytes();
    auto bomb = inst.get_func(store, "bomb")->typed<int32_t()>(store);
    ASSERT_TRUE(bomb);
    auto r = bomb->call(store);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(uint64_t(*r), limit / page_size);
    uint64_t rss_growth = rss_bytes() - std::min(rss_before, rss_bytes());
    std::printf("[ measure  ] memory bomb: %d pages, RSS grew by %.1f MiB (limit %llu MiB)\n", *r,
                rss_growth / 1048576.0, (unsigned long long)(limit >> 20));
    EXPECT_LT(rss_growth, limit + (32 << 20));
    // The memory works up to its last byte and refuses past it.
    auto peek = inst.get_func(store, "peek")->typed<int32_t(int32_t)>(store);
    EXPECT_EQ(*peek->call(store, int32_t(limit - page_size)), int32_t(limit / page_size - 1));
    EXPECT_EQ(outcome(peek->call(store, int32_t(limit - 2))),
              trapped(TrapKind::memory_out_of_bounds));
    // The host API is held to the same budget.
    auto mem = Memory::create(store, MemoryType{{1, std::nullopt}});
    ASSERT_FALSE(mem);
    EXPECT_EQ(mem.error().kind, ErrorKind::limit);
    EXPECT_NE(mem.error().message.find("memory limit"), std::string::npos) << mem.error().message;
    store.set_reuse_after_trap(true);
    expect_recovers(m_engine, store);
}

TEST_F(Limits, TableBombHitsTheStoreLimit) {
    KILN_MODULE(module, m_engine, R"((module
      (table 0 funcref)
      (func (export "bomb") (result i32) (local $fails i32)
        (loop $again
          (if (i32.eq (table.grow 0 (ref.null func) (i32.const 1000)) (i32.const -1))
            (then
              (local.set $fails (i32.add (local.get $fails) (i32.const 1)))
              (if (i32.ne (table.grow 0 (ref.null func) (i32.const -1)) (i32.const -1))
                (then unreachable))))
          (br_if $again (i32.lt_u (local.get $fails) (i32.const 100))))
        (table.size 0))))");
    constexpr uint64_t limit = 100'000;
    Store store(m_engine);
    store.set_table_limit(limit);
    Linker linker;
    KILN_ASSERT_OK(inst, linker.instantiate(store, module));
    uint64_t rss_before = rss_bytes();
    auto bomb = inst.get_func(store, "bomb")->typed<int32_t()>(store);
    ASSERT_TRUE(bomb);
    auto r = bomb->call(store);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(uint64_t(*r), limit);
    EXPECT_LT(rss_bytes() - std::min(rss_before, rss_bytes()), uint64_t(16 << 20));
    auto t = Table::create(store, TableType{ValType::funcref, {1, std::nullopt}},
                           Value::null(ValType::funcref));
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().kind, ErrorKind::limit);
    expect_recovers(m_engine, store);
}

TEST_F(Limits, InitialSizesPastTheLimitFailInstantiationClearly) {
    KILN_MODULE(big_memory, m_engine, "(module (memory 1025))");
    KILN_MODULE(max_memory, m_engine, "(module (memory 65536 65536))");
    KILN_MODULE(big_table, m_engine, "(module (table 100001 funcref))");
    Store store(m_engine);
    store.set_memory_limit(64 << 20);
    store.set_table_limit(100'000);
    Linker linker;
    for (const Module* m : {&big_memory, &max_memory}) {
        auto inst = linker.instantiate(store, *m);
        ASSERT_FALSE(inst);
        EXPECT_EQ(inst.error().kind, ErrorKind::uninstantiable);
        EXPECT_NE(inst.error().message.find("exceeds the store's memory limit"), std::string::npos)
            << inst.error().message;
        std::printf("[ message  ] %s\n", inst.error().message.c_str());
    }
    auto inst = linker.instantiate(store, big_table);
    ASSERT_FALSE(inst);
    EXPECT_EQ(inst.error().kind, ErrorKind::uninstantiable);
    EXPECT_NE(inst.error().message.find("exceeds the store's table limit"), std::string::npos)
        << inst.error().message;
    std::printf("[ message  ] %s\n", inst.error().message.c_str());
    expect_recovers(m_engine, store);
}

// A 4 GiB memory (65536 pages) and a guest that fills or copies all of it in one instruction.
constexpr const char* bulk_wat = R"((module
  (import "env" "mark" (func $mark))
  (memory (export "mem") 1 65536)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "fill") (call $mark) (memory.fill (i32.const 0) (i32.const 0xab) (i32.const -1)))
  ;; Overlapping: memmove semantics over (size - 1) bytes.
  (func (export "copy") (call $mark)
    (memory.copy (i32.const 1) (i32.const 0) (i32.sub (i32.mul (memory.size) (i32.const 65536))
                                                      (i32.const 1))))))";

struct BulkGuest {
    BulkGuest(const Module& module, Store& store, uint32_t pages) : store(store) {
        linker.func_wrap("env", "mark", [this] { marked.store(true); });
        auto inst = linker.instantiate(store, module);
        EXPECT_TRUE(inst) << inst.error().message;
        if (!inst) return;
        instance = *inst;
        auto grow = instance->get_func(store, "grow")->typed<int32_t(int32_t)>(store);
        EXPECT_EQ(*grow->call(store, int32_t(pages - 1)), 1);
        EXPECT_EQ(*instance->get_memory(store, "mem")->size(store), uint64_t(pages) * page_size);
    }
    Result<std::vector<Value>> call(const std::string& name) {
        return instance->get_func(store, name)->call(store, {});
    }
    /// The byte at `offset` of the memory.
    uint8_t byte(uint64_t offset) {
        uint8_t b = 0;
        EXPECT_TRUE(instance->get_memory(store, "mem")->read(store, offset, {&b, 1}));
        return b;
    }
    Store& store;
    Linker linker;
    std::optional<Instance> instance;
    std::atomic<bool> marked{false};
};

TEST_F(Limits, FourGibMemoryFillStopsAtTheDeadline) {
    KILN_MODULE(module, m_engine, bulk_wat);
    Store store(m_engine);
    BulkGuest guest(module, store, 65536);
    ASSERT_TRUE(guest.instance);
    store.set_timeout(100ms);
    auto t0 = Clock::now();
    auto r = guest.call("fill");
    double took = ms_since(t0);
    EXPECT_EQ(outcome(r), trapped(TrapKind::deadline));
    EXPECT_LT(took, 150.0);
    EXPECT_EQ(guest.byte(0), 0xab);
    EXPECT_EQ(guest.byte((uint64_t(4) << 30) - 2), 0) << "the fill was not cut short";
    std::printf("[ measure  ] 4 GiB memory.fill, 100 ms deadline: returned after %.2f ms "
                "(overshoot %.2f ms)\n",
                took, took - 100.0);
    expect_recovers(m_engine, store);
}

TEST_F(Limits, FourGibMemoryFillStopsOnInterrupt) {
    KILN_MODULE(module, m_engine, bulk_wat);
    Store store(m_engine);
    BulkGuest guest(module, store, 65536);
    ASSERT_TRUE(guest.instance);
    store.set_timeout(10s);
    InterruptHandle handle = store.interrupt_handle();
    Watchdog dog(guest.marked, 20ms, [handle] { handle.interrupt(); });
    auto r = guest.call("fill");
    auto returned = Clock::now();
    auto fired = dog.join();
    EXPECT_EQ(outcome(r), trapped(TrapKind::interrupted));
    double latency = std::chrono::duration<double, std::milli>(returned - fired).count();
    EXPECT_LT(latency, 50.0);
    EXPECT_EQ(guest.byte((uint64_t(4) << 30) - 2), 0) << "the fill was not cut short";
    std::printf("[ measure  ] 4 GiB memory.fill: returned %.2f ms after interrupt()\n", latency);
    expect_recovers(m_engine, store);
}

// memory.copy between overlapping ranges must stop at the deadline too (1 GiB here: enough to
// take far longer than the deadline when done in one piece).
TEST_F(Limits, OverlappingGibMemoryCopyStopsAtTheDeadline) {
    KILN_MODULE(module, m_engine, bulk_wat);
    Store store(m_engine);
    BulkGuest guest(module, store, 16384);
    ASSERT_TRUE(guest.instance);
    store.set_timeout(100ms);
    auto t0 = Clock::now();
    auto r = guest.call("copy");
    double took = ms_since(t0);
    EXPECT_EQ(outcome(r), trapped(TrapKind::deadline));
    // First touches of fresh pages make each piece slow on a loaded machine; stay generous.
    EXPECT_LT(took, 300.0);
    std::printf("[ measure  ] 1 GiB overlapping memory.copy, 100 ms deadline: returned after "
                "%.2f ms\n",
                took);
    expect_recovers(m_engine, store);
}

} // namespace
