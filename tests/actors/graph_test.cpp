// Graph JSON (the FBP shape Reflow exports), node config and env_vars, and the checks made
// before a graph starts, on native components (no wasm needed).
#include <kiln/actors.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace kiln {
namespace {

// Reflow's own export shape, as its graph crate writes it (camelCase, portName and portId,
// portType, an initial packet with an empty `from`).
constexpr const char* reflow_graph = R"({
  "caseSensitive": false,
  "properties": {"name": "wasm-demo", "description": "IIP -> counter -> sink"},
  "processes": {
    "counter1": {"id": "counter1", "component": "Counter",
                 "metadata": {"chunk_size": 3, "env_vars": {"API_KEY": "required",
                              "MODE": "optional:fast", "TRACE": "optional"}}},
    "sink": {"id": "sink", "component": "Sink", "metadata": {}}
  },
  "connections": [
    {"from": {"portName": "Value", "portId": "Value", "nodeId": "counter1", "expose": false,
              "portType": {"type": "integer"}},
     "to": {"portName": "input", "portId": "input", "nodeId": "sink", "expose": false,
            "portType": {"type": "any"}},
     "metadata": {}},
    {"from": {"portName": "", "portId": "", "nodeId": "", "expose": false,
              "portType": {"type": "any"}},
     "to": {"portName": "operation", "portId": "operation", "nodeId": "counter1",
            "expose": false, "portType": {"type": "string"}},
     "data": "increment", "metadata": {}}
  ],
  "inports": {},
  "outports": {"count": {"portName": "value", "portId": "value", "nodeId": "counter1",
                         "expose": true, "portType": {"type": "integer"}}},
  "groups": [{"id": "g1", "nodes": ["counter1", "sink"], "metadata": {}}]
})";

Graph parse(std::string_view text) {
    auto g = Graph::parse(text, "/graphs/app.graph.json");
    EXPECT_TRUE(g) << (g ? "" : g.error().message);
    return g ? *g : Graph();
}

std::string parse_error(std::string_view text) {
    auto g = Graph::parse(text);
    EXPECT_FALSE(g) << text;
    return g ? std::string() : g.error().message;
}

TEST(ActorGraph, ReflowExportParses) {
    Graph g = parse(reflow_graph);
    EXPECT_EQ(g.name, "wasm-demo");
    EXPECT_FALSE(g.case_sensitive);
    ASSERT_EQ(g.nodes.size(), 2u);
    EXPECT_EQ(g.nodes[0].id, "counter1");
    EXPECT_EQ(g.nodes[0].component, "Counter");
    ASSERT_EQ(g.connections.size(), 2u);
    // Port names are lower-cased when the graph is not case-sensitive.
    EXPECT_EQ(g.connections[0].from, (GraphPort{"counter1", "value"}));
    EXPECT_EQ(g.connections[0].to, (GraphPort{"sink", "input"}));
    EXPECT_EQ(g.connections[0].from_type, "integer");
    EXPECT_FALSE(g.connections[0].is_initial());
    // The initial packet goes to portId; its empty `from` is not read.
    EXPECT_TRUE(g.connections[1].is_initial());
    EXPECT_EQ(*g.connections[1].data, "\"increment\"");
    EXPECT_EQ(g.connections[1].to, (GraphPort{"counter1", "operation"}));
    ASSERT_EQ(g.outports.size(), 1u);
    EXPECT_EQ(g.outports[0].first, "count");
    ASSERT_EQ(g.groups.size(), 1u);
    EXPECT_EQ(g.groups[0].nodes, (std::vector<std::string>{"counter1", "sink"}));
}

TEST(ActorGraph, CaseSensitiveKeepsPortNames) {
    Graph g = parse(R"({"caseSensitive": true, "processes": {"a": {"component": "A"}},
        "connections": [{"data": 1, "to": {"nodeId": "a", "portId": "In"}}]})");
    EXPECT_EQ(g.connections[0].to.port, "In");
    // Without properties.name the file's stem names the graph.
    EXPECT_EQ(g.name, "app.graph");
}

TEST(ActorGraph, ParseErrorsNameTheField) {
    EXPECT_EQ(parse_error("[]"), "graph: expected an object, got array");
    EXPECT_EQ(parse_error(R"({"processes": {"n1": {"component": 5}}})"),
              "processes.n1.component: expected a string, got number");
    EXPECT_EQ(parse_error(R"({"processes": {"n1": {}}})"), "processes.n1.component: missing");
    EXPECT_EQ(parse_error(R"({"connections": [{"from": {"nodeId": "a", "portId": "x"}}]})"),
              "connections[0].to: missing");
    EXPECT_EQ(parse_error(R"({"connections": [{"to": {"nodeId": "a", "portId": "x"}}]})"),
              "connections[0]: expected `from` or `data` (an initial packet)");
    EXPECT_EQ(parse_error(R"({"connections": [{"data": 1, "to": {"nodeId": "a"}}]})"),
              "connections[0].to.portId: missing");
    EXPECT_EQ(parse_error(R"({"caseSensitive": "no"})"),
              "caseSensitive: expected a boolean, got string");
    EXPECT_EQ(parse_error(R"({"outports": {"o": {"nodeId": 1}}})"),
              "outports.o.nodeId: expected a string, got number");
}

TEST(ActorGraph, GraphFileErrorsNameTheFile) {
    auto g = Graph::from_file("/nonexistent/app.graph.json");
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().kind, ErrorKind::io);
    EXPECT_NE(g.error().message.find("/nonexistent/app.graph.json"), std::string::npos);
}

// ---- Node config and env_vars ------------------------------------------------------------------

std::function<std::optional<std::string>(const std::string&)>
env(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

TEST(ActorGraph, EnvVarsResolveIntoConfig) {
    Graph g = parse(reflow_graph);
    auto c = resolve_node_config(g.nodes[0], env({{"API_KEY", "secret"}}));
    ASSERT_TRUE(c) << c.error().message;
    // Reserved keys (env_vars) are not passed on; resolved variables are merged in; an
    // optional variable without default is left out.
    EXPECT_EQ(c->config, R"({"chunk_size":3,"API_KEY":"secret","MODE":"fast"})");
    EXPECT_EQ(c->resolved_env,
              (std::map<std::string, std::string>{{"API_KEY", "secret"}, {"MODE", "fast"}}));
    auto set =
        resolve_node_config(g.nodes[0], env({{"API_KEY", "k"}, {"MODE", "slow"}, {"TRACE", "1"}}));
    ASSERT_TRUE(set);
    EXPECT_EQ(set->resolved_env.at("MODE"), "slow");
    EXPECT_EQ(set->resolved_env.at("TRACE"), "1");
}

TEST(ActorGraph, MissingRequiredVariableNamesNodeAndVariable) {
    Graph g = parse(reflow_graph);
    auto c = resolve_node_config(g.nodes[0], env({}));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, "node counter1: missing required environment variable API_KEY");
    // A requirement that is not a string counts as required, as in Reflow.
    GraphNode n{"n", "C", R"({"env_vars": {"TOKEN": true}})"};
    auto r = resolve_node_config(n, env({}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "node n: missing required environment variable TOKEN");
    GraphNode bad{"n", "C", R"({"env_vars": {"TOKEN": "sometimes"}})"};
    auto b = resolve_node_config(bad, env({{"TOKEN", "x"}}));
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().message, "node n: env_vars.TOKEN: expected \"required\", \"optional\" "
                                 "or \"optional:DEFAULT\", got \"sometimes\"");
}

TEST(ActorGraph, ReservedKeysAreNotConfig) {
    GraphNode n{"n", "C",
                R"({"source": "x.wasm", "on_error": "stop", "mailbox": {"capacity": 2},
                    "persist": true, "rate": 5})"};
    auto c = resolve_node_config(n, env({}));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->config, R"({"rate":5})");
    EXPECT_EQ(reserved_metadata_keys(),
              (std::vector<std::string>{"source", "env_vars", "on_error", "mailbox", "persist"}));
}

TEST(ActorGraph, ComponentSpecFromMetadataJson) {
    // get_metadata of Reflow's Go async processor.
    auto spec = ComponentSpec::from_json(
        R"({"component":"GoAsyncProcessor","description":"Demonstrates",
            "inports":[{"name":"start","description":"Start","port_type":"Flow","required":false},
                       {"name":"data","description":"Data","port_type":"Array","required":true}],
            "outports":[{"name":"status","description":"s","port_type":"String","required":false}],
            "config_schema":{"type":"object"}})");
    ASSERT_TRUE(spec) << spec.error().message;
    EXPECT_EQ(spec->component, "GoAsyncProcessor");
    ASSERT_EQ(spec->inports.size(), 2u);
    EXPECT_TRUE(spec->inports[1].required);
    EXPECT_EQ(spec->inports[0].type, "Flow");
    EXPECT_EQ(spec->config_schema, R"({"type":"object"})");
    EXPECT_FALSE(spec->stop_on_error);
    auto again = ComponentSpec::from_json(spec->to_json());
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *spec);
    auto bad = ComponentSpec::from_json(R"({"inports":[{"name":"x","required":"yes"}]})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "inports[0].required: expected a boolean, got string");
}

// ---- Checks before start -----------------------------------------------------------------------

NativeComponent component(std::string name, std::vector<PortSpec> in, std::vector<PortSpec> out) {
    NativeComponent c;
    c.spec.component = std::move(name);
    c.spec.inports = std::move(in);
    c.spec.outports = std::move(out);
    c.process = [](ActorContext&) -> Result<void> { return {}; };
    return c;
}

NetworkOptions native_options() {
    NetworkOptions o;
    o.add_component(component("Counter", {{"operation", "", "String", true}},
                              {{"value", "", "Integer", false}}));
    o.add_component(component("Sink", {{"input", "", "Any", false}}, {}));
    o.add_component(
        component("Text", {{"text", "", "String", false}}, {{"out", "", "String", false}}));
    o.getenv = env({{"API_KEY", "k"}});
    return o;
}

std::vector<std::string> problems(const Graph& g, const NetworkOptions& o) {
    std::vector<std::string> out;
    for (const GraphProblem& p : check_graph(g, o).problems)
        out.push_back((p.severity == GraphProblem::Severity::error ? "error: " : "warning: ") +
                      p.message);
    return out;
}

TEST(ActorGraph, ValidGraphHasNoProblems) {
    Graph g = parse(reflow_graph);
    GraphReport r = check_graph(g, native_options());
    EXPECT_TRUE(r.valid());
    EXPECT_TRUE(r.problems.empty());
    ASSERT_EQ(r.nodes.size(), 2u);
    EXPECT_EQ(r.nodes[0].source, "native");
}

TEST(ActorGraph, ConnectionMailboxIsChecked) {
    Graph g = parse(R"({"processes": {"a": {"component": "Sink"}, "t": {"component": "Text"}},
      "connections": [
        {"from": {"nodeId": "t", "portId": "out"}, "to": {"nodeId": "a", "portId": "input"},
         "metadata": {"mailbox": {"capacity": 0}}},
        {"from": {"nodeId": "t", "portId": "out"}, "to": {"nodeId": "a", "portId": "input"},
         "metadata": {"mailbox": {"overflow": "drop_oldest", "ports": {}}}},
        {"from": {"nodeId": "t", "portId": "out"}, "to": {"nodeId": "a", "portId": "input"},
         "metadata": {"mailbox": {"capacity": 4, "overflow": "drop_newest"}}},
        {"data": "x", "to": {"nodeId": "t", "portId": "text"}}
      ]})");
    EXPECT_EQ(problems(g, native_options()),
              (std::vector<std::string>{
                  "error: connection t.out -> a.input: metadata.mailbox.capacity: expected a "
                  "whole number from 1",
                  "error: connection t.out -> a.input: metadata.mailbox.ports: only a node's "
                  "mailbox has ports",
              }));
    auto n = Network::create(g, native_options());
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("metadata.mailbox.capacity"), std::string::npos);
}

TEST(ActorGraph, EveryKindOfProblemIsReported) {
    Graph g = parse(R"({"processes": {
        "c": {"component": "Counter"},
        "t": {"component": "Text"},
        "s": {"component": "Sink"},
        "x": {"component": "Nowhere"},
        "m": {"component": "Sink", "metadata": {"mailbox": {"overflow": "spill"}}}},
      "connections": [
        {"from": {"nodeId": "c", "portId": "value"}, "to": {"nodeId": "t", "portId": "text"}},
        {"from": {"nodeId": "c", "portId": "valu"}, "to": {"nodeId": "s", "portId": "input"}},
        {"from": {"nodeId": "c", "portId": "value"}, "to": {"nodeId": "ghost", "portId": "in"}},
        {"data": 5, "to": {"nodeId": "t", "portId": "text"}},
        {"data": "x", "to": {"nodeId": "s", "portId": "nope"}}
      ],
      "outports": {"o": {"nodeId": "t", "portId": "missing"}}})");
    NetworkOptions o = native_options();
    EXPECT_EQ(problems(g, o),
              (std::vector<std::string>{
                  "error: node x: unknown component Nowhere (no metadata.source, no native "
                  "component and no plugin of that name; no plugin folders)",
                  "error: node m: metadata.mailbox.overflow: expected \"wait\", \"drop_oldest\" "
                  "or \"drop_newest\"",
                  "error: connection c.value -> t.text: type mismatch: a Integer out-port to a "
                  "String in-port",
                  "error: connection c.valu -> s.input: node c (Counter) has no out-port valu "
                  "(out-ports: value, error)",
                  "error: connection c.value -> ghost.in: no node ghost",
                  "error: initial packet -> t.text: type mismatch: Integer data to a String "
                  "in-port",
                  "error: initial packet -> s.nope: node s (Sink) has no in-port nope (in-ports: "
                  "input)",
                  "error: outport o: node t (Text) has no out-port missing (out-ports: out, "
                  "error)",
                  "error: node c: required in-port operation is not connected",
              }));
    EXPECT_FALSE(check_graph(g, o).valid());
}

TEST(ActorGraph, EnvProblemsAreReported) {
    Graph g = parse(reflow_graph);
    NetworkOptions o = native_options();
    o.getenv = env({});
    EXPECT_EQ(problems(g, o), (std::vector<std::string>{
                                  "error: node counter1: missing required environment variable "
                                  "API_KEY"}));
}

TEST(ActorGraph, CyclesAreFlaggedNotRefused) {
    Graph g = parse(R"({"processes": {"a": {"component": "Text"}, "b": {"component": "Text"},
        "c": {"component": "Text"}, "d": {"component": "Text"}},
      "connections": [
        {"from": {"nodeId": "a", "portId": "out"}, "to": {"nodeId": "b", "portId": "text"}},
        {"from": {"nodeId": "b", "portId": "out"}, "to": {"nodeId": "c", "portId": "text"}},
        {"from": {"nodeId": "c", "portId": "out"}, "to": {"nodeId": "a", "portId": "text"}},
        {"from": {"nodeId": "d", "portId": "out"}, "to": {"nodeId": "d", "portId": "text"}}]})");
    GraphReport r = check_graph(g, native_options());
    EXPECT_TRUE(r.valid());
    EXPECT_EQ(
        problems(g, native_options()),
        (std::vector<std::string>{"warning: cycle: a -> b -> c -> a", "warning: cycle: d -> d"}));
}

TEST(ActorGraph, TypeCompatibility) {
    NetworkOptions o = native_options();
    o.add_component(component("Num", {{"f", "", "Float", false}, {"o", "", "Optional", false}},
                              {{"i", "", "integer", false}}));
    Graph g = parse(R"({"processes": {"n": {"component": "Num"}, "m": {"component": "Num"}},
      "connections": [
        {"from": {"nodeId": "n", "portId": "i"}, "to": {"nodeId": "m", "portId": "f"}},
        {"from": {"nodeId": "n", "portId": "i"}, "to": {"nodeId": "m", "portId": "o"}},
        {"data": null, "to": {"nodeId": "n", "portId": "o"}},
        {"data": 1.5, "to": {"nodeId": "n", "portId": "f"}}]})");
    // Integer to Float, anything to Optional, case ignored; a null initial packet is
    // Optional(none).
    EXPECT_TRUE(problems(g, o).empty()) << problems(g, o)[0];
}

} // namespace
} // namespace kiln
