// Engine: configuration shared by every module and store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace kiln {

namespace engine {
class Engine;
}

/// Proposals past WebAssembly 2.0 that modules may use, all on by default. A module that uses one
/// the engine turns off fails to compile (ErrorKind::invalid, the message naming the feature).
/// Each later proposal joins as one more field.
struct Features {
    bool simd = true;      ///< "simd": fixed-width SIMD, the v128 type and the 0xFD instructions
    bool tail_call = true; ///< "tail-call": return_call and return_call_indirect
    /// "extended-const": i32/i64 add, sub and mul in constant expressions
    bool extended_const = true;
};

/// The names of the features `features` turns on, space-separated, in the order of Features'
/// fields ("simd tail-call extended-const" for the defaults).
std::string feature_names(const Features& features);

/// Limits that bound every store of an engine (a store may lower them, never raise them), and the
/// features its modules may use.
struct EngineConfig {
    uint32_t max_call_depth = 20000;     ///< nested wasm calls per call from the host
    uint64_t max_stack_slots = 1u << 21; ///< 8-byte value-stack slots per store (16 MiB)
    Features features;                   ///< what modules compiled by this engine may use
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
