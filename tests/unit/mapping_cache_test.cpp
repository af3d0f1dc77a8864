// The mappings of memories and value stacks that ended, kept for the next store: a memory that
// gets one reads as zero everywhere, however the last owner left it; what holds too much to
// zero cheaply is unmapped instead.
#include "engine/runtime/mapping_cache.hpp"
#include "engine/runtime/objects.hpp"

#include <kiln/kiln.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace {

constexpr uint64_t page = 65536;

bool all_zero(kiln::Store& store, const kiln::Memory& memory) {
    std::vector<uint8_t> bytes(memory.size(store).value());
    EXPECT_TRUE(memory.read(store, 0, bytes));
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

TEST(MappingCache, AMemoryGivenAKeptMappingReadsAsZero) {
    kiln::Engine engine;
    const kiln::MemoryType type{{1, 4}};
    kiln::engine::clear_mapping_cache();
    const uint8_t* first = nullptr;
    {
        kiln::Store a(engine);
        auto memory = kiln::Memory::create(a, type);
        ASSERT_TRUE(memory);
        ASSERT_EQ(memory->grow(a, 2).value(), 1u);
        const std::vector<uint8_t> ones(3 * page, 0xab);
        ASSERT_TRUE(memory->write(a, 0, ones));
        first = memory->raw()->base;
    }
    // The store's value stack and its memory.
    EXPECT_EQ(kiln::engine::cached_mappings(), 2u);
    kiln::Store b(engine);
    auto memory = kiln::Memory::create(b, type);
    ASSERT_TRUE(memory);
    EXPECT_EQ(memory->raw()->base, first) << "the kept mapping was not reused";
    EXPECT_EQ(memory->size(b).value(), page);
    EXPECT_TRUE(all_zero(b, *memory));
    // Pages the last owner grew to and wrote are writable already, and zero.
    ASSERT_EQ(memory->grow(b, 3).value(), 1u);
    EXPECT_TRUE(all_zero(b, *memory));
    // Past the size the bounds still hold.
    std::vector<uint8_t> one(1);
    EXPECT_FALSE(memory->read(b, 4 * page, one));
    EXPECT_EQ(memory->grow(b, 1).error().kind, kiln::ErrorKind::limit)
        << "four pages is the maximum";
}

TEST(MappingCache, AMemoryHoldingMuchIsUnmapped) {
    kiln::Engine engine;
    kiln::engine::clear_mapping_cache();
    {
        kiln::Store a(engine);
        auto memory = kiln::Memory::create(a, kiln::MemoryType{{128, 256}});
        ASSERT_TRUE(memory);
        const std::vector<uint8_t> ones(128 * page, 1); // 8 MiB resident: more than is zeroed
        ASSERT_TRUE(memory->write(a, 0, ones));
    }
    EXPECT_EQ(kiln::engine::cached_mappings(), 1u) << "only the value stack is kept";
    kiln::engine::clear_mapping_cache();
    EXPECT_EQ(kiln::engine::cached_mappings(), 0u);
}

TEST(MappingCache, FreshInstancesOfAModuleStartFromItsDataAlone) {
    kiln::Engine engine;
    kiln::engine::clear_mapping_cache();
    // Each instance writes its own marks over the memory, then a new store instantiates the
    // module again: it sees only the data segment.
    auto module = kiln::Module::compile(
        engine, std::vector<uint8_t>{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                                     // memory section: one memory, min 1
                                     0x05, 0x03, 0x01, 0x00, 0x01,
                                     // export section: "m" memory 0
                                     0x07, 0x05, 0x01, 0x01, 'm', 0x02, 0x00,
                                     // data section: one active segment at 8: "hi"
                                     0x0b, 0x08, 0x01, 0x00, 0x41, 0x08, 0x0b, 0x02, 'h', 'i'});
    ASSERT_TRUE(module) << module.error().message;
    kiln::Linker linker;
    for (int round = 0; round < 3; ++round) {
        kiln::Store store(engine);
        auto instance = linker.instantiate(store, *module);
        ASSERT_TRUE(instance) << instance.error().message;
        auto memory = instance->get_memory(store, "m");
        ASSERT_TRUE(memory);
        std::vector<uint8_t> bytes(page);
        ASSERT_TRUE(memory->read(store, 0, bytes));
        std::vector<uint8_t> expected(page, 0);
        expected[8] = 'h';
        expected[9] = 'i';
        EXPECT_EQ(bytes, expected) << "round " << round;
        const std::vector<uint8_t> marks(page, uint8_t(0x40 + round));
        ASSERT_TRUE(memory->write(store, 0, marks));
    }
}

} // namespace
