// Regression tests for snapshots the restore used to take, or half take: each edits one field
// of a valid store image (whose layout snapshot.cpp writes), encodes it again with a good
// checksum, and checks the refusal and that the store did not change.
#include "test_util.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <cstring>

namespace {

/// Reads and patches the fixed-width little-endian fields of a store image.
struct Image {
    std::vector<uint8_t> bytes;
    size_t at = 0;

    uint64_t read(size_t width) {
        uint64_t v = 0;
        std::memcpy(&v, bytes.data() + at, width);
        at += width;
        return v;
    }
    void patch(size_t offset, uint64_t v, size_t width) {
        std::memcpy(bytes.data() + offset, &v, width);
    }
    /// Skips the instances and the function groups; `at` is then on the memory count.
    void skip_to_memories() {
        at = 0;
        uint64_t instances = read(4);
        for (uint64_t i = 0; i < instances; ++i) {
            at += 16 + 8 + 1; // module hash, code id, trapped
            at += read(4);    // data segments dropped
            at += read(4);    // element segments dropped
        }
        at += 4 * read(4);
    }
};

class SnapRefusal : public ::testing::Test {
protected:
    /// Instantiates `wat` in a fresh store, runs `setup` if given, and returns its image.
    std::vector<uint8_t> image_after(std::string_view wat, const char* setup) {
        auto store = make_store(wat);
        if (!store) return {};
        if (setup) {
            auto r = m_instance->get_func(*store, setup)->call(*store, {});
            (void)r; // a setup may trap on purpose
        }
        kiln::Snapshot snap;
        EXPECT_TRUE(store->save(snap));
        return *snap.get("store");
    }
    std::unique_ptr<kiln::Store> make_store(std::string_view wat) {
        auto bytes = kiln::test::wat_to_wasm(wat);
        if (!bytes) return nullptr;
        auto module = kiln::Module::compile(m_engine, *bytes);
        EXPECT_TRUE(module) << module.error().message;
        auto store = std::make_unique<kiln::Store>(m_engine);
        auto inst = m_linker.instantiate(*store, *module);
        EXPECT_TRUE(inst);
        m_instance = *inst;
        return store;
    }
    /// Restores `image` into a fresh store of `wat`: the error, after checking that the store
    /// still saves to the image it had before.
    kiln::Error refused(std::string_view wat, std::vector<uint8_t> image) {
        auto store = make_store(wat);
        kiln::Snapshot before, after, in;
        EXPECT_TRUE(store->save(before));
        in.set("store", std::move(image));
        auto bytes = in.encode();
        EXPECT_TRUE(bytes);
        auto r = store->restore(*bytes);
        EXPECT_FALSE(r) << "restored";
        EXPECT_TRUE(store->save(after));
        EXPECT_EQ(*before.get("store"), *after.get("store")) << "the refused restore changed it";
        return r ? kiln::Error{} : r.error();
    }

    kiln::Engine m_engine;
    kiln::Linker m_linker;
    std::optional<kiln::Instance> m_instance;
};

#define NEED_WAT2WASM()                                                                            \
    if (!kiln::test::wat_to_wasm("(module)")) GTEST_SKIP() << "wat2wasm is not installed"

constexpr const char* trapping_wat = R"((module (memory 1)
  (func (export "trap") (i32.store (i32.const 8) (i32.const 1)) unreachable)))";

// pages * 64 KiB wrapped around for a page count near 2^48, passed the size check, and the
// restore failed only when growing the memory, after it had set the instances' state.
TEST_F(SnapRefusal, MemoryPageCountThatOverflowsTheByteSizeIsRefusedBeforeAnythingChanges) {
    NEED_WAT2WASM();
    Image img{image_after(trapping_wat, "trap")};
    img.skip_to_memories();
    ASSERT_EQ(img.read(4), 1u);
    img.read(8); // initial pages
    img.patch(img.at, (uint64_t(1) << 48) + 1, 8);
    kiln::Error e = refused(trapping_wat, img.bytes);
    EXPECT_NE(e.message.find("memory 0 has 281474976710657 pages"), std::string::npos) << e.message;
}

TEST_F(SnapRefusal, NonZeroHeaderFlagsAreRefused) {
    kiln::Snapshot snap;
    snap.set("store", {1, 2, 3});
    auto bytes = snap.encode();
    ASSERT_TRUE(bytes);
    (*bytes)[12] = 4; // the flags word follows the magic bytes and the version
    auto r = kiln::Snapshot::decode(*bytes);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("unknown header flags 0x4"), std::string::npos)
        << r.error().message;
}

constexpr const char* globals_wat = R"((module
  (global (mut externref) (ref.null extern))
  (global i64 (i64.const 7))
  (func $f) (elem declare func $f)))";

/// The image of `globals_wat` with global `index`'s value replaced; globals come right after
/// the (empty) memory and table lists, each as a type byte, a mutability byte and 8 bytes.
std::vector<uint8_t> with_global(std::vector<uint8_t> bytes, uint32_t index, uint64_t value) {
    Image img{std::move(bytes)};
    img.skip_to_memories();
    EXPECT_EQ(img.read(4), 0u); // memories
    EXPECT_EQ(img.read(4), 0u); // tables
    EXPECT_EQ(img.read(4), 2u); // globals
    img.patch(img.at + index * 10 + 2, value, 8);
    return img.bytes;
}

// A function ordinal was turned into a function's address in an externref global, which the
// host would then read as its own value.
TEST_F(SnapRefusal, AnExternrefThatIsNotNullIsRefused) {
    NEED_WAT2WASM();
    auto image = with_global(image_after(globals_wat, nullptr), 0, 1);
    kiln::Error e = refused(globals_wat, image);
    EXPECT_NE(e.message.find("global 0 is an externref that is not null"), std::string::npos)
        << e.message;
}

constexpr const char* spinning_wat = R"((module
  (func $f) (elem declare func $f)
  (func (export "spin") (local $e externref) (local $g funcref)
    (loop $l (br $l)))))";

// A suspended frame's slots were translated as function references whatever their type, so a
// function ordinal forged into an externref local came back as a function's address, which
// host code would read as its own data.
TEST_F(SnapRefusal, AnExternrefLocalOfASuspendedFrameThatIsNotNullIsRefused) {
    NEED_WAT2WASM();
    auto store = make_store(spinning_wat);
    ASSERT_TRUE(store);
    store->set_fuel(1000);
    store->set_suspend_on_fuel(true);
    auto r = m_instance->get_func(*store, "spin")->call(*store, {});
    ASSERT_FALSE(r);
    ASSERT_EQ(r.error().kind, kiln::ErrorKind::suspended) << r.error().message;
    kiln::Snapshot snap;
    ASSERT_TRUE(store->save(snap));
    // The image ends with the slot count and the slots; the frame of `spin` starts at slot 0,
    // its locals first: $e, then $g.
    Image img{*snap.get("store")};
    size_t n = 0;
    for (size_t k = 1; k < 64 && !n; ++k) {
        img.at = img.bytes.size() - 8 * k - 8;
        if (img.read(8) == k) n = k;
    }
    ASSERT_GE(n, 2u);
    size_t slots = img.bytes.size() - 8 * n;
    // A function in the funcref local is taken: the forgery is only in the type.
    img.patch(slots + 8, 1, 8);
    {
        auto other = make_store(spinning_wat);
        kiln::Snapshot in;
        in.set("store", img.bytes);
        EXPECT_TRUE(other->restore(in)) << "a function in a funcref local";
    }
    img.patch(slots, 1, 8);
    kiln::Error e = refused(spinning_wat, img.bytes);
    EXPECT_NE(e.message.find("frame 0 holds an externref that is not null"), std::string::npos)
        << e.message;
}

// Immutable globals were overwritten with whatever the snapshot held.
TEST_F(SnapRefusal, AnImmutableGlobalWithAnotherValueIsRefused) {
    NEED_WAT2WASM();
    auto image = with_global(image_after(globals_wat, nullptr), 1, 8);
    kiln::Error e = refused(globals_wat, image);
    EXPECT_EQ(e.kind, kiln::ErrorKind::invalid);
    EXPECT_NE(e.message.find("global 1 is immutable and has another value here"), std::string::npos)
        << e.message;
}

} // namespace
