// How the host and plugins reach each other beyond plain calls: an event bus (publish and
// subscribe by topic), commands, slots (named operations) and UI block types that plugins
// register, listed and invoked by the host. See docs/hostfns.md.
//
//   kiln::Dispatch& d = ...;   // the host's (HostLibrary::dispatch())
//   auto sub = d.events().subscribe("file.*", [](const kiln::Event& e) { ... });
//   d.events().publish("file.added", R"({"path": "a.txt"})");   // delivered now
//   for (const kiln::CommandInfo& c : d.commands()) ...;          // plugin, id, title, schema
//   auto out = d.invoke("notes", "notes.add", R"({"text": "hi"})");
#pragma once

#include <kiln/error.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

class PluginManager;
struct Contribution;

/// One event: a topic and its data, a JSON value.
struct Event {
    std::string topic;
    std::string data;   ///< JSON text
    std::string source; ///< who published it: a plugin's name, or "host"
    /// 1 for an event published outside any delivery; an event published while a subscriber
    /// handles an event of depth d has depth d + 1 (a chain of events caused by events).
    uint32_t depth = 1;
};

/// Bounds that keep an event storm (a subscriber publishing to a topic it subscribes to) from
/// hanging the host or growing without end: each is a clear error to the publisher.
struct EventBusOptions {
    /// Events waiting for delivery, over all subscribers (an event queued for three
    /// subscribers counts three).
    size_t max_queued = 65536;
    /// How deep a chain of events published while handling events may grow.
    uint32_t max_depth = 32;
};

/// Publish and subscribe by topic. Each subscriber (an endpoint: a plugin instance, or a host
/// handler) gets its events one at a time, in the order they were published, and never while
/// it is running something else: an event for a subscriber that is mid-call is queued and
/// delivered once the call returns. Delivery happens on the publishing thread when it is not
/// inside a subscriber, else when that thread leaves the subscriber; no thread of the bus's own.
/// Every member may be called from any thread.
class EventBus {
public:
    /// Names one endpoint; 0 is none.
    using EndpointId = uint64_t;
    /// Receives one event; an error is reported to the failure listener, and delivery goes on.
    using Receiver = std::function<Result<void>(const Event&)>;
    /// What a failure listener gets: the event, the endpoint's name, why.
    using FailureListener =
        std::function<void(const Event& event, std::string_view endpoint, const Error& error)>;

    /// Counters since the bus was made.
    struct Stats {
        uint64_t published = 0; ///< events accepted
        uint64_t refused = 0;   ///< publishes refused (queue full, chain too deep, bad topic)
        uint64_t delivered = 0; ///< deliveries that succeeded
        uint64_t failed = 0;    ///< deliveries whose receiver failed
        uint64_t dropped = 0;   ///< queued events dropped when their endpoint was detached
        size_t queued = 0;      ///< events waiting now
    };

    explicit EventBus(EventBusOptions options = {});
    ~EventBus();
    EventBus(const EventBus&) = delete;
    EventBus& operator=(const EventBus&) = delete;

    /// Adds an endpoint that receives events through `receive`; `name` is what errors and
    /// failures call it.
    EndpointId attach(std::string name, Receiver receive);
    /// Removes an endpoint with its subscriptions, after the delivery it is running (on another
    /// thread) ends; events still queued for it are dropped. Unknown ids are ignored.
    void detach(EndpointId endpoint);
    /// Subscribes the endpoint to a topic or a glob of topics (`*` any run of characters, `?`
    /// one). Subscribing twice to one pattern is one subscription.
    Result<void> subscribe(EndpointId endpoint, std::string_view pattern);
    /// Removes a subscription; false when the endpoint had none with that pattern.
    bool unsubscribe(EndpointId endpoint, std::string_view pattern);
    /// The patterns an endpoint subscribes to, in the order they were added.
    std::vector<std::string> subscriptions(EndpointId endpoint) const;

    /// Host code: a new endpoint calling `handler` for each event on topics matching
    /// `pattern`; detach() the id to stop.
    Result<EndpointId> subscribe(std::string_view pattern,
                                 std::function<void(const Event&)> handler);

    /// Publishes `data` (JSON text) on `topic` (1 to 256 characters of letters, digits and
    /// `._:/-`) to every endpoint subscribed to it. Refused, before anything is queued, when
    /// the data is not JSON, the queue is full or the chain of events is too deep.
    Result<void> publish(std::string_view topic, std::string_view data,
                         std::string_view source = "host");

    /// A call into the endpoint's plugin begins on this thread: waits while the bus delivers
    /// to it on another thread; refused when this thread is already inside it (re-entry).
    Result<void> enter(EndpointId endpoint);
    /// The call begun by enter() ended: events queued for the endpoint meanwhile are delivered
    /// (on this thread, once it is inside no other endpoint).
    void leave(EndpointId endpoint);

    /// Adds a listener of failed deliveries, called on the delivering thread outside the bus's
    /// lock.
    void on_failure(FailureListener listener);
    Stats stats() const;
    const EventBusOptions& options() const;

    /// Whether `topic` is a valid topic (`pattern` false) or subscription pattern (true).
    static Result<void> check_topic(std::string_view topic, bool pattern);

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

/// A command a plugin registered: the host invokes it with a payload matching its schema.
struct CommandInfo {
    std::string plugin;
    std::string id;
    std::string title;
    std::string schema; ///< JSON Schema of the payload (the subset of config_schema); "" for any
    /// The export called with the payload itself (a manifest's `contributes.commands[].export`);
    /// empty: the plugin's handle_command gets {"action": id, "payload": payload}.
    std::string export_name;
    bool operator==(const CommandInfo&) const = default;
};

/// A slot: a named operation the host calls by name (ZenoEngine's model).
struct SlotInfo {
    std::string plugin;
    std::string name;
    std::string description;
    /// JSON text of an example input (a ZenoEngine slot's: its ZenoLang text as a JSON string);
    /// "" when none
    std::string example;
    std::string schema; ///< JSON Schema of the input (the subset of config_schema); "" for any
    /// What the plugin's ABI calls: an export (Extism), else the slot's name (ZenoEngine).
    std::string target;
    bool operator==(const SlotInfo&) const = default;
};

/// A UI block type: how the host shows data of a plugin's as HTML or JSON.
struct BlockType {
    std::string plugin;
    std::string id;
    std::string name;
    std::string schema; ///< JSON Schema of a block's data (the subset of config_schema); "" any
    /// The renderer: a template (`{{field}}`, `{{a.b}}`: the data's values, HTML-escaped) ...
    std::string template_text;
    /// ... or the export that gets the data and outputs the rendered block.
    std::string export_name;
    std::string format = "html"; ///< what the renderer gives: "html" or "json"
    bool operator==(const BlockType&) const = default;
};

/// A rendered block.
struct RenderedBlock {
    std::string format; ///< "html" or "json"
    std::string body;
};

/// The registries of commands, slots and UI blocks, and the event bus, shared by the host and
/// the plugins loaded through the host library. Plugin instances attach to it when they are
/// made and detach when they are shut down; what an instance registered goes with it. Every
/// member may be called from any thread.
class Dispatch {
public:
    /// Calls into one plugin instance: `target` is an export (or, for ZenoEngine's ABI, a
    /// slot), `input` its input. Called only while the instance's endpoint is entered.
    using GuestCall =
        std::function<Result<std::string>(std::string_view target, std::string_view input)>;
    explicit Dispatch(EventBusOptions options = {});
    ~Dispatch();
    Dispatch(const Dispatch&) = delete;
    Dispatch& operator=(const Dispatch&) = delete;

    EventBus& events();
    /// The manager whose plugins are loaded on first use: invoking a command or rendering a
    /// block of a plugin not loaded yet, or calling a slot its manifest contributes, loads it
    /// (its initialize registers what it offers). Null: none.
    void set_manager(PluginManager* manager);

    /// Every command registered, by plugin then id.
    std::vector<CommandInfo> commands() const;
    /// Invokes a command with a JSON payload: refused before the plugin runs when the plugin
    /// has no such command or the payload does not match its schema. The plugin's
    /// handle_command answers {"ok": true, "data": ...} (the result is data's JSON text,
    /// "null" without it) or {"ok": false, "error": "..."} (an ErrorKind::plugin error).
    Result<std::string> invoke(std::string_view plugin, std::string_view command,
                               std::string_view payload);

    /// Every slot registered, by name.
    std::vector<SlotInfo> slots() const;
    /// Calls the slot `name` with a JSON input; an unknown slot, or an input that does not
    /// match its schema, is refused before the plugin runs. The result is the plugin's output.
    Result<std::string> call_slot(std::string_view name, std::string_view input);

    /// Every UI block type registered, by plugin then id.
    std::vector<BlockType> blocks() const;
    /// Renders a block of `plugin`'s type `block` with `data` (JSON matching its schema):
    /// through its template, or by calling its export.
    Result<RenderedBlock> render(std::string_view plugin, std::string_view block,
                                 std::string_view data);

    // ---- The plugin side: used by the guest ABI adapters and the kiln:host/v1 functions.

    /// Attaches an instance of `plugin`: an endpoint of the bus (its events go to `deliver`),
    /// through which `call` reaches the instance; `has` says whether it has an export (none:
    /// every export is taken to exist). Returns the endpoint.
    EventBus::EndpointId attach(std::string plugin, GuestCall call, EventBus::Receiver deliver,
                                std::function<bool(std::string_view)> has = {});
    /// Whether the attached instance has the export `name`.
    bool has_export(EventBus::EndpointId instance, std::string_view name) const;
    /// Registers what a manifest contributes (`contributes`): its slots, served by their export
    /// (or the export named like the slot), and its commands, served by their export or by
    /// handle_command. The plugin registering one of them itself replaces the declaration.
    Result<void> declare(EventBus::EndpointId instance,
                         const std::vector<Contribution>& contributions);
    /// Detaches an instance: its subscriptions, commands, slots and blocks go (after the call
    /// or delivery it is running on another thread).
    void detach(EventBus::EndpointId instance);
    /// Registers a command of the instance; a command id it registered already is an error.
    /// An instance of the same plugin made later (a reload) takes over the commands of the
    /// earlier one.
    Result<void> add_command(EventBus::EndpointId instance, CommandInfo command);
    /// Registers a slot; a name another plugin holds is an error.
    Result<void> add_slot(EventBus::EndpointId instance, SlotInfo slot);
    /// Registers a UI block type.
    Result<void> add_block(EventBus::EndpointId instance, BlockType block);

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

} // namespace kiln
