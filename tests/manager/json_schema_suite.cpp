// Debian's json-schema-test-suite (the JSON Schema Test Suite, draft 7) against Kiln's
// config_schema subset: for each file of a keyword Kiln supports, every schema group is checked
// by check_schema() and each of its tests validated, the verdict compared with the suite's.
// Groups and tests outside the subset are named in a checked-in skip list with the reason; one
// that passes while listed fails the run, so the list only shrinks.
//
//   kiln-json-schema-suite SUITE_DIR SKIP_LIST    (SUITE_DIR: .../tests/draft7)
//
// Exit 0 when everything not skipped agrees, 1 otherwise, 77 without the suite.
#include "base/file.hpp"
#include "manager/schema.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace {

using kiln::plugin::Json;

/// The keywords of the subset, whose files are run.
const char* const files[] = {"type",    "properties", "required", "enum",
                             "default", "minimum",    "maximum",  "items"};

/// "FILE | GROUP | TEST | REASON", TEST "*" for a whole group; # starts a comment.
struct SkipList {
    std::map<std::string, std::string> reasons; ///< "FILE | GROUP | TEST" -> reason
    std::set<std::string> used;

    static std::string key(const std::string& file, const std::string& group,
                           const std::string& test) {
        return file + " | " + group + " | " + test;
    }
    bool load(const std::string& path) {
        std::ifstream in(path);
        if (!in) return false;
        for (std::string line; std::getline(in, line);) {
            if (line.empty() || line[0] == '#') continue;
            const size_t last = line.rfind(" | ");
            if (last == std::string::npos) continue;
            reasons[line.substr(0, last)] = line.substr(last + 3);
        }
        return true;
    }
    /// Whether the test (or its whole group) is listed; marks the entry used.
    bool skips(const std::string& file, const std::string& group, const std::string& test) {
        for (const std::string& k : {key(file, group, "*"), key(file, group, test)})
            if (reasons.count(k)) {
                used.insert(k);
                return true;
            }
        return false;
    }
};

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SUITE_DIR SKIP_LIST\n", argv[0]);
        return 2;
    }
    const std::filesystem::path suite = argv[1];
    if (!std::filesystem::is_directory(suite)) {
        std::printf("json-schema-suite: %s not found (apt-get install json-schema-test-suite)\n",
                    suite.c_str());
        return 77;
    }
    SkipList skip;
    if (!skip.load(argv[2])) {
        std::fprintf(stderr, "json-schema-suite: cannot read %s\n", argv[2]);
        return 2;
    }
    int passed = 0, skipped = 0, failed = 0;
    for (const char* name : files) {
        const std::string file = std::string(name) + ".json";
        auto bytes = kiln::read_file(suite / file);
        if (!bytes) {
            std::fprintf(stderr, "json-schema-suite: %s\n", bytes.error().message.c_str());
            return 1;
        }
        const Json groups = Json::parse(bytes->begin(), bytes->end());
        for (const Json& group : groups) {
            const std::string title = group["description"].get<std::string>();
            const Json& schema = group["schema"];
            const auto checked = kiln::manager::check_schema(schema);
            for (const Json& test : group["tests"]) {
                const std::string what = test["description"].get<std::string>();
                // A listed test runs all the same: one that passes must leave the list.
                bool agrees = false;
                std::string why;
                if (!checked) {
                    why = "schema refused: " + checked.error().message;
                } else {
                    const bool valid = test["valid"].get<bool>();
                    const auto result = kiln::manager::validate(schema, test["data"], "data");
                    agrees = result.has_value() == valid;
                    if (!agrees)
                        why = valid ? "refused valid data: " + result.error().message
                                    : "accepted invalid data";
                }
                const bool listed = skip.skips(file, title, what);
                if (listed && !agrees) {
                    ++skipped;
                } else if (listed) {
                    ++failed;
                    std::printf("PASSES BUT LISTED %s | %s | %s\n", file.c_str(), title.c_str(),
                                what.c_str());
                } else if (agrees) {
                    ++passed;
                } else {
                    ++failed;
                    std::printf("FAIL %s | %s | %s: %s\n", file.c_str(), title.c_str(),
                                what.c_str(), why.c_str());
                }
            }
        }
    }
    for (const auto& [k, reason] : skip.reasons)
        if (!skip.used.count(k)) {
            ++failed;
            std::printf("UNUSED SKIP %s\n", k.c_str());
        }
    std::printf("json-schema-suite: %d tests agree, %d skipped (listed), %d failed\n", passed,
                skipped, failed);
    return failed ? 1 : 0;
}
