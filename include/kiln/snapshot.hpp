// Snapshots: the state of a store (and of the layers above it) as bytes, to restore in another
// store, in this process or another, built from the same modules.
#pragma once

#include <kiln/error.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

/// The snapshot format this Kiln writes and reads; others are refused.
inline constexpr uint32_t snapshot_format_version = 1;

/// Named sections, each written and read by one layer: "store" by Store::save, "wasi" by
/// Wasi::save, "plugin" by Plugin::snapshot. Encoded as a header (magic bytes, format version,
/// size and checksum) followed by the sections compressed with zstd.
class Snapshot {
public:
    /// Adds or replaces a section.
    void set(std::string name, std::vector<uint8_t> bytes);
    /// A section's bytes, or null when the snapshot has none of that name.
    const std::vector<uint8_t>* get(std::string_view name) const;
    /// The names of the sections, in the order they were set.
    std::vector<std::string> names() const;

    /// The encoded snapshot.
    Result<std::vector<uint8_t>> encode() const;
    /// Reads an encoded snapshot. Truncated, corrupt or foreign bytes, another format version,
    /// or a size past `max_bytes` uncompressed are refused with an error saying which.
    static Result<Snapshot> decode(std::span<const uint8_t> bytes, uint64_t max_bytes = uint64_t(16)
                                                                                        << 30);

private:
    friend class Store;
    /// encode() with one more section first, given as pieces of memory (a live store's pages,
    /// which are not copied).
    Result<std::vector<uint8_t>> encode_with(std::string_view name,
                                             std::span<const std::span<const uint8_t>> first) const;

    std::vector<std::pair<std::string, std::vector<uint8_t>>> m_sections;
};

} // namespace kiln
