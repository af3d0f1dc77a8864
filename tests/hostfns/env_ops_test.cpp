// The env family (a denied variable absent to the guest, denied in the audit log) and host
// operations (prefix grants, unknown operations, the rate limit, what a handler is told).
#include "hostfns_test_util.hpp"

#include "hostfns/families.hpp"
#include "hostfns/operations.hpp"

#include <gtest/gtest.h>

namespace kiln {
namespace {

using namespace hostfns_test;
using namespace hostfns;

HostOptions with_env() {
    HostOptions o;
    o.getenv = [](const std::string& name) -> std::optional<std::string> {
        if (name == "HOME") return "/home/ann";
        if (name == "TOKEN") return "s3cret";
        return std::nullopt;
    };
    return o;
}

TEST(HostEnv, GrantedVariablesOnly) {
    Permissions p;
    p.env = {"HOME", "UNSET"};
    Family f(p, with_env());
    EXPECT_EQ(env_get(*f.ctx, "HOME"), std::optional<std::string>("/home/ann"));
    EXPECT_EQ(env_get(*f.ctx, "UNSET"), std::nullopt);
    EXPECT_TRUE(f.audit().empty());
    // Denied: absent to the guest, denied to the host.
    EXPECT_EQ(env_get(*f.ctx, "TOKEN"), std::nullopt);
    EXPECT_EQ(f.audit(), std::vector<std::string>{"p env TOKEN"});
}

/// A family with the operations query:files.list (answers with what it was told) and
/// action:tags.add registered.
struct Ops : Family {
    explicit Ops(Permissions p) : Family(std::move(p)) {
        services->operations->add("query:files.list", [](const HostOperationCall& c) {
            return Result<std::string>(json{
                {"plugin", c.plugin},
                {"payload", json::parse(c.payload)},
                {"library", c.library}}.dump());
        });
        services->operations->add("action:tags.add", [](const HostOperationCall&) {
            return Result<std::string>(make_error(ErrorKind::plugin, "tags: no such file"));
        });
    }
};

TEST(HostOperations, CalledWithinTheirPrefixes) {
    Permissions p;
    p.operations = {"query:"};
    Ops f(p);
    auto out = host_call(*f.ctx, "query:files.list", R"({"dir":"/"})");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, R"({"library":"","payload":{"dir":"/"},"plugin":"p"})");
    auto denied = host_call(*f.ctx, "action:tags.add", "{}");
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().kind, ErrorKind::denied);
    EXPECT_EQ(denied.error().message, "p: operation \"action:tags.add\" is not granted");
    auto unknown = host_call(*f.ctx, "query:nothing", "{}");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, "no host operation \"query:nothing\"");
    EXPECT_EQ(error_of(host_call(*f.ctx, "query:files.list", "{not json")),
              "host_call: the payload is not JSON");
    EXPECT_EQ(f.audit(), std::vector<std::string>{"p operation action:tags.add"});
    // A handler's error is the call's.
    p.operations.push_back("action:");
    f.grant(p);
    EXPECT_EQ(error_of(host_call(*f.ctx, "action:tags.add", "{}")), "tags: no such file");
}

TEST(HostOperations, LibrariesAndTheRateLimit) {
    Permissions p;
    p.operations = {"query:"};
    p.libraries = {"123e4567-e89b-12d3-a456-426614174000"};
    p.calls_per_minute = 3;
    Ops f(p);
    auto out = host_call(*f.ctx, "query:files.list", "1", "123e4567-e89b-12d3-a456-426614174000");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(json::parse(*out)["library"], "123e4567-e89b-12d3-a456-426614174000");
    EXPECT_FALSE(
        host_call(*f.ctx, "query:files.list", "1", "00000000-0000-0000-0000-000000000000"));
    // Each check counts: two so far for the first call, one for the second.
    auto over = host_call(*f.ctx, "query:files.list", "1");
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().message, "p: over its rate limit of 3 calls a minute");
    EXPECT_EQ(f.audit(), (std::vector<std::string>{"p library 00000000-0000-0000-0000-000000000000",
                                                   "p rate query:files.list"}));
}

} // namespace
} // namespace kiln
