// What the runtime runs for one node: an Actor (native or wasm) that processes one message per
// call against an ActorContext::Call, which holds the message, the node's config and live state,
// and the Outlet its sends and warnings go to.
#pragma once

#include "actors/json.hpp"

#include <kiln/actors.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace kiln::actors {

/// Where a call's messages and log lines go (the network, or a test).
class Outlet {
public:
    virtual ~Outlet() = default;
    /// Sends a message from the calling node's out-port `port` at once.
    virtual void send(std::string_view port, Message message) = 0;
    /// A runtime log line about the calling node.
    virtual void log(LogLevel level, std::string line) = 0;
};

/// A component loaded for one node.
class Actor {
public:
    virtual ~Actor() = default;
    /// Processes the call's message; an error is the node's failure for it.
    virtual Result<void> process(ActorContext::Call& call) = 0;
    /// Stops the running call from another thread, where the actor can.
    virtual void cancel() {}
    /// What the node runs: its source, metadata and ABI.
    virtual const ResolvedNode& info() const = 0;
};

/// An actor running a native component.
std::unique_ptr<Actor> make_native_actor(std::string node, NativeComponent component);

} // namespace kiln::actors

namespace kiln {

struct ActorContext::Call {
    const std::string& node_id;
    const std::string& component;
    const std::string& port;
    const Message& message;
    const NodeConfig& config;
    actors::Json& state; ///< live: __get_state/__set_state and set_state act on it
    actors::Outlet& outlet;
    bool state_changed = false;
};

} // namespace kiln
