#include "process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace kiln::tool {

Result<ProgramStatus> run_program(const std::vector<std::string>& args, bool quiet) {
    std::vector<char*> argv;
    for (const std::string& arg : args)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    if (quiet) {
        ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        ::posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (rc == ENOENT) return ProgramStatus{false, -1};
    if (rc != 0)
        return make_error(ErrorKind::io,
                          fmt::format("cannot run {}: {}", args[0], std::strerror(rc)));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return make_error(ErrorKind::io,
                              fmt::format("waiting for {}: {}", args[0], std::strerror(errno)));
    return ProgramStatus{true, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

} // namespace kiln::tool
