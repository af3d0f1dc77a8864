// Native components: C++ functions behind the same ActorContext as wasm actors' host functions.
#include "actors/actor.hpp"

#include <fmt/format.h>

namespace kiln {

namespace {

class NativeActor final : public actors::Actor {
public:
    NativeActor(std::string node, NativeComponent component) : m_component(std::move(component)) {
        m_info.id = std::move(node);
        m_info.component = m_component.spec.component;
        m_info.source = "native";
        m_info.spec = m_component.spec;
        m_info.abi = "native";
    }

    Result<void> process(ActorContext::Call& call) override {
        ActorContext context(call);
        if (!m_component.process)
            return make_error(ErrorKind::usage, fmt::format("component {} has no process function",
                                                            m_info.component));
        return m_component.process(context);
    }
    const ResolvedNode& info() const override { return m_info; }

private:
    NativeComponent m_component;
    ResolvedNode m_info;
};

} // namespace

std::unique_ptr<actors::Actor> actors::make_native_actor(std::string node,
                                                         NativeComponent component) {
    return std::make_unique<NativeActor>(std::move(node), std::move(component));
}

const std::string& ActorContext::node_id() const {
    return m_call.node_id;
}

const std::string& ActorContext::component() const {
    return m_call.component;
}

const std::string& ActorContext::port() const {
    return m_call.port;
}

const Message& ActorContext::message() const {
    return m_call.message;
}

const std::string& ActorContext::config() const {
    return m_call.config.config;
}

std::optional<std::string> ActorContext::env(const std::string& name) const {
    auto it = m_call.config.resolved_env.find(name);
    if (it == m_call.config.resolved_env.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> ActorContext::state(std::string_view key) const {
    auto it = m_call.state.find(key);
    if (it == m_call.state.end()) return std::nullopt;
    return actors::dump_json(*it);
}

Result<void> ActorContext::set_state(std::string_view key, std::string_view json) {
    auto value = actors::parse_json(json, fmt::format("state {}", key));
    if (!value) return make_error(ErrorKind::usage, value.error().message);
    m_call.state[std::string(key)] = std::move(*value);
    m_call.state_changed = true;
    return {};
}

std::string ActorContext::state_json() const {
    return actors::dump_json(m_call.state);
}

void ActorContext::send(std::string_view port, Message message) {
    m_call.outlet.send(port, std::move(message));
}

void NetworkOptions::add_component(NativeComponent component) {
    std::string name = component.spec.component;
    components[name] = std::move(component);
}

} // namespace kiln
