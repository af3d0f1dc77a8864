// Reflow-ABI wasm actors: the ActorContext a guest gets, every message kind both ways,
// __send_output (plain values, sent before the outputs), state replaced or kept, failures, a
// fresh instance per message, Reflow's first actor format, the counter and accumulator examples
// in C, Rust and AssemblyScript, the AssemblyScript kit, a WASI command whose _start is never
// called, and hot swap (by hand and by the manager's reload) with the state kept. The actors are
// built from source with the kits: tests/actors/fixtures and examples/plugins/actors.
#include "base/file.hpp"
#include "manager_test_util.hpp"
#include "test_util.hpp"

#include <kiln/actors.hpp>
#include <kiln/module_info.hpp>
#include <kiln/wasi.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>

namespace kiln {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::ordered_json;

std::string fixture(const std::string& name) {
    return std::string(KILN_ACTOR_FIXTURES) + "/" + name;
}

std::string example(const std::string& name) {
    return std::string(KILN_ACTOR_EXAMPLES) + "/" + name;
}

bool built(const std::string& path) {
    return std::filesystem::exists(path);
}

#define REQUIRE_BUILT(path)                                                                        \
    if (!built(path)) GTEST_SKIP() << path << " was not built (no wasm toolchain)"

/// Everything that left the exposed out-ports and the runtime's log, in order.
struct Recorder {
    std::mutex mutex;
    std::vector<std::pair<std::string, Message>> outputs;
    std::vector<std::string> log;

    void attach(NetworkOptions& o) {
        o.on_output = [this](const OutputEvent& e) {
            std::lock_guard lock(mutex);
            outputs.emplace_back(std::string(e.port), e.message);
        };
        o.log = [this](LogLevel level, std::string_view line) {
            std::lock_guard lock(mutex);
            log.push_back(std::string(log_level_name(level)) + ": " + std::string(line));
        };
    }
    std::vector<std::pair<std::string, Message>> take() {
        std::lock_guard lock(mutex);
        return std::exchange(outputs, {});
    }
    /// The messages of one exposed port.
    std::vector<Message> on(std::string_view port) {
        std::lock_guard lock(mutex);
        std::vector<Message> out;
        for (const auto& [p, m] : outputs)
            if (p == port) out.push_back(m);
        return out;
    }
};

/// The probe (tests/actors/fixtures/probe.c) as node `p`, every out-port exposed by its name.
class Probe : public ::testing::Test {
protected:
    void SetUp() override {
        if (!built(fixture("probe.wasm"))) GTEST_SKIP() << "probe.wasm was not built";
        NetworkOptions o;
        o.threads = 2;
        o.getenv = [](const std::string&) { return std::nullopt; };
        recorder.attach(o);
        json graph = {{"properties", {{"name", "probe"}}},
                      {"processes",
                       {{"p",
                         {{"component", "Probe"},
                          {"metadata",
                           {{"source", fixture("probe.wasm")},
                            {"x", 1},
                            {"env_vars", {{"MODE", "optional:fast"}}}}}}}}},
                      {"outports", json::object()}};
        for (const char* port : {"seen", "got", "out", "a", "b", "error"})
            graph["outports"][port] = {{"nodeId", "p"}, {"portId", port}};
        auto g = Graph::parse(graph.dump());
        ASSERT_TRUE(g) << g.error().message;
        auto n = Network::create(*g, o);
        ASSERT_TRUE(n) << n.error().message;
        net = std::move(*n);
        ASSERT_TRUE(net->start());
    }
    /// Sends a command object and waits until it is done.
    void cmd(const json& command) {
        auto m = Message::json(MessageKind::object, command.dump());
        ASSERT_TRUE(m);
        ASSERT_TRUE(net->send("p", "cmd", *m));
        ASSERT_TRUE(net->wait_idle(10s));
    }
    /// What the guest saw of a message sent to `in`: its whole ActorContext.
    json seen(Message m) {
        recorder.take();
        EXPECT_TRUE(net->send("p", "in", std::move(m)));
        EXPECT_TRUE(net->wait_idle(10s));
        auto out = recorder.take();
        EXPECT_EQ(out.size(), 1u);
        if (out.size() != 1 || out[0].second.kind() != MessageKind::object) return nullptr;
        return json::parse(out[0].second.text());
    }
    json state() { return json::parse(*net->state("p")); }

    Recorder recorder;
    std::unique_ptr<Network> net;
};

TEST_F(Probe, ContextAsTheGuestGetsIt) {
    json context = seen(Message::integer(5));
    EXPECT_EQ(context, json::parse(R"({
        "payload": {"in": {"type": "Integer", "data": 5}},
        "config": {"node_id": "p", "component": "Probe", "resolved_env": {"MODE": "fast"},
                   "config": {"x": 1, "MODE": "fast"}, "namespace": null},
        "state": {}})"));
}

TEST_F(Probe, EveryKindHostToGuest) {
    const Message kinds[] = {
        Message::flow(),
        *Message::json(MessageKind::event, R"({"e":1})"),
        Message::boolean(false),
        Message::integer(-3),
        Message::floating(0.25),
        Message::string("h\u00e9 \"q\""),
        *Message::json(MessageKind::object, R"({"o":{"n":[1]}})"),
        *Message::json(MessageKind::array, R"([1,"two",null])"),
        Message::stream({0, 7, 255}),
        Message::none(),
        *Message::json(MessageKind::optional, R"("some")"),
        *Message::json(MessageKind::any, "12.5"),
        Message::error("bad"),
    };
    for (const Message& m : kinds) {
        json context = seen(m);
        // Plain JSON in data (not Reflow's bytes-in-an-object encoding of Object and friends).
        EXPECT_EQ(context["payload"]["in"], json::parse(m.to_tagged())) << m.to_tagged();
    }
}

TEST_F(Probe, EveryKindGuestToHost) {
    const char* tagged[] = {
        R"({"type":"Flow"})",
        R"({"type":"Event","data":{"e":1}})",
        R"({"type":"Boolean","data":true})",
        R"({"type":"Integer","data":42})",
        R"({"type":"Float","data":1.0})",
        R"({"type":"String","data":"s\n"})",
        R"({"type":"Object","data":{"a":[1,{}]}})",
        R"({"type":"Array","data":[true,1.5]})",
        R"({"type":"Stream","data":[104,105]})",
        R"({"type":"Optional","data":null})",
        R"({"type":"Optional","data":3})",
        R"({"type":"Any","data":[]})",
        R"({"type":"Error","data":"oops"})",
    };
    for (const char* t : tagged) {
        cmd({{"outputs", {{"out", json::parse(t)}}}});
        auto got = recorder.on("out");
        ASSERT_EQ(got.size(), 1u) << t;
        EXPECT_EQ(got[0], *Message::from_tagged(t)) << t;
        recorder.take();
    }
}

// __send_output sends plain values at once, converted by their JSON type, in call order and
// before the result's outputs.
TEST_F(Probe, SendOutputArrivesBeforeTheOutputs) {
    cmd({{"send",
          json::array(
              {{{"a", 1}}, {{"a", "x"}, {"b", 1.5}}, {{"b", nullptr}}, {{"out", {{"k", true}}}}})},
         {"outputs", {{"out", {{"type", "String"}, {"data", "last"}}}}}});
    auto out = recorder.take();
    std::vector<std::pair<std::string, Message>> want = {
        {"a", Message::integer(1)},
        {"a", Message::string("x")},
        {"b", Message::floating(1.5)},
        {"b", Message::none()},
        {"out", *Message::json(MessageKind::object, R"({"k":true})")},
        {"out", Message::string("last")},
    };
    EXPECT_EQ(out, want);
}

TEST_F(Probe, StateKeptReplacedAndRead) {
    // No state in the result keeps what __set_state left.
    cmd({{"set", {{"k", 1}, {"j", json::array({2})}}}});
    EXPECT_EQ(state(), json::parse(R"({"k":1,"j":[2]})"));
    // __get_state sees the live state; a missing key reads as null.
    cmd({{"set", {{"k", 2}}}, {"get", json::array({"k", "j", "missing"})}});
    auto got = recorder.on("got");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(json::parse(got[0].text()), json::parse(R"({"k":2,"j":[2],"missing":null})"));
    // A state object in the result replaces the whole state: keys set during the call go.
    cmd({{"set", {{"z", 3}}}, {"state", {{"only", true}}}});
    EXPECT_EQ(state(), json::parse(R"({"only":true})"));
    // The next call's context carries it.
    EXPECT_EQ(seen(Message::flow())["state"], json::parse(R"({"only":true})"));
    // An empty object empties it; null keeps it.
    cmd({{"state", nullptr}});
    EXPECT_EQ(state(), json::parse(R"({"only":true})"));
    cmd({{"state", json::object()}});
    EXPECT_EQ(state(), json::object());
}

TEST_F(Probe, FailuresBecomeErrorMessages) {
    cmd({{"fail", "boom"}});
    cmd({{"trap", true}});
    cmd({{"raw", "not json"}});
    cmd({{"raw", "[]"}});
    cmd({{"raw", R"({"state":{"x":1}})"}});
    auto errors = recorder.on("error");
    ASSERT_EQ(errors.size(), 5u);
    for (const Message& e : errors)
        EXPECT_EQ(e.kind(), MessageKind::error);
    EXPECT_NE(errors[0].text().find("boom"), std::string::npos) << errors[0].text();
    EXPECT_NE(errors[1].text().find("unreachable"), std::string::npos) << errors[1].text();
    EXPECT_EQ(errors[2].text(), "ActorResult: not valid JSON: not json");
    EXPECT_EQ(errors[3].text(), "invalid ActorResult: expected an object, got array");
    EXPECT_EQ(errors[4].text(), "invalid ActorResult: missing outputs");
    // A failed call leaves the state alone, and the node goes on.
    EXPECT_EQ(state(), json::object());
    cmd({{"outputs", {{"a", {{"type", "Integer"}, {"data", 1}}}}}});
    EXPECT_EQ(recorder.on("a").size(), 1u);
    EXPECT_EQ(net->stats().failed, 5u);
}

TEST_F(Probe, UnknownOutputKindIsDroppedWithAWarning) {
    cmd({{"outputs",
          {{"out", {{"type", "Encoded"}, {"data", json::array({1})}}},
           {"a", {{"type", "Integer"}, {"data", 2}}},
           {"b", {{"type", "Integer"}, {"data", "two"}}}}}});
    auto out = recorder.take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], (std::pair<std::string, Message>{"a", Message::integer(2)}));
    std::lock_guard lock(recorder.mutex);
    EXPECT_EQ(recorder.log,
              (std::vector<std::string>{
                  "warn: node p: output out dropped: message: unknown type \"Encoded\"",
                  "warn: node p: output b dropped: Integer message: data: expected an integer, "
                  "got string"}));
}

// The probe keeps `raw` in a static: an instance reused across messages would output it again.
TEST_F(Probe, FreshInstanceForEveryMessage) {
    cmd({{"raw", R"({"outputs":{"out":{"type":"Integer","data":7}}})"}});
    cmd({{"outputs", {{"a", {{"type", "Integer"}, {"data", 1}}}}}});
    auto out = recorder.take();
    std::vector<std::pair<std::string, Message>> want = {{"out", Message::integer(7)},
                                                         {"a", Message::integer(1)}};
    EXPECT_EQ(out, want);
    auto node = net->node("p");
    ASSERT_TRUE(node);
    EXPECT_EQ(node->abi, "current");
    EXPECT_EQ(node->source, fixture("probe.wasm"));
    ASSERT_TRUE(node->spec);
    EXPECT_EQ(node->spec->component, "Probe");
    EXPECT_EQ(node->spec->config_schema, R"({"type":"object"})");
}

// Reflow's first format: i64-returning host functions, a flat map in and out, no metadata.
TEST(ActorReflow, LegacyFormat) {
    REQUIRE_BUILT(fixture("legacy.wasm"));
    Recorder recorder;
    NetworkOptions o;
    recorder.attach(o);
    json graph = {
        {"processes",
         {{"l", {{"component", "Legacy"}, {"metadata", {{"source", fixture("legacy.wasm")}}}}}}},
        {"inports", {{"X", {{"nodeId", "l"}, {"portId", "x"}}}}},
        {"outports", json::object()}};
    for (const char* port : {"early", "port", "echo", "previous", "error"})
        graph["outports"][port] = {{"nodeId", "l"}, {"portId", port}};
    auto net = Network::create(*Graph::parse(graph.dump()), o);
    ASSERT_TRUE(net) << net.error().message;
    auto node = (*net)->node("l");
    EXPECT_EQ(node->abi, "legacy");
    EXPECT_FALSE(node->spec);
    ASSERT_TRUE((*net)->start());
    ASSERT_TRUE((*net)->send_inport("X", Message::string("hi")));
    ASSERT_TRUE((*net)->wait_idle(10s));
    ASSERT_TRUE((*net)->send_inport("X", Message::integer(5)));
    ASSERT_TRUE((*net)->wait_idle(10s));
    auto out = recorder.take();
    std::vector<std::pair<std::string, Message>> want = {
        {"early", Message::string("x")}, {"port", Message::string("x")},
        {"echo", Message::string("hi")}, {"previous", Message::none()},
        {"early", Message::string("x")}, {"port", Message::string("x")},
        {"echo", Message::integer(5)},   {"previous", Message::string("hi")},
    };
    EXPECT_EQ(out, want);
    EXPECT_EQ(*(*net)->state("l"), R"({"last":5})");
}

/// Runs an example graph; the messages of each exposed port, in order.
void run_example(const std::string& file, Recorder& recorder, std::unique_ptr<Network>& net) {
    auto g = Graph::from_file(file);
    ASSERT_TRUE(g) << g.error().message;
    NetworkOptions o;
    recorder.attach(o);
    auto n = Network::create(*g, o);
    ASSERT_TRUE(n) << n.error().message;
    net = std::move(*n);
    ASSERT_TRUE(net->start());
    ASSERT_TRUE(net->wait_idle(10s));
}

void expect_counter_run(const std::string& graph) {
    REQUIRE_BUILT(graph);
    Recorder recorder;
    std::unique_ptr<Network> net;
    run_example(graph, recorder, net);
    ASSERT_TRUE(net);
    auto ints = [&](const char* port) {
        std::vector<int64_t> v;
        for (const Message& m : recorder.on(port))
            v.push_back(m.as_integer());
        return v;
    };
    // Initial packets increment, increment, decrement.
    EXPECT_EQ(ints("count"), (std::vector<int64_t>{1, 2, 1}));
    EXPECT_EQ(ints("running"), (std::vector<int64_t>{1, 3, 4}));
    EXPECT_EQ(ints("total"), (std::vector<int64_t>{1, 3, 4}));
    // Each running sum (__send_output) left before the total of the same call.
    int running = 0, total = 0;
    for (const auto& [port, m] : recorder.take()) {
        if (port == "running") ++running;
        if (port == "total") EXPECT_EQ(++total, running);
    }
    EXPECT_EQ(*net->state("counter"), R"({"count":1})");
    EXPECT_EQ(*net->state("sum"), R"({"sum":4,"count":3})");
    EXPECT_EQ(net->stats().failed, 0u);
}

TEST(ActorReflow, CounterAndAccumulatorInC) {
    REQUIRE_BUILT(example("counter.wasm"));
    expect_counter_run(example("counter.graph.json"));
}

TEST(ActorReflow, CounterAndAccumulatorInRust) {
    REQUIRE_BUILT(example("counter_rust.wasm"));
    expect_counter_run(example("counter_rust.graph.json"));
}

TEST(ActorReflow, CounterAndAccumulatorInAssemblyScript) {
    REQUIRE_BUILT(example("counter_as.wasm"));
    expect_counter_run(example("counter_as.graph.json"));
}

// The AssemblyScript kit (tests/actors/fixtures/kit_as.ts) reads every kind of message and
// writes it back unchanged, as a tagged output and as a plain value sent at once; it stores and
// reads state through the host functions, and reads the context.
TEST(ActorReflow, AssemblyScriptKitRoundTrip) {
    REQUIRE_BUILT(fixture("kit_as.wasm"));
    Recorder recorder;
    NetworkOptions o;
    o.threads = 1;
    o.getenv = [](const std::string&) { return std::nullopt; };
    recorder.attach(o);
    json graph = {{"properties", {{"name", "kit"}}},
                  {"processes",
                   {{"k",
                     {{"component", "KitAs"},
                      {"metadata",
                       {{"source", fixture("kit_as.wasm")},
                        {"x", {{"deep", json::array({1, "two"})}}},
                        {"env_vars", {{"MODE", "optional:fast"}}}}}}}}},
                  {"outports", json::object()}};
    for (const char* port : {"out", "plain", "stored", "context", "error"})
        graph["outports"][port] = {{"nodeId", "k"}, {"portId", port}};
    auto g = Graph::parse(graph.dump());
    ASSERT_TRUE(g) << g.error().message;
    auto n = Network::create(*g, o);
    ASSERT_TRUE(n) << n.error().message;
    auto& net = *n;
    ASSERT_TRUE(net->node("k")->spec);
    EXPECT_EQ(net->node("k")->spec->component, "KitAs");
    EXPECT_EQ(net->node("k")->spec->outports.size(), 4u);
    EXPECT_EQ(net->node("k")->spec->config_schema, R"({"type":"object"})");
    ASSERT_TRUE(net->start());

    const Message kinds[] = {
        Message::flow(),
        *Message::json(MessageKind::event, R"({"e":[1,{"f":null}]})"),
        Message::boolean(true),
        Message::integer(INT64_MIN),
        Message::integer(INT64_MAX),
        Message::floating(2.0),
        Message::floating(-1.5e-7),
        Message::string("q\"\\\n\t\u0001 h\u00e9 \U0001F600"),
        *Message::json(MessageKind::object, R"({"o":{"n":[1,2.5,"s"]},"e":{}})"),
        *Message::json(MessageKind::array, R"([1,"two",null,[],true])"),
        Message::stream({0, 7, 255}),
        Message::none(),
        *Message::json(MessageKind::optional, R"("some")"),
        *Message::json(MessageKind::any, "12.5"),
        Message::error("bad"),
    };
    int calls = 0;
    for (const Message& m : kinds) {
        recorder.take();
        ASSERT_TRUE(net->send("k", "in", m));
        ASSERT_TRUE(net->wait_idle(10s));
        ++calls;
        auto out = recorder.take();
        ASSERT_EQ(out.size(), 4u) << m.to_tagged();
        // The plain value is sent during the call, before the outputs.
        EXPECT_EQ(out[0].first, "plain");
        EXPECT_EQ(out[0].second, *Message::from_plain(m.to_plain())) << m.to_tagged();
        std::map<std::string, Message> by_port(out.begin() + 1, out.end());
        EXPECT_EQ(by_port["out"], m) << m.to_tagged();
        EXPECT_EQ(by_port["stored"], m.to_plain() == "null"
                                         ? Message::none()
                                         : *Message::json(MessageKind::optional, m.to_plain()))
            << m.to_tagged();
        json context = json::parse(by_port["context"].text());
        EXPECT_EQ(context, json::parse(R"({"port":"in","node":"k","component":"KitAs",
            "config":{"x":{"deep":[1,"two"]},"MODE":"fast"},"env":{"MODE":"fast"},
            "kind":")" + std::string(message_kind_name(m.kind())) +
                                       R"("})"));
        json state = json::parse(*net->state("k"));
        EXPECT_EQ(state["calls"], calls);
        EXPECT_EQ(state["last"], json::parse(m.to_plain()));
    }
    // A failure set with fail() reaches the error port; the state stays.
    ASSERT_TRUE(net->send("k", "in", Message::string("fail")));
    ASSERT_TRUE(net->wait_idle(10s));
    auto errors = recorder.on("error");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].text().find("asked to fail"), std::string::npos) << errors[0].text();
    EXPECT_EQ(json::parse(*net->state("k"))["calls"], calls);
    EXPECT_EQ(net->stats().failed, 1u);
}

// A WASI command (tests/actors/fixtures/wasi_command.c) runs as an actor: WASI is linked (its
// clock, stdout and libc work in process) and _start, whose main would leave marks in the state,
// on stdout and in the instance before ending with proc_exit, is never called.
TEST(ActorReflow, WasiCommandLinkedAndNeverStarted) {
    const std::string wasm = fixture("wasi_command.wasm");
    REQUIRE_BUILT(wasm);
    // The fixture is what the test needs: a command that imports WASI.
    auto bytes = read_file(wasm);
    ASSERT_TRUE(bytes);
    auto info = ModuleInfo::decode(*bytes);
    ASSERT_TRUE(info) << info.error().message;
    bool imports_wasi = false, proc_exit = false, has_start = false;
    for (const auto& i : info->imports()) {
        imports_wasi = imports_wasi || i.module == "wasi_snapshot_preview1";
        proc_exit = proc_exit || i.name == "proc_exit";
    }
    for (const auto& e : info->exports())
        has_start = has_start || e.name == "_start";
    ASSERT_TRUE(imports_wasi && proc_exit && has_start);

    Recorder recorder;
    std::mutex stdout_mutex;
    std::string stdout_text;
    NetworkOptions o;
    o.threads = 1;
    recorder.attach(o);
    o.plugin_options.wasi_stdout = WasiStream::callback([&](std::string_view text) {
        std::lock_guard lock(stdout_mutex);
        stdout_text += text;
    });
    json graph = {
        {"processes", {{"w", {{"component", "WasiCommand"}, {"metadata", {{"source", wasm}}}}}}},
        {"connections", json::array({{{"data", 5}, {"to", {{"nodeId", "w"}, {"portId", "in"}}}},
                                     {{"data", 6}, {"to", {{"nodeId", "w"}, {"portId", "in"}}}}})},
        {"outports",
         {{"out", {{"nodeId", "w"}, {"portId", "out"}}},
          {"error", {{"nodeId", "w"}, {"portId", "error"}}}}}};
    auto net = Network::create(*Graph::parse(graph.dump()), o);
    ASSERT_TRUE(net) << net.error().message;
    ASSERT_TRUE((*net)->node("w")->spec);
    EXPECT_EQ((*net)->node("w")->spec->component, "WasiCommand");
    ASSERT_TRUE((*net)->start());
    ASSERT_TRUE((*net)->wait_idle(10s));
    auto out = recorder.on("out");
    ASSERT_EQ(out.size(), 2u);
    for (int k = 0; k < 2; ++k)
        EXPECT_EQ(json::parse(out[k].text()),
                  json({{"main_ran", 0}, {"clock", true}, {"heap", true}, {"n", 5 + k}}));
    EXPECT_TRUE(recorder.on("error").empty());
    EXPECT_EQ(*(*net)->state("w"), "{}");
    std::lock_guard lock(stdout_mutex);
    EXPECT_EQ(stdout_text, "process 5\nprocess 6\n");
}

TEST(ActorReflow, HotSwapToAnotherModuleKeepsState) {
    REQUIRE_BUILT(example("counter_rust.wasm"));
    Recorder recorder;
    std::unique_ptr<Network> net;
    run_example(example("counter.graph.json"), recorder, net);
    ASSERT_TRUE(net);
    auto rust = Manifest::from_file(example("counter_rust.wasm"));
    ASSERT_TRUE(rust);
    ASSERT_TRUE(net->swap("counter", *rust));
    EXPECT_EQ(net->node("counter")->source, example("counter_rust.wasm"));
    ASSERT_TRUE(net->send("counter", "operation", Message::string("increment")));
    ASSERT_TRUE(net->wait_idle(10s));
    EXPECT_EQ(recorder.on("count").back(), Message::integer(2));
    EXPECT_EQ(*net->state("counter"), R"({"count":2})");
    // A module that is no actor is refused and the old one stays.
    auto wat = test::wat_to_wasm(R"((module (func (export "run"))))");
    if (wat) {
        auto refused = net->swap("counter", Manifest::from_bytes(*wat));
        ASSERT_FALSE(refused);
        EXPECT_NE(refused.error().message.find("exports no `process` function"), std::string::npos);
        EXPECT_EQ(net->node("counter")->source, example("counter_rust.wasm"));
    }
}

// A node whose component is a plugin of the plugin folders follows the manager's hot reloads.
TEST(ActorReflow, PluginFoldersAndManagerReload) {
    REQUIRE_BUILT(example("counter_rust.wasm"));
    manager_test::TempDir dir;
    std::filesystem::copy_file(example("counter.wasm"), dir.path() / "Counter.wasm");
    PluginManager manager;
    manager.add_adapter(make_reflow_adapter());
    ASSERT_TRUE(manager.open(dir.str()));
    // Through the adapter the manager runs the actor by itself too.
    auto metadata = manager.call("Counter", "get_metadata", "");
    ASSERT_TRUE(metadata) << metadata.error().message;
    EXPECT_EQ(ComponentSpec::from_json(*metadata)->component, "Counter");
    Recorder recorder;
    NetworkOptions o;
    o.manager = &manager;
    recorder.attach(o);
    auto g = Graph::parse(R"({"processes": {"c": {"component": "Counter"}},
        "connections": [{"data": "increment", "to": {"nodeId": "c", "portId": "operation"}}],
        "outports": {"count": {"nodeId": "c", "portId": "value"}}})");
    ASSERT_TRUE(g);
    auto net = Network::create(*g, o);
    ASSERT_TRUE(net) << net.error().message;
    EXPECT_EQ((*net)->node("c")->source,
              "plugin Counter (" + (dir.path() / "Counter.wasm").string() + ")");
    ASSERT_TRUE((*net)->start());
    ASSERT_TRUE((*net)->wait_idle(10s));
    std::filesystem::copy_file(example("counter_rust.wasm"), dir.path() / "Counter.wasm",
                               std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(manager.reload("Counter"));
    ASSERT_TRUE((*net)->send("c", "operation", Message::string("increment")));
    ASSERT_TRUE((*net)->wait_idle(10s));
    auto counts = recorder.on("count");
    ASSERT_EQ(counts.size(), 2u);
    EXPECT_EQ(counts[1], Message::integer(2));
    // The node was given the reloaded module, and its state went on.
    {
        std::lock_guard lock(recorder.mutex);
        EXPECT_EQ(recorder.log,
                  (std::vector<std::string>{"info: node c: now runs plugin Counter (" +
                                            (dir.path() / "Counter.wasm").string() + ")"}));
    }
    EXPECT_EQ(*(*net)->state("c"), R"({"count":2})");
}

TEST(ActorReflow, ModulesThatAreNoActorsAreRefused) {
    auto no_process = test::wat_to_wasm(R"((module (func (export "run"))))");
    auto bad_import = test::wat_to_wasm(R"((module
        (import "extism:host/user" "__send_output" (func (param i32)))
        (func (export "process") (result i32) (i32.const 0))))");
    if (!no_process || !bad_import) GTEST_SKIP() << "wat2wasm is not installed";
    manager_test::TempDir dir;
    dir.write("none.wasm", *no_process);
    dir.write("bad.wasm", *bad_import);
    auto g = Graph::parse(R"({"processes": {
        "a": {"component": "A", "metadata": {"source": "none.wasm"}},
        "b": {"component": "B", "metadata": {"source": "bad.wasm"}},
        "c": {"component": "C", "metadata": {"source": "missing.wasm"}}}})",
                          (dir.path() / "g.json").string());
    ASSERT_TRUE(g);
    GraphReport r = check_graph(*g, NetworkOptions());
    ASSERT_EQ(r.problems.size(), 3u);
    const std::string d = dir.str();
    EXPECT_EQ(r.problems[0].message,
              "node a: " + d + "/none.wasm: exports no `process` function: not a Reflow actor");
    EXPECT_EQ(r.problems[1].message,
              "node b: " + d +
                  "/bad.wasm: imports extism:host/user.__send_output (i32) -> (), "
                  "which a Reflow actor host does not provide (it has "
                  "__send_output (i64) -> (), __get_state (i64) -> (i64), "
                  "__set_state (i64 i64) -> (), or with an i64 result for "
                  "Reflow's first format)");
    EXPECT_NE(r.problems[2].message.find("node c: " + d + "/missing.wasm"), std::string::npos)
        << r.problems[2].message;
}

TEST(ActorReflow, PortsAreCheckedAgainstGetMetadata) {
    REQUIRE_BUILT(example("counter.wasm"));
    auto g = Graph::parse(R"({"processes": {"c": {"component": "Counter",
        "metadata": {"source": "counter.wasm"}}},
      "connections": [{"data": 3, "to": {"nodeId": "c", "portId": "operation"}},
                      {"data": "x", "to": {"nodeId": "c", "portId": "op"}}]})",
                          example("g.json"));
    ASSERT_TRUE(g);
    GraphReport r = check_graph(*g, NetworkOptions());
    std::vector<std::string> messages;
    for (const GraphProblem& p : r.problems)
        messages.push_back(p.message);
    EXPECT_EQ(messages,
              (std::vector<std::string>{
                  "initial packet -> c.operation: type mismatch: Integer data to a String "
                  "in-port",
                  "initial packet -> c.op: node c (Counter) has no in-port op (in-ports: "
                  "operation)"}));
}

} // namespace
} // namespace kiln
