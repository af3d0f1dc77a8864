// Reading a whole file: the one reader of modules, manifests and scripts in the tree.
#pragma once

#include "base/result.hpp"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace kiln {

/// The contents of the regular file at `path`, read in one piece (its size from fstat, then one
/// read loop). A directory, a device, a FIFO or a socket is refused rather than read: a device
/// such as /dev/zero never ends. Every error is of kind io and names the path, e.g.
/// "plugin.wasm: no such file or directory", "plugins: is a directory",
/// "/dev/zero: not a regular file (a character device)".
Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path);

} // namespace kiln
