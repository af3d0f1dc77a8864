// kiln::read_file, the one whole-file reader: regular files in one piece, everything else refused
// with an io error naming the path (a directory once aborted kiln, /dev/zero was read forever).
#include "base/file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using kiln::ErrorKind;
using kiln::read_file;

class ReadFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() / ("kiln-read-file-" + std::to_string(getpid()));
        fs::create_directories(dir);
    }
    void TearDown() override { fs::remove_all(dir); }

    fs::path write(const std::string& name, const std::string& bytes) {
        fs::path p = dir / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }

    /// The io error for `path`, which must name it and say `what`.
    void expect_io_error(const fs::path& path, const std::string& what) {
        auto r = read_file(path);
        ASSERT_FALSE(r) << path << " was read";
        EXPECT_EQ(r.error().kind, ErrorKind::io);
        EXPECT_EQ(r.error().message, path.string() + ": " + what);
    }

    fs::path dir;
};

TEST_F(ReadFile, ReadsARegularFileWhole) {
    std::string bytes(3 << 20, '\0');
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = char(i * 7 + (i >> 12));
    auto r = read_file(write("big.bin", bytes));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(std::string(r->begin(), r->end()), bytes);

    auto empty = read_file(write("empty", ""));
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_TRUE(empty->empty());
}

// Files of /proc say they hold 0 bytes and hold more: the read goes on to the end.
TEST_F(ReadFile, ReadsPastTheSizeTheFileClaims) {
    struct stat st {};
    ASSERT_EQ(stat("/proc/self/status", &st), 0);
    ASSERT_EQ(st.st_size, 0);
    auto r = read_file("/proc/self/status");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_NE(std::string(r->begin(), r->end()).find("Pid:"), std::string::npos);
}

TEST_F(ReadFile, MissingFileNamesThePath) {
    expect_io_error(dir / "absent.wasm", "no such file or directory");
}

TEST_F(ReadFile, DirectoryIsAnIoErrorNotAnAbort) {
    expect_io_error(dir, "is a directory");
}

TEST_F(ReadFile, DevZeroIsRefusedNotReadForever) {
    expect_io_error("/dev/zero", "not a regular file (a character device)");
}

TEST_F(ReadFile, FifoIsRefusedWithoutWaitingForAWriter) {
    fs::path fifo = dir / "fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    auto start = std::chrono::steady_clock::now();
    expect_io_error(fifo, "not a regular file (a named pipe)");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

} // namespace
