// The http family: Zeno's request shape over the plugin layer's allowlisted client, against a
// loopback server; a URL the network grant does not cover is denied and audited, and never
// reached.
#include "hostfns_test_util.hpp"

#include "hostfns/families.hpp"

#include <gtest/gtest.h>

#ifndef KILN_HAVE_HTTPLIB

TEST(HostHttp, NeedsCppHttplib) {
    GTEST_SKIP() << "cpp-httplib (libcpp-httplib-dev) was not found when configuring";
}

#else

#include <httplib.h>

#include <atomic>
#include <thread>

namespace kiln {
namespace {

using namespace hostfns_test;
using namespace hostfns;

struct Server {
    httplib::Server server;
    std::thread thread;
    int port = 0;
    std::atomic<int> requests{0};

    Server() {
        server.Get("/json", [this](const httplib::Request&, httplib::Response& r) {
            ++requests;
            r.set_header("X-Kind", "json");
            r.set_content(R"({"a":1})", "application/json");
        });
        server.Post("/echo", [this](const httplib::Request& q, httplib::Response& r) {
            ++requests;
            r.set_content(q.get_header_value("Content-Type") + " " + q.body, "text/plain");
        });
        server.Get("/secret", [this](const httplib::Request&, httplib::Response& r) {
            ++requests;
            r.set_content("nope", "text/plain");
        });
        port = server.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { server.listen_after_bind(); });
        for (int i = 0; i < 2000 && !server.is_running(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~Server() {
        server.stop();
        thread.join();
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port) + path;
    }
};

TEST(HostHttp, ZenoShapedRequestsWithinTheGrant) {
    Server s;
    ASSERT_GT(s.port, 0);
    Permissions p;
    p.network = {s.url("/json"), "http://127.0.0.1:" + std::to_string(s.port) + "/echo*"};
    Family f(p);
    f.ctx->set_limits({{"127.0.0.1"}, 1 << 20});
    auto got = http_request(*f.ctx, json{{"url", s.url("/json")}});
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ((*got)["status"], 200);
    EXPECT_EQ((*got)["body"], json({{"a", 1}}));
    EXPECT_EQ((*got)["headers"]["x-kind"], "json");
    auto posted = http_request(*f.ctx, json{{"url", s.url("/echo")},
                                            {"method", "POST"},
                                            {"headers", {{"X-A", "1"}}},
                                            {"body", {{"x", 1}}}});
    ASSERT_TRUE(posted) << posted.error().message;
    EXPECT_EQ((*posted)["body"], "application/json {\"x\":1}");
    auto raw = http_request(*f.ctx, json{{"url", s.url("/echo")},
                                         {"method", "POST"},
                                         {"headers", {{"Content-Type", "text/csv"}}},
                                         {"body", "a,b"}});
    ASSERT_TRUE(raw) << raw.error().message;
    EXPECT_EQ((*raw)["body"], "text/csv a,b");
    EXPECT_EQ(s.requests.load(), 3);
    auto denied = http_request(*f.ctx, json{{"url", s.url("/secret")}});
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().kind, ErrorKind::denied);
    EXPECT_EQ(s.requests.load(), 3);
    EXPECT_EQ(f.audit(), std::vector<std::string>{"p network " + s.url("/secret")});
    EXPECT_EQ(error_of(http_request(*f.ctx, json{{"url", s.url("/json")}, {"verb", "GET"}})),
              "http_request: unknown field \"verb\"");
}

} // namespace
} // namespace kiln

#endif
