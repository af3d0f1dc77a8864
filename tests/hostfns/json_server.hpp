// A loopback HTTP server for the tests of the http family through guests, where cpp-httplib is
// there (KILN_HAVE_HTTPLIB); without it, a URL nothing answers.
#pragma once

#ifdef KILN_HAVE_HTTPLIB
#include <httplib.h>
#endif

#include <chrono>
#include <string>
#include <thread>

namespace kiln::hostfns_test {

/// A loopback server answering GET /json with {"a":1}, where cpp-httplib is there.
struct JsonServer {
#ifdef KILN_HAVE_HTTPLIB
    httplib::Server server;
    std::thread thread;
    int port = 0;
    JsonServer() {
        server.Get("/json", [](const httplib::Request&, httplib::Response& r) {
            r.set_content(R"({"a":1})", "application/json");
        });
        port = server.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { server.listen_after_bind(); });
        for (int i = 0; i < 2000 && !server.is_running(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~JsonServer() {
        server.stop();
        thread.join();
    }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(port) + "/json";
    }
    static constexpr bool running = true;
#else
    std::string url() const {
        return "http://127.0.0.1:9/json";
    }
    static constexpr bool running = false;
#endif
};

} // namespace kiln::hostfns_test
