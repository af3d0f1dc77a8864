// Commands, slots and UI blocks through Dispatch, with instances made of plain functions: what
// the guest gets, what the host gets back, and what is refused before the guest runs.
#include <kiln/dispatch.hpp>
#include <kiln/manager.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kiln {
namespace {

/// A fake plugin instance: records each call, answers with `reply`.
struct FakeGuest {
    std::vector<std::pair<std::string, std::string>> calls;
    std::function<Result<std::string>(std::string_view target, std::string_view input)> reply =
        [](std::string_view, std::string_view) -> Result<std::string> {
        return std::string(R"({"ok":true,"data":{"done":1}})");
    };

    EventBus::EndpointId attach(Dispatch& d, const std::string& plugin) {
        return d.attach(
            plugin,
            [this](std::string_view target, std::string_view input) {
                calls.emplace_back(target, input);
                return reply(target, input);
            },
            [](const Event&) -> Result<void> { return {}; });
    }
};

TEST(DispatchCommands, InvokeSendsActionAndPayloadToHandleCommandAndReturnsData) {
    Dispatch d;
    FakeGuest g;
    auto id = g.attach(d, "notes");
    ASSERT_TRUE(d.add_command(
        id, {"", "notes.add", "Add a note", R"({"type":"object","required":["text"]})", ""}));
    auto list = d.commands();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].plugin, "notes");
    EXPECT_EQ(list[0].id, "notes.add");
    EXPECT_EQ(list[0].title, "Add a note");
    auto out = d.invoke("notes", "notes.add", R"({"text":"hi"})");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, R"({"done":1})");
    ASSERT_EQ(g.calls.size(), 1u);
    EXPECT_EQ(g.calls[0].first, "handle_command");
    EXPECT_EQ(g.calls[0].second, R"({"action":"notes.add","payload":{"text":"hi"}})");
}

TEST(DispatchCommands, UnknownCommandsAndBadPayloadsAreRefusedBeforeTheGuestRuns) {
    Dispatch d;
    FakeGuest g;
    auto id = g.attach(d, "notes");
    ASSERT_TRUE(d.add_command(id, {"", "notes.add", "", R"({"type":"object",
        "properties":{"text":{"type":"string"}},"required":["text"]})",
                                   ""}));
    ASSERT_TRUE(d.add_command(id, {"", "notes.clear", "", "", ""}));
    auto unknown = d.invoke("notes", "notes.remove", "{}");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().kind, ErrorKind::usage);
    EXPECT_EQ(unknown.error().message,
              "notes: no command \"notes.remove\" (it registers notes.add, notes.clear)");
    auto nobody = d.invoke("other", "x", "{}");
    ASSERT_FALSE(nobody);
    EXPECT_EQ(nobody.error().message, "other: no command \"x\" (it registers none)");
    auto missing = d.invoke("notes", "notes.add", "{}");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "notes: command notes.add: payload.text: required");
    auto wrong = d.invoke("notes", "notes.add", R"({"text": 3})");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().message,
              "notes: command notes.add: payload.text: expected string, got an integer");
    EXPECT_FALSE(d.invoke("notes", "notes.add", "{oops"));
    EXPECT_TRUE(g.calls.empty());
    EXPECT_TRUE(d.invoke("notes", "notes.clear", "")) << "an empty payload is null";
    EXPECT_EQ(g.calls.at(0).second, R"({"action":"notes.clear","payload":null})");
}

TEST(DispatchCommands, AFailedCommandIsAPluginErrorAndABadAnswerIsNamed) {
    Dispatch d;
    FakeGuest g;
    auto id = g.attach(d, "p");
    ASSERT_TRUE(d.add_command(id, {"", "c", "", "", ""}));
    g.reply = [](std::string_view, std::string_view) -> Result<std::string> {
        return std::string(R"({"ok":false,"error":"disk full"})");
    };
    auto failed = d.invoke("p", "c", "1");
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().kind, ErrorKind::plugin);
    EXPECT_EQ(failed.error().message, "p: command c failed: disk full");
    g.reply = [](std::string_view, std::string_view) -> Result<std::string> {
        return std::string("yes");
    };
    auto bad = d.invoke("p", "c", "1");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("p: handle_command for c: expected {\"ok\""),
              std::string::npos)
        << bad.error().message;
    g.reply = [](std::string_view, std::string_view) -> Result<std::string> {
        return std::string(R"({"ok":true})");
    };
    EXPECT_EQ(d.invoke("p", "c", "1").value_or(""), "null");
}

TEST(DispatchCommands, ACommandWithAnExportGetsThePayloadItself) {
    Dispatch d;
    FakeGuest g;
    g.reply = [](std::string_view, std::string_view input) -> Result<std::string> {
        return std::string(input);
    };
    auto id = g.attach(d, "p");
    ASSERT_TRUE(d.add_command(id, {"", "greet", "Greet", "", "say_hello"}));
    EXPECT_EQ(d.invoke("p", "greet", R"("World")").value_or(""), R"("World")");
    EXPECT_EQ(g.calls.at(0).first, "say_hello");
}

TEST(DispatchCommands, RegistrationsAreCheckedAndGoWithTheirInstance) {
    Dispatch d;
    FakeGuest g;
    auto id = g.attach(d, "p");
    EXPECT_FALSE(d.add_command(id, {"", "", "", "", ""}));
    EXPECT_FALSE(d.add_command(id, {"", "has space", "", "", ""}));
    auto schema =
        d.add_command(id, {"", "c", "", R"({"type":"object","patternProperties":{}})", ""});
    ASSERT_FALSE(schema);
    EXPECT_NE(schema.error().message.find("patternProperties"), std::string::npos)
        << schema.error().message;
    ASSERT_TRUE(d.add_command(id, {"", "c", "", "", ""}));
    // The same registration again is a no-op (a plugin initialised again after a trap);
    // another one under the same id is refused.
    EXPECT_TRUE(d.add_command(id, {"", "c", "", "", ""}));
    EXPECT_EQ(d.commands().size(), 1u);
    auto twice = d.add_command(id, {"", "c", "Another", "", ""});
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().message, "p: command \"c\" is registered already");
    EXPECT_FALSE(d.add_command(12345, {"", "d", "", "", ""})) << "no such instance";
    d.detach(id);
    EXPECT_TRUE(d.commands().empty());
    EXPECT_FALSE(d.invoke("p", "c", "1"));
}

TEST(DispatchCommands, ANewerInstanceOfAPluginShadowsTheOlderUntilItIsDetached) {
    Dispatch d;
    FakeGuest old_guest, new_guest;
    auto old_id = old_guest.attach(d, "p");
    auto new_id = new_guest.attach(d, "p");
    ASSERT_TRUE(d.add_command(old_id, {"", "c", "old", "", ""}));
    ASSERT_TRUE(d.add_command(new_id, {"", "c", "new", "", ""}));
    ASSERT_EQ(d.commands().size(), 1u);
    EXPECT_EQ(d.commands()[0].title, "new");
    ASSERT_TRUE(d.invoke("p", "c", "1"));
    EXPECT_EQ(new_guest.calls.size(), 1u);
    EXPECT_TRUE(old_guest.calls.empty());
    // The newer one failing (a reload that did not work) gives the older one back.
    d.detach(new_id);
    ASSERT_TRUE(d.invoke("p", "c", "1"));
    EXPECT_EQ(old_guest.calls.size(), 1u);
    EXPECT_EQ(d.commands().at(0).title, "old");
}

TEST(DispatchCommands, ThePluginsOwnRegistrationReplacesTheManifestsDeclaration) {
    Dispatch d;
    FakeGuest g;
    auto id = g.attach(d, "p");
    Contribution declared;
    declared.kind = Contribution::Kind::command;
    declared.id = "c";
    declared.title = "From the manifest";
    ASSERT_TRUE(d.declare(id, {declared}));
    EXPECT_FALSE(d.declare(id, {declared})) << "declared twice";
    ASSERT_EQ(d.commands().size(), 1u);
    EXPECT_EQ(d.commands()[0].title, "From the manifest");
    EXPECT_EQ(d.invoke("p", "c", "{}").value_or(""), R"({"done":1})") << "via handle_command";
    ASSERT_TRUE(d.add_command(id, {"", "c", "Registered", R"({"type":"object"})", ""}));
    ASSERT_EQ(d.commands().size(), 1u);
    EXPECT_EQ(d.commands()[0].title, "Registered");
    EXPECT_FALSE(d.invoke("p", "c", "1")) << "the registration's schema applies";
    EXPECT_FALSE(d.add_command(id, {"", "c", "Again", "", ""}));
}

TEST(DispatchSlots, CallsTheTargetAndRefusesUnknownSlotsAndBadInputBeforeTheGuest) {
    Dispatch d;
    FakeGuest g;
    g.reply = [](std::string_view target, std::string_view input) -> Result<std::string> {
        return std::string(target) + " " + std::string(input);
    };
    auto id = g.attach(d, "p");
    ASSERT_TRUE(d.add_slot(id, {"", "text.upper", "Upper-cases", R"({"text":"a"})",
                                R"({"type":"object","required":["text"]})", "upper"}));
    ASSERT_TRUE(d.add_slot(id, {"", "zeno.slot", "", "", "", ""}));
    auto slots = d.slots();
    ASSERT_EQ(slots.size(), 2u);
    EXPECT_EQ(slots[0].name, "text.upper");
    EXPECT_EQ(slots[0].example, R"({"text":"a"})");
    EXPECT_EQ(slots[1].target, "zeno.slot") << "no export: the slot's name is the target";
    EXPECT_EQ(d.call_slot("text.upper", R"({"text":"b"})").value_or(""), R"(upper {"text":"b"})");
    auto unknown = d.call_slot("text.lower", "{}");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, "no slot \"text.lower\" is registered");
    auto bad = d.call_slot("text.upper", "{}");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "slot text.upper: input.text: required");
    EXPECT_EQ(g.calls.size(), 1u);
    EXPECT_FALSE(d.add_slot(id, {"", "bad", "", "{not json", "", ""})) << "example must be JSON";
}

TEST(DispatchSlots, ASlotNameBelongsToOnePlugin) {
    Dispatch d;
    FakeGuest a, b;
    auto ia = a.attach(d, "a");
    auto ib = b.attach(d, "b");
    ASSERT_TRUE(d.add_slot(ia, {"", "s", "", "", "", ""}));
    auto clash = d.add_slot(ib, {"", "s", "", "", "", ""});
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().message, "b: slot \"s\" belongs to plugin a already");
}

TEST(DispatchBlocks, TemplatesRenderTheDataEscaped) {
    Dispatch d;
    FakeGuest g;
    auto id = g.attach(d, "p");
    BlockType card;
    card.id = "card";
    card.name = "Card";
    card.schema = R"({"type":"object","required":["title"]})";
    card.template_text = "<h1>{{ title }}</h1><p>{{body.lines.1}}</p><i>{{missing}}</i>{{n}}";
    ASSERT_TRUE(d.add_block(id, card));
    auto html =
        d.render("p", "card", R"({"title":"<script>&","body":{"lines":["a","b\"c"]},"n":4.5})");
    ASSERT_TRUE(html) << html.error().message;
    EXPECT_EQ(html->format, "html");
    EXPECT_EQ(html->body, "<h1>&lt;script&gt;&amp;</h1><p>b&quot;c</p><i></i>4.5");
    auto bad = d.render("p", "card", "{}");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "p: UI block card: data.title: required");
    auto unknown = d.render("p", "chart", "{}");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, "p: no UI block \"chart\"");
    EXPECT_TRUE(g.calls.empty());
    ASSERT_EQ(d.blocks().size(), 1u);
    EXPECT_EQ(d.blocks()[0].name, "Card");
}

TEST(DispatchBlocks, AnExportRendererIsCalledWithTheDataAndJsonIsChecked) {
    Dispatch d;
    FakeGuest g;
    g.reply = [](std::string_view, std::string_view input) -> Result<std::string> {
        return input == "1" ? std::string(R"({"bars":[1]})") : std::string("<not json>");
    };
    auto id = g.attach(d, "p");
    BlockType chart;
    chart.id = "chart";
    chart.export_name = "render_chart";
    chart.format = "json";
    ASSERT_TRUE(d.add_block(id, chart));
    auto out = d.render("p", "chart", "1");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->format, "json");
    EXPECT_EQ(out->body, R"({"bars":[1]})");
    EXPECT_EQ(g.calls.at(0).first, "render_chart");
    auto bad = d.render("p", "chart", "2");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "p: UI block chart: render_chart gave output that is not JSON");
}

TEST(DispatchBlocks, ABlockNeedsExactlyOneRendererAndAGoodTemplate) {
    Dispatch d;
    FakeGuest g;
    auto id = g.attach(d, "p");
    BlockType b;
    b.id = "b";
    EXPECT_FALSE(d.add_block(id, b)) << "no renderer";
    b.template_text = "x";
    b.export_name = "y";
    EXPECT_FALSE(d.add_block(id, b)) << "two renderers";
    b.export_name.clear();
    b.template_text = "<p>{{title</p>";
    auto open = d.add_block(id, b);
    ASSERT_FALSE(open);
    EXPECT_EQ(open.error().message, "UI block b: template: \"{{\" at offset 3 is not closed");
    b.template_text = "{{a b}}";
    EXPECT_FALSE(d.add_block(id, b));
    b.template_text = "{{a}}";
    b.format = "xml";
    EXPECT_FALSE(d.add_block(id, b));
}

TEST(Dispatch, CallsIntoAnInstanceWaitForItsRunningDeliveryAndRefuseReentry) {
    Dispatch d;
    std::optional<Error> inner;
    EventBus::EndpointId id = 0;
    id = d.attach(
        "p",
        [&](std::string_view, std::string_view) -> Result<std::string> {
            return std::string(R"({"ok":true})");
        },
        [&](const Event&) -> Result<void> {
            // A command of the plugin invoked from inside its own event handler.
            auto again = d.invoke("p", "c", "1");
            if (!again) inner = again.error();
            return {};
        });
    ASSERT_TRUE(d.add_command(id, {"", "c", "", "", ""}));
    ASSERT_TRUE(d.events().subscribe(id, "t"));
    ASSERT_TRUE(d.events().publish("t", "0"));
    ASSERT_TRUE(inner);
    EXPECT_NE(inner->message.find("re-entrant call"), std::string::npos) << inner->message;
}

} // namespace
} // namespace kiln
