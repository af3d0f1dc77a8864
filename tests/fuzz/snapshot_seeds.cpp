// Valid snapshots of tests/snapshot/proof.wat, the snapshot fuzzer's seeds: small enough to
// fuzz quickly, and between them every part of a store image (touched pages in both halves of
// memory, funcrefs in tables and globals, frames of both recursive functions with funcrefs in
// locals, parameters and on the operand stack, a host function's suspension).
#include "snapshot_fuzz.hpp"

#include "proof_program.hpp"

#include <cstdio>
#include <cstdlib>

namespace kiln::fuzz {

namespace {

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "snapshot seeds: %s\n", what.c_str());
    std::exit(2);
}

/// Runs `name(arg)` in a fresh store of the target, stopping after `fuel` units (0: never) or
/// at env.pause call `pause_at` (0: never), and returns the store's encoded snapshot.
std::vector<uint8_t> snapshot_after(const char* name, int32_t arg, uint64_t fuel,
                                    uint32_t pause_at) {
    const SnapshotTarget& target = snapshot_target();
    Store store(target.engine);
    auto& pause = store.set_data(std::make_shared<test::PauseState>());
    pause.suspend_at = pause_at;
    auto instance = target.linker.instantiate(store, target.module);
    if (!instance) fail(instance.error().message);
    if (name) {
        if (fuel) {
            store.set_fuel(fuel);
            store.set_suspend_on_fuel(true);
        }
        auto r = instance->get_func(store, name)->call(store, {Value::i32(arg)});
        bool should_stop = fuel || pause_at;
        if (should_stop != !r) fail(std::string(name) + (r ? " did not stop" : " failed"));
    }
    auto bytes = store.snapshot();
    if (!bytes) fail(bytes.error().message);
    return *bytes;
}

/// Fuel an uninterrupted call of `name(arg)` uses.
uint64_t fuel_of(const char* name, int32_t arg) {
    const SnapshotTarget& target = snapshot_target();
    Store store(target.engine);
    store.set_data(std::make_shared<test::PauseState>());
    store.set_fuel(uint64_t(1) << 40);
    auto instance = target.linker.instantiate(store, target.module);
    if (!instance || !instance->get_func(store, name)->call(store, {Value::i32(arg)}))
        fail(std::string("cannot run ") + name);
    return (uint64_t(1) << 40) - *store.fuel();
}

} // namespace

std::vector<std::pair<std::string, std::vector<uint8_t>>> snapshot_seeds() {
    constexpr int32_t depth = 40, iters = 300;
    uint64_t rec = fuel_of("rec", depth), loop = fuel_of("loop", iters);
    return {
        {"at-rest", snapshot_after(nullptr, 0, 0, 0)},
        {"rec-done", snapshot_after("rec", depth, 0, 0)},
        {"loop-done", snapshot_after("loop", iters, 0, 0)},
        {"rec-fuel-early", snapshot_after("rec", depth, rec / 7, 0)},
        {"rec-fuel-deep", snapshot_after("rec", depth, rec / 2, 0)},
        {"rec-fuel-late", snapshot_after("rec", depth, rec * 6 / 7, 0)},
        {"loop-fuel", snapshot_after("loop", iters, loop / 2, 0)},
        // rec(40) calls env.pause once, at the bottom of the recursion.
        {"rec-pause", snapshot_after("rec", depth, 0, 1)},
    };
}

} // namespace kiln::fuzz
