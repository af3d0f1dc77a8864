// kiln graph run|validate|inspect: actor graphs from the command line (docs/actors.md). Nodes
// find their wasm by metadata.source or as plugins of the plugin folders (--plugin-dir, alias
// --dir; default $KILN_PLUGIN_DIR, else ./plugins).
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "plugin_folders.hpp"

#include <kiln/actors.hpp>
#include <kiln/state_db.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

namespace kiln::tool {

namespace {

using json = nlohmann::ordered_json;

struct GraphCommandOptions {
    std::string file;
    std::vector<std::string> dirs;
    std::vector<std::string> inputs;
    std::optional<uint64_t> timeout_ms;
    size_t threads = 0;
    bool fail_fast = false;
    bool json = false;
};

/// One --input NODE.PORT=JSON.
struct Input {
    std::string node, port;
    Message message;
};

/// Splits at the first '=', then NODE from PORT at the last '.' before it.
Result<Input> parse_input(const std::string& text) {
    const size_t eq = text.find('=');
    const size_t dot = eq == std::string::npos ? std::string::npos : text.rfind('.', eq);
    if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == eq)
        return make_error(ErrorKind::usage,
                          fmt::format("--input {}: expected NODE.PORT=JSON", text));
    auto message = Message::from_plain(text.substr(eq + 1));
    if (!message)
        return make_error(ErrorKind::usage,
                          fmt::format("--input {}: {}", text, message.error().message));
    return Input{text.substr(0, dot), text.substr(dot + 1, eq - dot - 1), std::move(*message)};
}

/// The graph and the options its nodes are found with; prints the error itself.
struct Loaded {
    Graph graph;
    std::unique_ptr<PluginManager> manager;
    NetworkOptions options;
};

std::optional<Loaded> load(const GraphCommandOptions& o, int& code) {
    auto graph = Graph::from_file(o.file);
    if (!graph) {
        print_error(graph.error().message);
        code = exit_code_of(graph.error());
        return std::nullopt;
    }
    Loaded loaded;
    loaded.graph = std::move(*graph);
    loaded.manager = std::make_unique<PluginManager>();
    if (auto opened = open_plugin_dirs(*loaded.manager, o.dirs); !opened) {
        print_error(opened.error().message);
        code = exit_usage;
        return std::nullopt;
    }
    loaded.options.manager = loaded.manager.get();
    loaded.options.threads = o.threads;
    loaded.options.fail_fast = o.fail_fast;
    return loaded;
}

std::atomic<int> stop_signal{0};

extern "C" void on_stop_signal(int signal) {
    stop_signal = signal;
}

int run_graph(const GraphCommandOptions& o) {
    std::vector<Input> inputs;
    for (const std::string& text : o.inputs) {
        auto input = parse_input(text);
        if (!input) {
            print_error(input.error().message);
            return exit_usage;
        }
        inputs.push_back(std::move(*input));
    }
    int code = exit_ok;
    auto loaded = load(o, code);
    if (!loaded) return code;
    // Nodes that ask for it keep their state in Kiln's state database.
    for (const GraphNode& node : loaded->graph.nodes) {
        json metadata = json::parse(node.metadata, nullptr, false);
        if (!metadata.is_object() || metadata.value("persist", json()) != json(true)) continue;
        Result<std::shared_ptr<StateStore>> store = tl::unexpected(Error{});
        if (auto db = StateDb::open(); db)
            store = make_state_db_store(*db);
        else
            store = tl::unexpected(db.error());
        if (!store) {
            print_error(store.error().message);
            return exit_failure;
        }
        loaded->options.state_store = *store;
        break;
    }
    loaded->options.on_output = [](const OutputEvent& e) {
        // One line per message, as the JSON of {"port", "type", "data"}.
        std::string line = fmt::format("{{\"port\":{},\"type\":\"{}\",\"data\":{}}}\n",
                                       json(std::string(e.port)).dump(),
                                       message_kind_name(e.message.kind()), e.message.to_plain());
        fwrite(line.data(), 1, line.size(), stdout);
    };
    auto network = Network::create(loaded->graph, loaded->options);
    if (!network) {
        print_error(network.error().message);
        return exit_failure;
    }
    for (const GraphProblem& w : (*network)->warnings())
        print_error("warning: " + w.message);
    // Every --input is checked before anything runs.
    for (const Input& input : inputs)
        if (auto ok = (*network)->accepts(input.node, input.port); !ok) {
            print_error(
                fmt::format("--input {}.{}: {}", input.node, input.port, ok.error().message));
            return exit_usage;
        }
    // Ctrl-C or a termination request ends the run: running calls are cancelled.
    stop_signal = 0;
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    if (auto started = (*network)->start(); !started) {
        print_error(started.error().message);
        return exit_failure;
    }
    for (Input& input : inputs)
        if (auto sent = (*network)->send(input.node, input.port, std::move(input.message)); !sent) {
            print_error(
                fmt::format("--input {}.{}: {}", input.node, input.port, sent.error().message));
            (*network)->stop(StopMode::cancel);
            return exit_usage;
        }
    const auto start = std::chrono::steady_clock::now();
    using std::chrono::milliseconds;
    while (true) {
        milliseconds slice(50);
        if (o.timeout_ms) {
            auto left = milliseconds(*o.timeout_ms) - std::chrono::duration_cast<milliseconds>(
                                                          std::chrono::steady_clock::now() - start);
            if (left <= milliseconds(0)) {
                (*network)->stop(StopMode::cancel);
                fflush(stdout);
                print_error(fmt::format("graph run: timeout after {} ms", *o.timeout_ms));
                return exit_failure;
            }
            slice = std::min(slice, left);
        }
        if ((*network)->wait_idle(slice)) break;
        if (auto failure = (*network)->failure()) {
            (*network)->stop(StopMode::cancel);
            fflush(stdout);
            print_error(*failure);
            return exit_failure;
        }
        if (int signal = stop_signal.load()) {
            (*network)->stop(StopMode::cancel);
            fflush(stdout);
            print_error(fmt::format("graph run: stopped by signal {}", signal));
            return 128 + signal;
        }
    }
    (*network)->stop(StopMode::drain);
    fflush(stdout);
    return exit_ok;
}

const char* severity_name(GraphProblem::Severity s) {
    return s == GraphProblem::Severity::error ? "error" : "warning";
}

int validate_graph(const GraphCommandOptions& o) {
    int code = exit_ok;
    auto loaded = load(o, code);
    if (!loaded) return code;
    GraphReport report = check_graph(loaded->graph, loaded->options);
    for (const GraphProblem& p : report.problems)
        std::cout << severity_name(p.severity) << ": " << p.message << "\n";
    if (!report.valid()) return exit_failure;
    std::cout << "valid\n";
    return exit_ok;
}

std::string port_text(const PortSpec& p) {
    return fmt::format("{}: {}{}", p.name, p.type, p.required ? ", required" : "");
}

json ports_json(const std::vector<PortSpec>& ports) {
    json out = json::array();
    for (const PortSpec& p : ports)
        out.push_back({{"name", p.name},
                       {"type", p.type},
                       {"required", p.required},
                       {"description", p.description}});
    return out;
}

int inspect_graph(const GraphCommandOptions& o) {
    int code = exit_ok;
    auto loaded = load(o, code);
    if (!loaded) return code;
    const Graph& g = loaded->graph;
    GraphReport report = check_graph(g, loaded->options);
    auto end = [](const GraphPort& p) { return p.node + "." + p.port; };
    if (o.json) {
        json nodes = json::array();
        for (const ResolvedNode& n : report.nodes) {
            json node = {
                {"id", n.id}, {"component", n.component}, {"source", n.source}, {"abi", n.abi}};
            if (n.spec) {
                node["inports"] = ports_json(n.spec->inports);
                node["outports"] = ports_json(n.spec->outports);
            }
            nodes.push_back(std::move(node));
        }
        json connections = json::array();
        for (const GraphConnection& c : g.connections) {
            if (c.is_initial())
                connections.push_back({{"data", json::parse(*c.data)}, {"to", end(c.to)}});
            else
                connections.push_back({{"from", end(c.from)}, {"to", end(c.to)}});
        }
        json inports = json::object(), outports = json::object();
        for (const auto& [name, p] : g.inports)
            inports[name] = end(p);
        for (const auto& [name, p] : g.outports)
            outports[name] = end(p);
        json groups = json::array();
        for (const GraphGroup& gr : g.groups)
            groups.push_back({{"id", gr.id}, {"nodes", gr.nodes}});
        json problems = json::array();
        for (const GraphProblem& p : report.problems)
            problems.push_back({{"severity", severity_name(p.severity)}, {"message", p.message}});
        json out = {{"name", g.name},     {"caseSensitive", g.case_sensitive},
                    {"nodes", nodes},     {"connections", connections},
                    {"inports", inports}, {"outports", outports},
                    {"groups", groups},   {"problems", problems}};
        std::cout << out.dump(2) << "\n";
        return exit_ok;
    }
    std::cout << "graph " << g.name << "\n";
    for (const ResolvedNode& n : report.nodes) {
        std::cout << fmt::format("node {}: {} ({}{})\n", n.id, n.component,
                                 n.source.empty() ? "not found" : n.source,
                                 n.abi.empty() || n.abi == "native" ? "" : ", " + n.abi + " ABI");
        if (!n.spec) continue;
        for (const PortSpec& p : n.spec->inports)
            std::cout << "  in  " << port_text(p) << "\n";
        for (const PortSpec& p : n.spec->outports)
            std::cout << "  out " << port_text(p) << "\n";
    }
    for (const GraphConnection& c : g.connections) {
        if (c.is_initial())
            std::cout << "initial " << *c.data << " -> " << end(c.to) << "\n";
        else
            std::cout << "connection " << end(c.from) << " -> " << end(c.to) << "\n";
    }
    for (const auto& [name, p] : g.inports)
        std::cout << "inport " << name << " -> " << end(p) << "\n";
    for (const auto& [name, p] : g.outports)
        std::cout << "outport " << name << " <- " << end(p) << "\n";
    for (const GraphGroup& gr : g.groups) {
        std::string nodes;
        for (const std::string& n : gr.nodes)
            nodes += (nodes.empty() ? "" : ", ") + n;
        std::cout << "group " << gr.id << ": " << nodes << "\n";
    }
    return exit_ok;
}

} // namespace

void add_graph_command(CLI::App& app, int& exit_code) {
    auto* graph = app.add_subcommand("graph", "Run, check or describe an actor graph");
    graph->require_subcommand(1);
    auto o = std::make_shared<GraphCommandOptions>();

    auto* run = graph->add_subcommand("run", "Run a graph until it is idle");
    run->add_option("GRAPH", o->file, "the graph's JSON file")->required()->type_name("FILE");
    add_plugin_dir_option(run, o->dirs);
    run->add_option("--timeout", o->timeout_ms, "stop (and fail) after this many milliseconds")
        ->type_name("MS");
    run->add_option("--input", o->inputs,
                    "send JSON to an in-port after the initial packets; repeatable")
        ->type_name("NODE.PORT=JSON")
        ->allow_extra_args(false);
    run->add_flag("--fail-fast", o->fail_fast, "stop and exit 1 at the first failure of a node");
    run->add_option("--threads", o->threads, "worker threads (default: one per core)")
        ->type_name("N");
    set_examples(*run, {{"kiln graph run app.graph.json --plugin-dir plugins",
                         "run a graph, printing what leaves its outports"},
                        {"kiln graph run app.graph.json --input counter.operation='\"reset\"'",
                         "send a String to counter's operation port"}});
    run->callback([o, &exit_code] { exit_code = run_graph(*o); });

    auto* validate = graph->add_subcommand("validate", "Check a graph without running it");
    validate->add_option("GRAPH", o->file, "the graph's JSON file")->required()->type_name("FILE");
    add_plugin_dir_option(validate, o->dirs);
    set_examples(*validate,
                 {{"kiln graph validate app.graph.json", "print its problems, or valid"}});
    validate->callback([o, &exit_code] { exit_code = validate_graph(*o); });

    auto* inspect = graph->add_subcommand("inspect", "Show a graph's nodes, ports and connections");
    inspect->add_option("GRAPH", o->file, "the graph's JSON file")->required()->type_name("FILE");
    add_plugin_dir_option(inspect, o->dirs);
    inspect->add_flag("--json", o->json, "print a JSON object");
    set_examples(*inspect, {{"kiln graph inspect app.graph.json --json", "the graph as JSON"}});
    inspect->callback([o, &exit_code] { exit_code = inspect_graph(*o); });
    set_examples(*graph, {{"kiln graph run app.graph.json", "run a graph until it is idle"},
                          {"kiln graph validate app.graph.json", "check it"}});
}

} // namespace kiln::tool
