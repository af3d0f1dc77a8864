// Address-space reservations kept for reuse: the linear memories and value stacks of stores that
// ended, handed to the next store that asks for a reservation of the same size.
//
// A plugin that gets a fresh instance for every call (a Reflow actor, a Spacedrive job after a
// trap) would otherwise map and unmap a memory and a stack each time; unmapping pages that were
// touched costs a TLB shootdown (an interrupt to every CPU that runs one of the process's
// threads), and touching fresh pages a fault each. A mapping given back is zeroed first: only
// its resident pages (mincore), so untouched pages stay untouched. A value stack is scanned as
// far as it was used (its touched pages form a prefix: the scan stops at the first 256 KiB with
// nothing resident); validated code never reads a slot it did not write, so zeroing a stack is
// defence in depth, where a memory's zeroing is what wasm requires. What is too large to zero
// cheaply, or past the cache's bounds, is unmapped as before.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::engine {

/// What a mapping serves: each kind is handed only to its own kind.
enum class MappingKind : uint8_t {
    memory, ///< a linear memory: writable as far as it grew, PROT_NONE beyond
    stack,  ///< a value stack: all of it writable
};

/// A reservation of `reserved` bytes at `base`, of which the first `writable` are readable and
/// writable (the rest PROT_NONE), all zero.
struct Mapping {
    uint8_t* base = nullptr;
    uint64_t reserved = 0;
    uint64_t writable = 0;
    MappingKind kind = MappingKind::memory;
};

/// A mapping of that kind of exactly `reserved` bytes from the cache, or one with a null base
/// when there is none.
Mapping take_mapping(MappingKind kind, uint64_t reserved);

/// Gives a mapping to the cache, or unmaps it. Its first `dirty` bytes may hold data (they are
/// zeroed before another store gets them); the rest of the writable part must be zero.
void give_mapping(Mapping m, uint64_t dirty);

/// Unmaps every mapping the cache holds (tests, and hosts that want the memory back).
void clear_mapping_cache();

/// How many mappings the cache holds (tests).
size_t cached_mappings();

} // namespace kiln::engine
