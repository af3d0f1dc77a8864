// Events, commands, slots and UI blocks with real plugins through the manager and a
// HostLibrary: the notes example (examples/plugins/notes, C with kiln/dispatch.h, built from
// source) and plugins written here in WAT for what notes does not show (permissions, missing
// exports).
#include "hostfns_test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace kiln {
namespace {

using namespace hostfns_test;

/// A manager with the host library over a folder holding the notes example; skips the test
/// when the example was not built (no clang for wasm32).
struct Notes : Hosted {
    TempDir dir;
    bool built = false;

    explicit Notes(HostOptions options = {}) : Hosted(std::move(options)) {
        namespace fs = std::filesystem;
        const fs::path from = fs::path(KILN_EXAMPLE_PLUGINS) / "notes";
        if (!fs::exists(from / "notes.wasm")) return;
        fs::create_directories(dir.path() / "notes");
        for (const char* f : {"notes.wasm", "kiln.yaml"})
            fs::copy_file(from / f, dir.path() / "notes" / f);
        built = manager->open(dir.str()).has_value();
    }
    Dispatch& d() { return host.dispatch(); }
    Result<std::string> invoke(std::string_view command, std::string_view payload = "null") {
        return d().invoke("notes", command, payload);
    }
};

#define NEED_NOTES(n)                                                                              \
    if (!(n).built) GTEST_SKIP() << "the notes example was not built (" KILN_EXAMPLE_PLUGINS ")"

TEST(NotesPlugin, InitializeRegistersCommandsBlocksSlotsAndSubscriptions) {
    Notes n;
    NEED_NOTES(n);
    EXPECT_TRUE(n.d().commands().empty()) << "nothing runs before the plugin is loaded";
    ASSERT_TRUE(n.manager->load("notes"));
    std::vector<std::string> commands;
    for (const CommandInfo& c : n.d().commands())
        commands.push_back(c.plugin + " " + c.id + ": " + c.title);
    EXPECT_EQ(commands, (std::vector<std::string>{
                            "notes notes.add: Add a note",
                            "notes notes.count: Count the notes and events",
                            "notes notes.publish: Publish {topic, data}",
                            "notes notes.ticks: The data of every tick, in order",
                        }));
    auto blocks = n.d().blocks();
    ASSERT_EQ(blocks.size(), 2u);
    EXPECT_EQ(blocks[0].id, "note");
    EXPECT_FALSE(blocks[0].template_text.empty());
    EXPECT_EQ(blocks[1].id, "stats");
    EXPECT_EQ(blocks[1].export_name, "render_stats");
    EXPECT_EQ(blocks[1].format, "json");
    auto slots = n.d().slots();
    ASSERT_EQ(slots.size(), 1u);
    EXPECT_EQ(slots[0].name, "notes.upper");
    EXPECT_EQ(slots[0].example, R"({"text":"hello"})");
}

TEST(NotesPlugin, CommandsAnswerAndUnknownOrBadOnesAreRefusedFirst) {
    Notes n;
    NEED_NOTES(n);
    // Invoking loads the plugin, whose initialize registers the command.
    auto added = n.invoke("notes.add", R"({"text":"milk"})");
    ASSERT_TRUE(added) << added.error().message;
    EXPECT_EQ(*added, R"({"notes":1})");
    auto bad = n.invoke("notes.add", R"({"text":5})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "notes: command notes.add: payload.text: expected string, got "
                                   "an integer");
    auto unknown = n.invoke("notes.remove", "{}");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message,
              "notes: no command \"notes.remove\" (it registers notes.add, notes.count, "
              "notes.publish, notes.ticks)");
    EXPECT_EQ(n.invoke("notes.add", R"({"text":"eggs"})").value_or(""), R"({"notes":2})")
        << "the refused calls never reached the plugin";
    auto failed = n.invoke("notes.publish", R"({"topic":"elsewhere","data":1})");
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().kind, ErrorKind::plugin);
    EXPECT_EQ(failed.error().message, "notes: command notes.publish failed: notes: publish "
                                      "\"elsewhere\" is not granted");
    EXPECT_EQ(n.audit("notes"), std::vector<std::string>{"publish elsewhere"});
}

TEST(NotesPlugin, EventsArriveInPublishOrder) {
    Notes n;
    NEED_NOTES(n);
    ASSERT_TRUE(n.manager->load("notes"));
    std::string want = "[";
    for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(n.d().events().publish("notes.tick", std::to_string(i)));
        want += (i ? "," : "") + std::to_string(i);
    }
    EXPECT_EQ(n.invoke("notes.ticks").value_or(""), want + "]");
    EXPECT_EQ(n.invoke("notes.count").value_or(""), R"({"events":200})");
}

TEST(NotesPlugin, AnEventPublishedToItselfMidCallIsQueuedUntilTheCallReturns) {
    std::vector<std::string> seen;
    Notes n;
    NEED_NOTES(n);
    ASSERT_TRUE(n.manager->load("notes"));
    // A host subscriber of the same topic: it is served once the command has returned (it can
    // call notes, which would be refused as re-entrant mid-call), before notes' own delivery.
    ASSERT_TRUE(n.d().events().subscribe("notes.tick", [&](const Event& e) {
        auto count = n.invoke("notes.count");
        seen.push_back(e.source + " " + e.data + " " +
                       (count ? *count : "error: " + count.error().message));
    }));
    // notes publishes to a topic it subscribes to from inside its own command.
    auto out = n.invoke("notes.publish", R"({"topic":"notes.tick","data":7})");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, "null");
    EXPECT_EQ(seen, std::vector<std::string>{R"(notes 7 {"events":0})"});
    EXPECT_EQ(n.invoke("notes.ticks").value_or(""), "[7]");
}

TEST(NotesPlugin, ManagerCallsAndEventsFromManyThreadsNeverOverlap) {
    Notes n;
    NEED_NOTES(n);
    ASSERT_TRUE(n.manager->load("notes"));
    constexpr int per_thread = 300;
    std::atomic<int> failures{0};
    auto publisher = [&] {
        for (int i = 0; i < per_thread; ++i)
            if (!n.d().events().publish("notes.tick", "1")) ++failures;
    };
    auto caller = [&] {
        for (int i = 0; i < per_thread; ++i)
            if (!n.manager->call("notes", "handle_command", R"({"action":"notes.count"})"))
                ++failures;
    };
    std::thread a(publisher), b(publisher), c(caller);
    a.join();
    b.join();
    c.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(n.invoke("notes.count").value_or(""),
              "{\"events\":" + std::to_string(2 * per_thread) + "}");
}

TEST(NotesPlugin, PublishesFromItsEventHandlerReachHostSubscribers) {
    Notes n;
    NEED_NOTES(n);
    ASSERT_TRUE(n.manager->load("notes"));
    std::vector<std::string> echoed; // notes.echoed is published only when asked
    ASSERT_TRUE(n.d().events().subscribe("notes.echoed", [&](const Event& e) {
        echoed.push_back(e.source + " " + e.data + " " + std::to_string(e.depth));
    }));
    ASSERT_TRUE(n.d().events().publish("notes.echo", R"({"x":[1,2]})"));
    EXPECT_EQ(echoed, std::vector<std::string>{R"(notes {"x":[1,2]} 2)"});
}

TEST(NotesPlugin, AnEventStormEndsWithAClearErrorAndNothingQueued) {
    HostOptions options;
    options.events.max_depth = 50;
    std::vector<std::string> failures; // outlives the plugin, whose listener writes it
    Notes n(std::move(options));
    NEED_NOTES(n);
    ASSERT_TRUE(n.manager->load("notes"));
    n.d().events().on_failure([&](const Event& e, std::string_view endpoint, const Error& error) {
        failures.push_back(std::string(endpoint) + " " + std::to_string(e.depth) + ": " +
                           error.message);
    });
    // notes answers each storm event by publishing another: a chain the host must cut.
    ASSERT_TRUE(n.d().events().publish("notes.storm", "0"));
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0].rfind("notes 50: ", 0), 0u) << failures[0];
    EXPECT_NE(failures[0].find("event storm: \"notes.storm\" published by notes while handling a "
                               "chain of 50 events"),
              std::string::npos)
        << failures[0];
    const EventBus::Stats stats = n.d().events().stats();
    EXPECT_EQ(stats.queued, 0u);
    EXPECT_EQ(stats.delivered, 49u);
    // The plugin is still fine.
    EXPECT_EQ(n.invoke("notes.count").value_or(""), R"({"events":0})");
}

TEST(NotesPlugin, BlocksRenderThroughTheTemplateOrTheExport) {
    Notes n;
    NEED_NOTES(n);
    auto html = n.d().render("notes", "note", R"({"title":"<Shopping>","text":"milk & eggs"})");
    ASSERT_TRUE(html) << html.error().message;
    EXPECT_EQ(html->format, "html");
    EXPECT_EQ(html->body,
              R"(<div class="note"><b>&lt;Shopping&gt;</b><p>milk &amp; eggs</p></div>)");
    ASSERT_TRUE(n.invoke("notes.add", R"({"text":"x"})"));
    auto stats = n.d().render("notes", "stats", R"({"period":"day"})");
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->format, "json");
    EXPECT_EQ(stats->body, R"({"events":0,"notes":1,"data":{"period":"day"}})");
    auto bad = n.d().render("notes", "note", R"({"text":"no title"})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "notes: UI block note: data.title: required");
    EXPECT_FALSE(n.d().render("notes", "chart", "{}"));
}

TEST(NotesPlugin, SlotsAreCalledByNameAndUnknownOnesRefused) {
    Notes n;
    NEED_NOTES(n);
    // The manifest does not list the slot, so it is known once the plugin is loaded.
    auto before = n.d().call_slot("notes.upper", R"({"text":"hi"})");
    ASSERT_FALSE(before);
    EXPECT_EQ(before.error().message, "no slot \"notes.upper\" is registered");
    ASSERT_TRUE(n.manager->load("notes"));
    EXPECT_EQ(n.d().call_slot("notes.upper", R"({"text":"shout\nit"})").value_or(""),
              R"("SHOUT\nIT")");
    auto bad = n.d().call_slot("notes.upper", R"({"words":"x"})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "slot notes.upper: input.text: required");
}

TEST(NotesPlugin, ShutdownRunsOffTheBusAndItsRegistrationsGo) {
    std::vector<std::string> bye; // outlives the plugin, whose last shutdown adds to it
    Notes n;
    NEED_NOTES(n);
    ASSERT_TRUE(n.manager->load("notes"));
    ASSERT_TRUE(
        n.d().events().subscribe("notes.bye", [&](const Event& e) { bye.push_back(e.data); }));
    ASSERT_TRUE(n.d().events().publish("notes.tick", "1"));
    ASSERT_TRUE(n.manager->unload("notes"));
    EXPECT_EQ(bye, std::vector<std::string>{R"({"events":1})"});
    EXPECT_TRUE(n.d().commands().empty());
    EXPECT_TRUE(n.d().blocks().empty());
    EXPECT_TRUE(n.d().slots().empty());
    // Nobody listens to notes.tick any more; the next command loads notes again.
    ASSERT_TRUE(n.d().events().publish("notes.tick", "2"));
    EXPECT_EQ(n.invoke("notes.count").value_or(""), R"({"events":0})");
}

/// A WAT plugin calling one dispatch function per export with its input as the argument and
/// outputting "ok" or last_error().
std::string calls_body(bool on_event) {
    std::string body = host_import("event_publish", 2, true) +
                       host_import("event_subscribe", 1, true) +
                       host_import("command_register", 1, true) +
                       host_import("block_register", 1, true) + host_import("last_error", 0) +
                       R"(
  (data (i32.const 0) "ok1")
  (func $answer (param $status i32)
    (if (i32.eqz (local.get $status))
      (then (call $out_str (i32.const 0) (i32.const 2)))
      (else (call $out_block (call $last_error)))))
  (func (export "publish") (result i32)
    (call $answer (call $event_publish (call $input_to_block) (call $str (i32.const 2) (i32.const 1))))
    (i32.const 0))
  (func (export "subscribe") (result i32)
    (call $answer (call $event_subscribe (call $input_to_block))) (i32.const 0))
  (func (export "command") (result i32)
    (call $answer (call $command_register (call $input_to_block))) (i32.const 0))
  (func (export "block") (result i32)
    (call $answer (call $block_register (call $input_to_block))) (i32.const 0))
  (func $input_to_block (result i64) (local $h i64) (local $i i64) (local $n i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done (loop $copy
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $store_u8 (i64.add (local.get $h) (local.get $i)) (call $input_load_u8 (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $copy)))
    (local.get $h)))";
    if (on_event) body += R"((func (export "on_event") (result i32) (i32.const 0)))";
    return body;
}

TEST(DispatchFunctions, DenialsAreErrorValuesWithAuditRecords) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p",
                 kiln_yaml("p", "1.0.0",
                           "permissions: {events: {publish: [\"p.*\"], "
                           "subscribe: [\"p.*\"]}}\n"),
                 calls_body(true));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    EXPECT_EQ(h.manager->call("p", "publish", "p.x").value_or(""), "ok");
    EXPECT_EQ(h.manager->call("p", "publish", "q.x").value_or(""),
              "p: publish \"q.x\" is not granted");
    EXPECT_EQ(h.manager->call("p", "subscribe", "p.*").value_or(""), "ok");
    EXPECT_EQ(h.manager->call("p", "subscribe", "*").value_or(""),
              "p: subscribe \"*\" is not granted");
    EXPECT_EQ(h.manager->call("p", "block", R"({"id":"b","template":"x"})").value_or(""),
              "p: ui is not granted");
    EXPECT_EQ(h.audit("p"), (std::vector<std::string>{"publish q.x", "subscribe *", "ui "}));
    EXPECT_EQ(h.manager->call("p", "publish", "bad topic").value_or(""),
              "event_publish: topic \"bad topic\": character ' ' is not allowed (letters, "
              "digits and ._:/-)");
}

TEST(DispatchFunctions, RegistrationsNeedTheExportsThatServeThem) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p",
                 kiln_yaml("p", "1.0.0", "permissions: {events: {subscribe: [\"*\"]}, ui: true}\n"),
                 calls_body(false));
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    EXPECT_EQ(h.manager->call("p", "subscribe", "t").value_or(""),
              "event_subscribe: the plugin exports no on_event");
    EXPECT_EQ(h.manager->call("p", "command", R"({"id":"c"})").value_or(""),
              "command_register: the plugin exports no handle_command");
    EXPECT_EQ(h.manager->call("p", "block", R"({"id":"b","export":"render"})").value_or(""),
              "block_register: the plugin exports no render");
    EXPECT_EQ(
        h.manager->call("p", "block", R"({"id":"b","template":"{{x}}","size":3})").value_or(""),
        "block_register: unknown field \"size\"");
    EXPECT_EQ(h.manager->call("p", "block", R"({"id":"b","template":"{{x}}"})").value_or(""), "ok");
    EXPECT_EQ(h.manager->call("p", "block", R"({"id":"b","template":"{{x}}"})").value_or(""), "ok")
        << "the same registration again";
    EXPECT_EQ(h.manager->call("p", "block", R"({"id":"b","template":"{{y}}"})").value_or(""),
              "p: UI block \"b\" is registered already");
    EXPECT_EQ(h.manager->call("p", "command", "[1]").value_or(""),
              "command_register: the request is not a JSON object");
}

TEST(DispatchFunctions, ManifestCommandsAreListedBeforeInitializeAndServedByTheirExport) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    write_plugin(dir, "p",
                 kiln_yaml("p", "1.0.0",
                           "contributes:\n  commands: [{id: greet, title: Greet, export: hello}]\n"
                           "  slots: [{name: p.say, description: Says, export: hello}]\n"),
                 R"(
  (func (export "hello") (result i32)
    (call $output_set (call $input_offset) (call $input_length)) (i32.const 0)))");
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    Dispatch& d = h.host.dispatch();
    EXPECT_EQ(d.invoke("p", "greet", R"("World")").value_or(""), R"("World")");
    ASSERT_EQ(d.commands().size(), 1u);
    EXPECT_EQ(d.commands()[0].title, "Greet");
    EXPECT_EQ(d.commands()[0].export_name, "hello");
    ASSERT_TRUE(h.manager->unload("p"));
    // A slot the manifest contributes loads its plugin when it is called.
    EXPECT_EQ(d.call_slot("p.say", "[1]").value_or(""), "[1]");
    EXPECT_EQ(d.slots().at(0).description, "Says");
}

} // namespace
} // namespace kiln
