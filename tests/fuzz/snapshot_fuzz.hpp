// The snapshot fuzzer's pieces, shared by the libFuzzer target (snapshot_fuzzer.cpp), the seed
// generator (snapshot_seeds.cpp) and the deterministic check that runs in every build
// (snapshot_fuzz_check.cpp). Every input is restored against tests/snapshot/proof.wat.
#pragma once

#include <kiln/kiln.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kiln::fuzz {

/// The engine (small stacks, so a store is cheap), the module and the linker of every input.
struct SnapshotTarget {
    Engine engine;
    Module module;
    Linker linker;
};
/// Built on first use from the proof.wasm of this build; exits when that cannot be read.
const SnapshotTarget& snapshot_target();

/// What became of one input.
enum class SnapshotOutcome { undecodable, refused, restored };

/// Decodes `bytes` as a snapshot and restores it into a fresh store of the target; when that
/// works, resumes the suspended call (or calls the exports) on a small fuel budget. Aborts, as
/// a finding, when a refused restore changed the store or a restored store cannot be saved.
SnapshotOutcome restore_snapshot(std::span<const uint8_t> bytes);

/// An offset into a store image of `n` bytes, from two random numbers: four times in five near
/// the head (instances, functions, memory sizes, page lists) or the tail (tables, globals, fuel,
/// frames), where the structure is; the middle is mostly memory pages. 0 when n is 0.
size_t image_offset(size_t n, uint64_t r1, uint64_t r2);

/// Valid snapshots of the target, by name: at rest, after calls, suspended on fuel in the
/// recursion and the loop, and suspended by env.pause.
std::vector<std::pair<std::string, std::vector<uint8_t>>> snapshot_seeds();

} // namespace kiln::fuzz
