#include "base/file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace kiln {

namespace {

/// strerror's text as the rest of a message: "no such file or directory".
std::string errno_text(int error) {
    std::string text = std::generic_category().message(error);
    if (!text.empty()) text[0] = char(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
}

const char* file_type(mode_t mode) {
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a named pipe";
    if (S_ISSOCK(mode)) return "a socket";
    return "of an unknown type";
}

struct Descriptor {
    int fd;
    ~Descriptor() { ::close(fd); }
};

} // namespace

Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path) {
    const std::string name = path.string();
    auto fail = [&](std::string_view what) {
        return make_error(ErrorKind::io, fmt::format("{}: {}", name, what));
    };
    // O_NONBLOCK: opening a FIFO that has no writer would otherwise wait for one before fstat
    // could refuse it. Reads of a regular file ignore the flag.
    int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return fail(errno_text(errno));
    Descriptor file{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(errno_text(errno));
    if (S_ISDIR(st.st_mode)) return fail("is a directory");
    if (!S_ISREG(st.st_mode))
        return fail(fmt::format("not a regular file ({})", file_type(st.st_mode)));

    // One byte more than fstat says, so that the read reaching the end is seen without growing
    // the buffer. A file that is longer than it said (it grew, or it is generated, as in /proc)
    // is read on in large steps.
    std::vector<uint8_t> bytes(size_t(st.st_size) + 1);
    size_t used = 0;
    for (;;) {
        if (used == bytes.size()) bytes.resize(used + std::max<size_t>(used, 64 * 1024));
        ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail("read error: " + errno_text(errno));
        }
        if (n == 0) break;
        used += size_t(n);
    }
    bytes.resize(used);
    return bytes;
}

} // namespace kiln
