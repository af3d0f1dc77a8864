// Engine: configuration shared by every module and store.
#pragma once

#include <cstdint>
#include <memory>

namespace kiln {

namespace engine {
class Engine;
}

/// Limits that bound every store of an engine (a store may lower them, never raise them).
struct EngineConfig {
    uint32_t max_call_depth = 20000;     ///< nested wasm calls per call from the host
    uint64_t max_stack_slots = 1u << 21; ///< 8-byte value-stack slots per store (16 MiB)
};

/// Compiles modules and creates stores. Cheap to copy (a shared handle); thread-safe.
class Engine {
public:
    explicit Engine(EngineConfig config = {});
    const EngineConfig& config() const;

    /// The engine's internals, for Kiln's own layers.
    engine::Engine& raw() const { return *m_impl; }

private:
    std::shared_ptr<engine::Engine> m_impl;
};

} // namespace kiln
