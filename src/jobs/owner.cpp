// Owner ids and their liveness, from /proc: a process is the same one when its start time (in
// clock ticks since boot, field 22 of /proc/PID/stat) matches, so a reused pid is not taken for
// the dead worker.
#include "jobs/owner.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace kiln::jobs {

namespace {

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

const std::string& boot_id() {
    static const std::string id = read_line("/proc/sys/kernel/random/boot_id");
    return id;
}

/// Field 22 of /proc/PID/stat; empty when the process does not exist or has ended (a zombie
/// waiting for its parent is dead too).
std::string start_time(long pid) {
    std::string stat = read_line(fmt::format("/proc/{}/stat", pid));
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 22 && rest >> field; ++i) {
        if (i == 3 && (field == "Z" || field == "X")) return {};
        if (i == 22) return field;
    }
    return {};
}

struct Live {
    std::mutex mutex;
    std::set<std::string> owners;
};

Live& live() {
    static Live l;
    return l;
}

/// "BOOT_ID/PID/START_TIME/" of this process, made again in a child after fork().
std::string self_prefix() {
    static std::mutex mutex;
    static long pid = 0;
    static std::string prefix;
    std::lock_guard lock(mutex);
    if (pid != long(getpid())) {
        pid = long(getpid());
        prefix = fmt::format("{}/{}/{}/", boot_id(), pid, start_time(pid));
    }
    return prefix;
}

} // namespace

std::string new_owner() {
    static std::atomic<uint64_t> next{0};
    std::string owner = self_prefix() + std::to_string(++next);
    std::lock_guard lock(live().mutex);
    live().owners.insert(owner);
    return owner;
}

void retire_owner(const std::string& owner) {
    std::lock_guard lock(live().mutex);
    live().owners.erase(owner);
}

bool owner_alive(std::string_view owner) {
    if (owner.starts_with(self_prefix())) {
        std::lock_guard lock(live().mutex);
        return live().owners.count(std::string(owner)) != 0;
    }
    // BOOT/PID/START/N
    size_t a = owner.find('/');
    size_t b = a == std::string_view::npos ? a : owner.find('/', a + 1);
    size_t c = b == std::string_view::npos ? b : owner.find('/', b + 1);
    if (c == std::string_view::npos) return false;
    if (owner.substr(0, a) != boot_id()) return false;
    long pid = 0;
    for (char ch : owner.substr(a + 1, b - a - 1)) {
        if (ch < '0' || ch > '9') return false;
        pid = pid * 10 + (ch - '0');
    }
    std::string start = start_time(pid);
    return !start.empty() && start == owner.substr(b + 1, c - b - 1);
}

} // namespace kiln::jobs
