// libFuzzer target for snapshots: bytes go to Snapshot::decode, then Store::restore into a fresh
// store holding tests/snapshot/proof.wat, and a snapshot that restores is resumed on a small
// fuel budget. Nothing may crash, leak or hit undefined behaviour, a refused restore must leave
// the store as it was, and a restored store must save again.
//
// The container's checksum would turn almost every mutation into a checksum error, so the
// custom mutator (libFuzzer builds only) mutates the store section inside a decoded snapshot,
// mostly near its structured ends (image_offset), and encodes it again with a fresh checksum;
// one mutation in four goes to the raw bytes, for the container's own decoder. Built with
// -DKILN_FUZZ=ON under clang (see docs/testing.md).
#include "snapshot_fuzz.hpp"

#include "proof_program.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>

namespace kiln::fuzz {

namespace {

constexpr uint64_t fuel_budget = 20000;
constexpr uint64_t memory_limit = 8u << 20;
constexpr uint64_t max_snapshot_bytes = 64u << 20;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "snapshot fuzzer: %s\n", what.c_str());
    std::abort();
}

/// The store's own image, or nullopt when it cannot be saved (with the reason in `why`).
std::optional<std::vector<uint8_t>> image_of(const Store& store, std::string* why = nullptr) {
    Snapshot snap;
    auto ok = store.save(snap);
    if (!ok) {
        if (why) *why = ok.error().message;
        return std::nullopt;
    }
    return *snap.get("store");
}

} // namespace

const SnapshotTarget& snapshot_target() {
    static const SnapshotTarget target = [] {
        Engine engine(EngineConfig{.max_call_depth = 1024, .max_stack_slots = 1u << 15});
        auto module = Module::from_file(engine, KILN_SNAPSHOT_FUZZ_MODULE);
        if (!module) {
            std::fprintf(stderr, "snapshot fuzzer: %s\n", module.error().message.c_str());
            std::exit(2);
        }
        return SnapshotTarget{engine, *module, test::proof_linker()};
    }();
    return target;
}

size_t image_offset(size_t n, uint64_t r1, uint64_t r2) {
    if (n == 0) return 0;
    switch (r1 % 5) {
    case 0:
    case 1: return size_t(r2 % std::min<size_t>(n, 256));
    case 2:
    case 3: return n - 1 - size_t(r2 % std::min<size_t>(n, 8192));
    default: return size_t(r2 % n);
    }
}

SnapshotOutcome restore_snapshot(std::span<const uint8_t> bytes) {
    auto snap = Snapshot::decode(bytes, max_snapshot_bytes);
    if (!snap) return SnapshotOutcome::undecodable;
    const SnapshotTarget& target = snapshot_target();
    Store store(target.engine);
    store.set_memory_limit(memory_limit);
    store.set_data(std::make_shared<test::PauseState>());
    auto instance = target.linker.instantiate(store, target.module);
    if (!instance) finding("instantiate: " + instance.error().message);
    auto before = image_of(store);
    auto restored = store.restore(*snap);
    if (!restored) {
        if (store.has_suspended_call() || image_of(store) != before)
            finding("a refused restore changed the store: " + restored.error().message);
        return SnapshotOutcome::refused;
    }
    std::string why;
    if (!image_of(store, &why)) finding("a restored store cannot be saved: " + why);
    // The snapshot's own fuel is replaced: it may have metering off or a huge budget.
    store.set_fuel(fuel_budget);
    store.set_suspend_on_fuel(true);
    if (store.has_suspended_call()) {
        // A call suspended in env.pause wants its result back; any other wants none.
        auto done = store.resume();
        if (!done && done.error().kind == ErrorKind::usage && store.has_suspended_call())
            done = store.resume(std::vector<Value>{Value::i32(test::pause_value(0))});
    } else {
        for (const char* name : {"rec", "loop"}) {
            store.set_fuel(fuel_budget);
            (void)instance->get_func(store, name)->call(store, {Value::i32(50)});
            store.drop_suspended_call();
        }
    }
    return SnapshotOutcome::restored;
}

} // namespace kiln::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)kiln::fuzz::restore_snapshot({data, size});
    return 0;
}

#ifdef KILN_LIBFUZZER

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

/// The store section of an encoded snapshot, with the snapshot, when it decodes.
std::optional<kiln::Snapshot> with_store(const uint8_t* data, size_t size) {
    auto snap = kiln::Snapshot::decode({data, size});
    if (!snap || !snap->get("store")) return std::nullopt;
    return std::move(*snap);
}

/// Encodes `snap` into `out`; its size, or 0 when it does not fit.
size_t encode_into(const kiln::Snapshot& snap, uint8_t* out, size_t max_size) {
    auto bytes = snap.encode();
    if (!bytes || bytes->size() > max_size) return 0;
    std::memcpy(out, bytes->data(), bytes->size());
    return bytes->size();
}

} // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned seed) {
    std::minstd_rand rng(seed);
    if (rng() % 4 != 0) {
        auto snap = with_store(data, size);
        if (snap && !snap->get("store")->empty()) {
            // libFuzzer's mutations applied to a window of up to 64 bytes, which may grow or
            // shrink by 32.
            std::vector<uint8_t> image = *snap->get("store");
            size_t at = kiln::fuzz::image_offset(image.size(), rng(), rng());
            size_t len = std::min<size_t>(image.size() - at, 1 + rng() % 64);
            std::vector<uint8_t> window(image.begin() + long(at), image.begin() + long(at + len));
            window.resize(len + 32);
            window.resize(LLVMFuzzerMutate(window.data(), len, window.size()));
            image.erase(image.begin() + long(at), image.begin() + long(at + len));
            image.insert(image.begin() + long(at), window.begin(), window.end());
            snap->set("store", std::move(image));
            if (size_t m = encode_into(*snap, data, max_size)) return m;
        }
    }
    return LLVMFuzzerMutate(data, size, max_size);
}

// Splices the store sections of two snapshots (frames of one over the memory of another, and
// so on); raw bytes when either does not decode.
extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1,
                                            const uint8_t* data2, size_t size2, uint8_t* out,
                                            size_t max_out, unsigned seed) {
    std::minstd_rand rng(seed);
    auto a = with_store(data1, size1);
    auto b = with_store(data2, size2);
    if (a && b) {
        const auto& ia = *a->get("store");
        const auto& ib = *b->get("store");
        size_t cut_a = rng() % (ia.size() + 1), cut_b = rng() % (ib.size() + 1);
        std::vector<uint8_t> image(ia.begin(), ia.begin() + long(cut_a));
        image.insert(image.end(), ib.begin() + long(cut_b), ib.end());
        a->set("store", std::move(image));
        if (size_t m = encode_into(*a, out, max_out)) return m;
    }
    size_t cut_a = rng() % (size1 + 1), cut_b = rng() % (size2 + 1);
    size_t n = std::min(max_out, cut_a + (size2 - cut_b));
    std::memcpy(out, data1, std::min(cut_a, n));
    if (n > cut_a) std::memcpy(out + cut_a, data2 + cut_b, n - cut_a);
    return n;
}

#endif
