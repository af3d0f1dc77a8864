// Messages: every kind to and from the tagged JSON form, plain JSON conversion, and the errors
// for data of the wrong type.
#include <kiln/actors.hpp>

#include <gtest/gtest.h>

#include <string>

namespace kiln {
namespace {

Message tagged(std::string_view json) {
    auto m = Message::from_tagged(json);
    EXPECT_TRUE(m) << json << ": " << (m ? "" : m.error().message);
    return m ? *m : Message();
}

Message plain(std::string_view json) {
    auto m = Message::from_plain(json);
    EXPECT_TRUE(m) << json << ": " << (m ? "" : m.error().message);
    return m ? *m : Message();
}

Message json(MessageKind kind, std::string_view text) {
    auto m = Message::json(kind, text);
    EXPECT_TRUE(m) << text;
    return m ? *m : Message();
}

TEST(ActorMessage, KindNamesRoundTrip) {
    for (int k = 0; k < 12; ++k) {
        auto kind = MessageKind(k);
        EXPECT_EQ(message_kind_of(message_kind_name(kind)), kind);
    }
    EXPECT_EQ(message_kind_of("float"), std::nullopt); // exact spelling only
    EXPECT_EQ(message_kind_of("Encoded"), std::nullopt);
}

// One message of every kind, its tagged form, and back.
TEST(ActorMessage, EveryKindToTaggedAndBack) {
    const std::pair<Message, std::string> cases[] = {
        {Message::flow(), R"({"type":"Flow","data":null})"},
        {json(MessageKind::event, R"({"k": 1})"), R"({"type":"Event","data":{"k":1}})"},
        {Message::boolean(true), R"({"type":"Boolean","data":true})"},
        {Message::integer(-9223372036854775807 - 1),
         R"({"type":"Integer","data":-9223372036854775808})"},
        {Message::floating(3.5), R"({"type":"Float","data":3.5})"},
        {Message::floating(1.0), R"({"type":"Float","data":1.0})"},
        {Message::string("hi \"there\"\n"), R"({"type":"String","data":"hi \"there\"\n"})"},
        {json(MessageKind::object, R"({"a":[1,"x"]})"),
         R"({"type":"Object","data":{"a":[1,"x"]}})"},
        {json(MessageKind::array, R"([1, "x", {"a": 1}])"),
         R"({"type":"Array","data":[1,"x",{"a":1}]})"},
        {Message::stream({104, 105, 0, 255}), R"({"type":"Stream","data":[104,105,0,255]})"},
        {Message::none(), R"({"type":"Optional","data":null})"},
        {json(MessageKind::optional, "5"), R"({"type":"Optional","data":5})"},
        {json(MessageKind::any, R"("anything")"), R"({"type":"Any","data":"anything"})"},
        {Message::error("boom"), R"({"type":"Error","data":"boom"})"},
    };
    for (const auto& [message, text] : cases) {
        EXPECT_EQ(message.to_tagged(), text);
        EXPECT_EQ(tagged(text), message) << text;
    }
}

TEST(ActorMessage, TaggedInput) {
    // Flow without data, as Rust's serde writes it (Reflow's own host drops it; Kiln keeps it).
    EXPECT_EQ(tagged(R"({"type":"Flow"})"), Message::flow());
    EXPECT_EQ(tagged(R"({"type":"Flow","data":{"ignored":1}})"), Message::flow());
    // Keys in either order, as Go marshals them.
    EXPECT_EQ(tagged(R"({"data":6,"type":"Integer"})"), Message::integer(6));
    // An integral float is an integer's value; a Float takes an integer.
    EXPECT_EQ(tagged(R"({"type":"Integer","data":42.0})"), Message::integer(42));
    EXPECT_EQ(tagged(R"({"type":"Float","data":2})"), Message::floating(2));
    EXPECT_TRUE(tagged(R"({"type":"Optional"})").is_none());
    EXPECT_EQ(tagged(R"({"type":"Object","data":{"b":1,"a":2}})").text(), R"({"b":1,"a":2})");
    EXPECT_EQ(tagged(R"({"type":"Event"})").text(), "null");
}

TEST(ActorMessage, TaggedErrorsSayWhat) {
    auto error = [](std::string_view json) {
        auto m = Message::from_tagged(json);
        EXPECT_FALSE(m) << json;
        return m ? std::string() : m.error().message;
    };
    EXPECT_EQ(error(R"({"type":"Integer","data":"5"})"),
              "Integer message: data: expected an integer, got string");
    EXPECT_EQ(error(R"({"type":"Integer","data":4.5})"),
              "Integer message: data: expected an integer, got number");
    EXPECT_EQ(error(R"({"type":"Integer","data":18446744073709551615})"),
              "Integer message: data: expected an integer that fits in i64, got number");
    EXPECT_EQ(error(R"({"type":"Boolean","data":1})"),
              "Boolean message: data: expected a boolean, got number");
    EXPECT_EQ(error(R"({"type":"String"})"), "String message: data: missing");
    EXPECT_EQ(error(R"({"type":"Array","data":{}})"),
              "Array message: data: expected an array, got object");
    EXPECT_EQ(error(R"({"type":"Stream","data":[1,256]})"),
              "Stream message: data: expected numbers from 0 to 255");
    EXPECT_EQ(error(R"({"type":"Encoded","data":[1]})"), "message: unknown type \"Encoded\"");
    EXPECT_EQ(error(R"({"data":1})"), "message: type: expected a string");
    EXPECT_EQ(error(R"([1])"), "message: expected an object {\"type\", \"data\"}, got array");
    EXPECT_EQ(error("{"), "message: not valid JSON: {");
}

TEST(ActorMessage, PlainConversion) {
    EXPECT_TRUE(plain("null").is_none());
    EXPECT_EQ(plain("true"), Message::boolean(true));
    EXPECT_EQ(plain("42"), Message::integer(42));
    EXPECT_EQ(plain("-0"), Message::integer(0));
    EXPECT_EQ(plain("9223372036854775807"), Message::integer(9223372036854775807));
    // Beyond i64, with a fraction or an exponent: Float.
    EXPECT_EQ(plain("9223372036854775808").kind(), MessageKind::floating);
    EXPECT_EQ(plain("1.0"), Message::floating(1.0));
    EXPECT_EQ(plain("1e3"), Message::floating(1000));
    EXPECT_EQ(plain("\"flow\""), Message::string("flow"));
    EXPECT_EQ(plain("[1,[2]]"), json(MessageKind::array, "[1,[2]]"));
    EXPECT_EQ(plain(R"({"a":null})"), json(MessageKind::object, R"({"a":null})"));
    // The plain form of each kind reads back as the kind the conversion gives.
    EXPECT_EQ(Message::stream({1, 2}).to_plain(), "[1,2]");
    EXPECT_EQ(Message::flow().to_plain(), "null");
    EXPECT_EQ(Message::floating(2).to_plain(), "2.0");
    EXPECT_EQ(plain(Message::floating(2).to_plain()), Message::floating(2));
}

TEST(ActorMessage, Accessors) {
    EXPECT_TRUE(Message::boolean(true).as_bool());
    EXPECT_EQ(Message::integer(7).as_integer(), 7);
    EXPECT_EQ(Message::integer(7).as_float(), 7.0);
    EXPECT_EQ(Message::string("x").as_integer(), 0);
    EXPECT_EQ(Message::error("e").text(), "e");
    EXPECT_TRUE(Message::integer(1).bytes().empty());
    EXPECT_FALSE(json(MessageKind::optional, "0").is_none());
}

TEST(ActorMessage, JsonKindsAreChecked) {
    EXPECT_FALSE(Message::json(MessageKind::integer, "1"));
    EXPECT_FALSE(Message::json(MessageKind::array, "{}"));
    EXPECT_FALSE(Message::json(MessageKind::object, "{"));
    EXPECT_EQ(json(MessageKind::object, "{ \"a\" : 1 }").text(), R"({"a":1})");
}

// Nesting is bounded before parsing: guest output must not exhaust the host's stack.
TEST(ActorMessage, DeepNestingRefused) {
    std::string deep(100000, '[');
    auto m = Message::from_plain(deep);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message, "message: JSON nested deeper than 256 levels");
    std::string ok = std::string(200, '[') + std::string(200, ']');
    EXPECT_TRUE(Message::from_plain(ok));
    // Brackets inside strings do not count.
    EXPECT_TRUE(Message::from_plain("\"" + std::string(1000, '[') + "\""));
}

} // namespace
} // namespace kiln
