// Running another program from kiln (wast2json, git), waiting for it to end.
#pragma once

#include <kiln/error.hpp>

#include <string>
#include <vector>

namespace kiln::tool {

/// How a program that was started ended.
struct ProgramStatus {
    bool found = true; ///< false when `argv[0]` is not in PATH (nothing ran)
    int exit_code = 0; ///< its exit code; -1 when a signal ended it
};

/// Runs argv[0] (looked up in PATH) with `argv`, with kiln's standard streams, or with its
/// stdout and stderr sent to /dev/null when `quiet`; an io error when it cannot be started.
Result<ProgramStatus> run_program(const std::vector<std::string>& argv, bool quiet = false);

} // namespace kiln::tool
