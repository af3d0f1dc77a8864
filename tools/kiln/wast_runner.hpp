// Runs WebAssembly spec test scripts (.wast, read by the text-format parser, or wast2json's .json
// output) against the engine, with a checked-in list of known failures.
#pragma once

#include <kiln/kiln.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tool {

/// Assertions known to fail, one per line as "FILE.wast:LINE  reason" with `#` comments.
/// Entries match by the script's file name, so the list does not depend on where the
/// testsuite lives.
class SkipList {
public:
    static Result<SkipList> load(const std::filesystem::path& path);

    /// The reason when (file, line) is listed; marks the entry as used.
    const std::string* take(std::string_view file, uint32_t line);

    /// Entries for `file` that matched no failing assertion, described for a person.
    std::vector<std::string> stale_entries(std::string_view file) const;

private:
    struct Entry {
        std::string file;
        uint32_t line = 0;
        std::string reason;
        size_t list_line = 0; ///< where the entry stands in the skip list
        bool used = false;
    };
    std::string m_path;
    std::vector<Entry> m_entries;
};

struct WastCounts {
    size_t passed = 0;
    size_t failed = 0;
    size_t skipped = 0;
    WastCounts& operator+=(const WastCounts& other) {
        passed += other.passed;
        failed += other.failed;
        skipped += other.skipped;
        return *this;
    }
};

struct WastOptions {
    bool verbose = false;          ///< print failures, skips and spectest output
    SkipList* skip_list = nullptr; ///< optional
};

/// Runs scripts one after another; each script gets a fresh Store with the spectest module.
/// Every command of a script (module, register, action, assertion) counts as one check.
class WastRunner {
public:
    explicit WastRunner(WastOptions options);

    /// Runs one script and reports skip-list entries of it that have gone stale. An error
    /// means the script could not be run at all (unreadable, not a script); failed assertions,
    /// malformed modules among them, are counted instead.
    Result<WastCounts> run_file(const std::filesystem::path& path);

private:
    WastOptions m_options;
    Engine m_engine;
};

} // namespace kiln::tool
