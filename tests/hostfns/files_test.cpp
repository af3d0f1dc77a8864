// The files family: read, write, list and stat under granted prefixes, read-only unless rw,
// denials audited, and no way out of a granted folder: `..`, absolute paths, symlinks to
// outside (directly, through a folder, chained), a grant naming a file that is a symlink.
#include "hostfns_test_util.hpp"

#include "hostfns/families.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace kiln {
namespace {

using namespace hostfns_test;
using namespace hostfns;
namespace fs = std::filesystem;

/// A plugin folder with data/ (read-only grant), cache/ (read-write grant), secret.txt beside
/// them (not granted) and links out of data/.
struct Files : Family {
    Files() : Family() {
        dir.write("data/a.txt", "alpha");
        dir.write("data/sub/b.txt", "beta");
        dir.write("secret.txt", "top secret");
        dir.write("cache/.keep", "");
        dir.write("note.txt", "a granted file");
        fs::create_symlink(dir.path() / "secret.txt", dir.path() / "data/escape");
        fs::create_symlink("../secret.txt", dir.path() / "data/up");
        fs::create_symlink(dir.path(), dir.path() / "data/root");
        fs::create_symlink("escape", dir.path() / "data/chain");
        fs::create_symlink("a.txt", dir.path() / "data/alias");
        fs::create_symlink("secret.txt", dir.path() / "linked.txt");
        Permissions p;
        p.filesystem = {
            {"data", false}, {"cache", true}, {"note.txt", false}, {"linked.txt", false}};
        grant(p);
    }
};

TEST(HostFiles, ReadListStatUnderGrants) {
    Files f;
    EXPECT_EQ(file_read(*f.ctx, "data/a.txt").value(), "alpha");
    EXPECT_EQ(file_read(*f.ctx, "./data/sub/b.txt").value(), "beta");
    EXPECT_EQ(file_read(*f.ctx, "data/alias").value(), "alpha"); // a link that stays inside
    EXPECT_EQ(file_read(*f.ctx, "note.txt").value(), "a granted file");
    auto list = file_list(*f.ctx, "data");
    ASSERT_TRUE(list) << list.error().message;
    std::vector<std::string> names;
    for (const auto& e : (*list)["entries"])
        names.push_back(e["name"].get<std::string>() + ":" + e["type"].get<std::string>());
    EXPECT_EQ(names, (std::vector<std::string>{"a.txt:file", "alias:symlink", "chain:symlink",
                                               "escape:symlink", "root:symlink", "sub:directory",
                                               "up:symlink"}));
    auto st = file_stat(*f.ctx, "data/a.txt");
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ((*st)["type"], "file");
    EXPECT_EQ((*st)["size"], 5);
    EXPECT_EQ((*file_stat(*f.ctx, "data"))["type"], "directory");
    EXPECT_EQ(error_of(file_read(*f.ctx, "data/none")),
              "file_read: data/none: no such file or directory");
    EXPECT_TRUE(f.audit().empty());
}

TEST(HostFiles, WriteOnlyWhereGrantedReadWrite) {
    Files f;
    ASSERT_EQ(error_of(file_write(*f.ctx, "cache/out.txt", "written")), "ok");
    EXPECT_EQ(file_read(*f.ctx, "cache/out.txt").value(), "written");
    ASSERT_EQ(error_of(file_write(*f.ctx, "cache/out.txt", "again")), "ok");
    EXPECT_EQ(file_read(*f.ctx, "cache/out.txt").value(), "again");
    auto ro = file_write(*f.ctx, "data/a.txt", "overwritten");
    ASSERT_FALSE(ro);
    EXPECT_EQ(ro.error().kind, ErrorKind::denied);
    EXPECT_EQ(ro.error().message, "p: file_write \"data/a.txt\" is not granted");
    EXPECT_EQ(file_read(*f.ctx, "data/a.txt").value(), "alpha");
    EXPECT_FALSE(file_write(*f.ctx, "new.txt", "x"));
    EXPECT_FALSE(fs::exists(f.dir.path() / "new.txt"));
    EXPECT_EQ(f.audit(),
              (std::vector<std::string>{"p file_write data/a.txt", "p file_write new.txt"}));
}

TEST(HostFiles, NothingLeadsOutOfAGrantedFolder) {
    Files f;
    for (const char* path : {"data/../secret.txt", "../secret.txt", "data/sub/../../secret.txt",
                             "secret.txt", "/etc/passwd"}) {
        auto r = file_read(*f.ctx, path);
        ASSERT_FALSE(r) << path;
        EXPECT_EQ(r.error().kind, ErrorKind::denied) << path << ": " << r.error().message;
    }
    const std::string absolute = (f.dir.path() / "secret.txt").string();
    EXPECT_FALSE(file_read(*f.ctx, absolute));
    // Symlinks inside a granted folder that point out of it.
    for (const char* path :
         {"data/escape", "data/up", "data/root/secret.txt", "data/chain", "linked.txt"}) {
        auto r = file_read(*f.ctx, path);
        ASSERT_FALSE(r) << path;
        EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
        EXPECT_EQ(r.error().message.find("top secret"), std::string::npos);
    }
    EXPECT_EQ(error_of(file_read(*f.ctx, "data/escape")),
              "file_read: data/escape: it leads out of its granted folder");
    EXPECT_FALSE(file_stat(*f.ctx, "data/root/secret.txt"));
    EXPECT_FALSE(file_list(*f.ctx, "data/root"));
    // Writing through a link out of a read-write folder.
    fs::create_symlink(f.dir.path() / "secret.txt", f.dir.path() / "cache/evil");
    EXPECT_FALSE(file_write(*f.ctx, "cache/evil", "pwned"));
    EXPECT_EQ(file_read(*f.ctx, "data/a.txt").value(), "alpha");
    std::ifstream in(f.dir.path() / "secret.txt");
    std::string secret((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(secret, "top secret");
}

TEST(HostFiles, ReadsAreBounded) {
    HostOptions o;
    o.max_file_bytes = 4;
    Family f({}, o);
    f.dir.write("data/big.txt", "12345");
    Permissions p;
    p.filesystem = {{"data", false}};
    f.grant(p);
    auto big = file_read(*f.ctx, "data/big.txt");
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().kind, ErrorKind::limit);
    EXPECT_EQ(big.error().message,
              "file_read: data/big.txt: 5 bytes, more than the 4 a read may return");
}

} // namespace
} // namespace kiln
