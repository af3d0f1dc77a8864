// Engine (configuration, shared type registry), compiled modules and Store.
#pragma once

#include "base/result.hpp"
#include "base/writer.hpp"
#include "engine/interp/interpreter.hpp"
#include "engine/runtime/objects.hpp"

#include <kiln/engine.hpp>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace kiln::engine {

using kiln::EngineConfig;

/// Shared by every module and store: configuration and the canonical function-type registry.
class Engine {
public:
    explicit Engine(EngineConfig config = {}) : m_config(config) {}
    const EngineConfig& config() const { return m_config; }
    /// The canonical id of a function type; structurally equal types get equal ids.
    uint32_t intern(const FuncType& type);

private:
    EngineConfig m_config;
    std::mutex m_mutex;
    std::map<std::pair<std::vector<ValType>, std::vector<ValType>>, uint32_t> m_types;
};

/// A decoded, validated and lowered module: immutable and shareable across threads.
struct CompiledModule {
    const Engine* engine = nullptr; ///< type ids below are this engine's
    std::shared_ptr<const Module> module;
    std::vector<uint32_t> type_ids;              ///< canonical id of each type index
    std::vector<std::unique_ptr<FuncCode>> code; ///< one per module-defined function
    std::array<uint64_t, 2> hash{};              ///< XXH3-128 of the module's bytes
    /// A hash of how the lowering laid out the code where a call can stop (each function's
    /// size and suspension sites): snapshots of suspended frames need the same on both ends.
    uint64_t code_id = 0;
    ~CompiledModule();
};

/// Decodes, validates and lowers a binary module.
Result<std::shared_ptr<const CompiledModule>> compile(Engine& engine,
                                                      std::span<const uint8_t> bytes);

using CallResult = tl::expected<std::vector<Value>, Trap>;

/// Owns all runtime objects; one thread at a time.
class Store {
public:
    explicit Store(Engine& engine);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    Engine& engine() { return m_engine; }

    FuncInst* create_host_func(FuncType type, HostFn fn);
    /// True when `p` is the address of one of this store's functions (`p` may be any word).
    bool owns_func(const void* p) const;
    Result<TableInst*> create_table(const TableType& type, uint64_t init);
    Result<MemoryInst*> create_memory(const MemoryType& type);
    GlobalInst* create_global(const GlobalType& type, const Value& init);

    /// Instantiates with imports given in the module's import order: checks their types
    /// (unlinkable), creates definitions, runs segments and the start function (uninstantiable).
    Result<Instance*> instantiate(std::shared_ptr<const CompiledModule> compiled,
                                  std::span<const Extern> imports);

    /// Calls `func` with its arguments in slots[0..params) and leaves its results in
    /// slots[0..results) (the caller sizes `slots` for both). Types are not checked. Unless
    /// `done`, take_trap() says why.
    RunStatus call_raw(FuncInst* func, uint64_t* slots) {
        return interp_call(*this, m_stack, func, slots);
    }
    /// Why the last call trapped or was suspended.
    Trap take_trap() {
        Trap t =
            m_stack.trap ? std::move(*m_stack.trap) : Trap{TrapKind::host_error, "no trap", {}};
        m_stack.trap.reset();
        return t;
    }
    /// Calls a function; arguments must match its parameter types (checked). When the call is
    /// suspended (fuel exhausted with suspend_on_fuel, or a suspend-mode interrupt) the error
    /// says why and has_suspended() is true until it is resumed or dropped.
    CallResult call(FuncInst* func, std::span<const Value> args);
    /// Continues the suspended call; the result is as for call(). A call suspended by a host
    /// function gets `host_results` as its results, in slots (their count is checked, not their
    /// types).
    CallResult resume(std::span<const uint64_t> host_results = {});
    /// For the running host function: suspend the call once it returns. False when that is
    /// impossible (it was called from the host, or runs inside a nested wasm call).
    bool request_yield();
    /// Writes the store's state as a snapshot section (see snapshot.cpp); refused while a call
    /// runs. A borrowing writer references memory pages instead of copying them.
    Result<void> save_image(Writer& w) const;
    /// Restores a section save_image() wrote, after checking all of it against this store, which
    /// must have been built the same way; nothing changes when it is refused.
    Result<void> load_image(std::span<const uint8_t> image);
    /// The suspended call's state, if any.
    const std::optional<Suspension>& suspension() const { return m_stack.suspended; }
    bool has_suspended() const;
    /// Abandons the suspended call.
    void drop_suspended();

    /// Fuel, deadline and interrupts of this store's calls.
    ExecControl& control();
    /// Memory and table budgets of this store.
    ResourceLimiter& limiter();
    /// Wasm call depth and value-stack slots per call (at most the Engine's).
    void set_stack_limits(uint32_t max_call_depth, uint64_t max_stack_slots);
    /// The instance whose code called the running host function (null when the host called it).
    Instance* host_caller() const { return m_stack.host_caller; }

    struct Impl; ///< what the store owns (store_impl.hpp)

private:
    Engine& m_engine;
    ExecStack m_stack; ///< first, with the call path's other hot data
    std::unique_ptr<Impl> m_impl;
};

} // namespace kiln::engine
