// Store: owns instances and their memories, tables and globals, and the limits of their calls.
#pragma once

#include <kiln/engine.hpp>
#include <kiln/error.hpp>
#include <kiln/snapshot.hpp>
#include <kiln/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace kiln {

namespace engine {
class Store;
struct InterruptFlag;
struct FuncInst;
} // namespace engine

class Func;
struct HostFunc;

namespace detail {
/// A small process-wide number per type, for the store's user data slots.
uint32_t next_data_key();
template <typename T> inline const uint32_t data_key = next_data_key();
} // namespace detail

/// Stops the calls of one store from any thread. Cheap to copy; outlives its store safely.
class InterruptHandle {
public:
    /// The running call traps with TrapKind::interrupted (an idle store ignores it).
    void interrupt() const;
    /// The running call stops resumably: it fails with ErrorKind::suspended and
    /// Store::resume() continues it.
    void suspend() const;

private:
    friend class Store;
    explicit InterruptHandle(std::shared_ptr<engine::InterruptFlag> flag)
        : m_flag(std::move(flag)) {}
    std::shared_ptr<engine::InterruptFlag> m_flag;
};

/// Owns everything instantiated in it. Used by one thread at a time; make one per thread.
/// Limits are set before or between calls.
class Store {
public:
    explicit Store(const Engine& engine);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    /// Total bytes all memories of this store may use; memory.grow past it returns -1 and an
    /// initial size past it fails instantiation.
    void set_memory_limit(uint64_t bytes);
    /// Bytes all memories of this store hold now (what set_memory_limit bounds).
    uint64_t memory_bytes() const;
    /// Total elements all tables of this store may hold; same rules as memory.
    void set_table_limit(uint64_t elements);

    /// Turns on deterministic metering with this much fuel: the same program and input always
    /// stop at the same point. Each function entry and loop iteration costs its instruction count.
    void set_fuel(uint64_t fuel);
    /// Adds fuel (turning metering on).
    void add_fuel(uint64_t fuel);
    /// Fuel left, or nullopt when metering is off.
    std::optional<uint64_t> fuel() const;
    void disable_fuel();
    /// When fuel runs out, suspend the call (resumable) instead of trapping.
    void set_suspend_on_fuel(bool suspend);

    /// Wall-clock limit of each call from the host (0 disables); past it the call traps with
    /// TrapKind::deadline.
    void set_timeout(std::chrono::nanoseconds timeout);
    /// A handle that interrupts or suspends this store's running call from any thread.
    InterruptHandle interrupt_handle() const;
    /// Lowers the engine's limits on nested wasm calls and value-stack slots for this store.
    void set_stack_limits(uint32_t max_call_depth, uint64_t max_stack_slots);

    /// After a call traps, its instance refuses further calls unless this is set.
    void set_reuse_after_trap(bool allow);
    bool reuse_after_trap() const { return m_reuse_after_trap; }

    /// Attaches user data of type T (one per type; a second replaces the first). Host functions
    /// reach it through Caller::data<T>(); the store keeps it alive until it is replaced or the
    /// store is destroyed.
    template <typename T> T& set_data(std::shared_ptr<T> data) {
        T& ref = *data;
        set_data_slot(detail::data_key<T>, std::move(data));
        return ref;
    }
    /// The user data of type T, or null when none was attached.
    template <typename T> T* data() const {
        uint32_t key = detail::data_key<T>;
        return key < m_data.size() ? static_cast<T*>(m_data[key].get()) : nullptr;
    }

    /// True while a call is suspended.
    bool has_suspended_call() const;
    /// Continues the suspended call; may suspend again. A call suspended by a host function
    /// (Caller::suspend) continues after it with `host_results` as that function's results;
    /// their number and types must match its signature.
    Result<std::vector<Value>> resume(std::span<const Value> host_results = {});
    /// Abandons the suspended call.
    void drop_suspended_call();

    /// Saves everything the store holds into `out` as its "store" section: memories (all-zero
    /// pages left out), tables (functions as indices), globals, instance state, fuel, and a
    /// suspended call's frames and values. Refused while a call runs, or with an error naming
    /// the value when the store holds an externref (host data that cannot move elsewhere).
    Result<void> save(Snapshot& out) const;
    /// Restores the "store" section of `in` into this store, which must have been built the
    /// same way: the same modules (checked by hash) instantiated in the same order with the same
    /// host functions. Everything is checked before anything changes; a suspended call comes
    /// back suspended, to be resumed. Refused while this store runs or holds a suspended call.
    Result<void> restore(const Snapshot& in);
    /// save() into an encoded snapshot, together with the sections of `with` (the state of the
    /// layers above, such as Wasi::save's). Memory is compressed where it lies, without the copy
    /// save() makes.
    Result<std::vector<uint8_t>> snapshot(const Snapshot& with = {}) const;
    /// restore() from an encoded snapshot.
    Result<void> restore(std::span<const uint8_t> bytes);

    /// A process-unique id; handles remember the store they belong to.
    uint64_t id() const { return m_id; }
    /// The store's internals, for Kiln's own layers.
    engine::Store& raw() { return *m_store; }

private:
    friend class Linker;
    friend Func create_func(Store& store, HostFunc fn);
    struct HostFuncs;
    /// Binds a host function definition to this store, once per definition.
    engine::FuncInst* bind(std::shared_ptr<const HostFunc> def);
    void set_data_slot(uint32_t key, std::shared_ptr<void> data);
    Engine m_engine; ///< kept alive for as long as the store
    std::unique_ptr<engine::Store> m_store;
    std::unique_ptr<HostFuncs> m_host_funcs; ///< host functions bound to this store
    uint64_t m_id;
    bool m_reuse_after_trap = false;
    std::vector<std::shared_ptr<void>> m_data; ///< user data, indexed by detail::data_key<T>
};

} // namespace kiln
