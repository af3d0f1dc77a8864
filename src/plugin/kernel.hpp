// Kernel memory of one plugin: host-owned blocks addressed by i64 handles, apart from the
// plugin's linear memory. A handle is the address of a block's first byte in a private address
// space that starts at 1, so 0 is never a block; an address inside a live block reaches its byte,
// anything else reads 0 and ignores writes. Nothing here can reach host memory outside the
// blocks, whatever the guest passes.
#pragma once

#include "base/reader.hpp"
#include "base/writer.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::plugin {

class Kernel {
public:
    /// A new block of `size` bytes (zeroed), or 0 for size 0 or past the byte budget.
    uint64_t alloc(uint64_t size);
    void free(uint64_t handle);
    /// The length of the block starting exactly at `handle`, else 0.
    uint64_t length(uint64_t handle) const;
    uint8_t load_u8(uint64_t address) const;
    uint64_t load_u64(uint64_t address) const; ///< 0 unless all 8 bytes are in one block
    void store_u8(uint64_t address, uint8_t v);
    void store_u64(uint64_t address, uint64_t v);
    /// The bytes of block `handle` from its start, limited to `len` (nullopt when it is not a
    /// block or `len` exceeds it).
    std::optional<std::string_view> view(uint64_t handle, uint64_t len) const;
    std::optional<std::string_view> view(uint64_t handle) const {
        return view(handle, length(handle));
    }
    /// A new block holding `bytes` (0 when out of budget; an empty string gives 0 too).
    uint64_t put(std::string_view bytes);
    /// Frees every block.
    void reset();
    /// Bytes in live blocks.
    uint64_t bytes_in_use() const { return m_in_use; }
    /// Writes every block (address, size, bytes) and the next address, for a snapshot.
    void save(Writer& w) const;
    /// Replaces the blocks with what save() wrote; on an error nothing changes.
    Result<void> load(Reader& r);
    /// The most bytes live at once since the last reset_peak().
    uint64_t peak_bytes() const { return m_peak; }
    /// Starts measuring the peak from the bytes live now.
    void reset_peak() { m_peak = m_in_use; }
    /// Later allocations fail once blocks would exceed this many bytes.
    void set_budget(uint64_t bytes) { m_budget = bytes; }

private:
    struct Block {
        uint64_t size;
        std::vector<uint8_t> bytes;
    };
    /// The block containing `address` and the offset in it.
    const Block* find(uint64_t address, uint64_t& offset) const;
    Block* find(uint64_t address, uint64_t& offset) {
        return const_cast<Block*>(static_cast<const Kernel*>(this)->find(address, offset));
    }
    std::map<uint64_t, Block> m_blocks; ///< by start address
    uint64_t m_next = 1;                ///< addresses are never reused within one call
    uint64_t m_in_use = 0;
    uint64_t m_peak = 0;
    uint64_t m_budget = ~uint64_t(0);
    mutable uint64_t m_last_start = 0; ///< the block found last: most accesses are sequential
    mutable const Block* m_last = nullptr;
};

} // namespace kiln::plugin
