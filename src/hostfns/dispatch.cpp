// The registries of commands, slots and UI blocks. What an instance registers is kept with the
// instance's bus endpoint as its owner: detaching the instance takes it all away, and an
// instance of the same plugin made later (a reload, built beside the running one) shadows the
// earlier one's entries without removing them, so that a reload that fails leaves the old
// registrations in force.
#include <kiln/dispatch.hpp>
#include <kiln/manager.hpp>

#include "base/text.hpp"
#include "hostfns/dispatch_impl.hpp"
#include "manager/schema.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace kiln {

namespace {

using plugin::Json;

constexpr size_t max_name_length = 128;

} // namespace

Result<void> dispatch::check_name(std::string_view what, std::string_view name) {
    if (name.empty() || name.size() > max_name_length)
        return make_error(ErrorKind::usage,
                          fmt::format("{} \"{}\": expected 1 to {} characters", what,
                                      escape_control(name.substr(0, 64)), max_name_length));
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '-'))
            return make_error(ErrorKind::usage,
                              fmt::format("{} \"{}\": character '{}' is not allowed (letters, "
                                          "digits and ._:/-)",
                                          what, escape_control(name), escape_control({&c, 1})));
    return {};
}

Result<Json> dispatch::parse_json(std::string_view what, std::string_view text) {
    Json v = Json::parse(text.empty() ? std::string_view("null") : text, nullptr,
                         /*allow_exceptions=*/false);
    if (v.is_discarded())
        return make_error(ErrorKind::usage, fmt::format("{}: expected JSON", what));
    return v;
}

Result<void> dispatch::check_schema_text(std::string_view what, const std::string& schema) {
    if (schema.empty()) return {};
    auto parsed = parse_json(what, schema);
    if (!parsed) return tl::unexpected(parsed.error());
    return manager::check_schema(*parsed, std::string(what));
}

Result<void> dispatch::validate_input(std::string_view what, const std::string& schema,
                                      const Json& value) {
    if (schema.empty()) return {};
    auto parsed = parse_json(what, schema);
    if (!parsed) return tl::unexpected(parsed.error());
    if (auto ok = manager::validate(*parsed, value, std::string(what)); !ok)
        return make_error(ErrorKind::usage, ok.error().message);
    return {};
}

std::string dispatch::html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

Result<std::string> dispatch::render_template(std::string_view text, const Json* data) {
    std::string out;
    size_t at = 0;
    while (true) {
        size_t open = text.find("{{", at);
        if (open == std::string_view::npos) {
            out += text.substr(at);
            return out;
        }
        out += text.substr(at, open - at);
        size_t close = text.find("}}", open + 2);
        if (close == std::string_view::npos)
            return make_error(ErrorKind::usage,
                              fmt::format("template: \"{{{{\" at offset {} is not closed", open));
        std::string_view path = text.substr(open + 2, close - open - 2);
        while (!path.empty() && path.front() == ' ')
            path.remove_prefix(1);
        while (!path.empty() && path.back() == ' ')
            path.remove_suffix(1);
        if (auto ok = check_name("template field", path); !ok)
            return make_error(ErrorKind::usage,
                              fmt::format("template: at offset {}: {}", open, ok.error().message));
        if (data) {
            // Each dot-separated part is an object's key or an array's index.
            const Json* v = data;
            size_t from = 0;
            while (v && from <= path.size()) {
                size_t dot = path.find('.', from);
                std::string part(path.substr(
                    from, dot == std::string_view::npos ? std::string_view::npos : dot - from));
                if (v->is_object() && v->contains(part)) {
                    v = &(*v)[part];
                } else if (v->is_array() && !part.empty() &&
                           part.find_first_not_of("0123456789") == std::string::npos &&
                           part.size() < 10 && std::stoul(part) < v->size()) {
                    v = &(*v)[std::stoul(part)];
                } else {
                    v = nullptr;
                }
                if (dot == std::string_view::npos) break;
                from = dot + 1;
            }
            if (v && !v->is_null())
                out += html_escape(v->is_string() ? v->get<std::string>() : v->dump());
        }
        at = close + 2;
    }
}

Dispatch::Dispatch(EventBusOptions options) : m_impl(std::make_unique<Impl>(options)) {}

Dispatch::~Dispatch() = default;

EventBus& Dispatch::events() {
    return m_impl->bus;
}

void Dispatch::set_manager(PluginManager* manager) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->manager = manager;
}

EventBus::EndpointId Dispatch::attach(std::string plugin, GuestCall call,
                                      EventBus::Receiver deliver,
                                      std::function<bool(std::string_view)> has) {
    EventBus::EndpointId id = m_impl->bus.attach(plugin, std::move(deliver));
    auto instance = std::make_shared<dispatch::Instance>();
    instance->id = id;
    instance->plugin = std::move(plugin);
    instance->call = std::move(call);
    instance->has = std::move(has);
    std::lock_guard lock(m_impl->mutex);
    m_impl->instances.emplace(id, std::move(instance));
    return id;
}

void Dispatch::detach(EventBus::EndpointId instance) {
    // The bus first: it waits for the instance's running call or delivery to end.
    m_impl->bus.detach(instance);
    std::lock_guard lock(m_impl->mutex);
    m_impl->instances.erase(instance);
    auto drop = [&](auto& registry) {
        for (auto it = registry.begin(); it != registry.end();) {
            std::erase_if(it->second, [&](const auto& o) { return o.owner == instance; });
            it = it->second.empty() ? registry.erase(it) : std::next(it);
        }
    };
    drop(m_impl->commands);
    drop(m_impl->slots);
    drop(m_impl->blocks);
}

bool Dispatch::has_export(EventBus::EndpointId instance, std::string_view name) const {
    std::shared_ptr<dispatch::Instance> inst;
    {
        std::lock_guard lock(m_impl->mutex);
        inst = m_impl->instance(instance);
    }
    return inst && (!inst->has || inst->has(name));
}

Result<void> Dispatch::declare(EventBus::EndpointId instance,
                               const std::vector<Contribution>& contributions) {
    for (const Contribution& c : contributions) {
        Result<void> ok;
        if (c.kind == Contribution::Kind::command) {
            ok = m_impl->add_command({CommandInfo{"", c.id, c.title, "", c.export_name}, instance,
                                      /*declared=*/true});
        } else if (c.kind == Contribution::Kind::slot) {
            ok = m_impl->add_slot(
                {SlotInfo{"", c.id, c.title, "", "", c.export_name.empty() ? c.id : c.export_name},
                 instance, /*declared=*/true});
        }
        if (!ok) return ok;
    }
    return {};
}

std::shared_ptr<dispatch::Instance> Dispatch::Impl::instance(EventBus::EndpointId id) const {
    auto it = instances.find(id);
    return it == instances.end() ? nullptr : it->second;
}

bool Dispatch::Impl::attached(std::string_view plugin) const {
    return std::any_of(instances.begin(), instances.end(),
                       [&](const auto& i) { return i.second->plugin == plugin; });
}

Result<std::string> Dispatch::Impl::call(EventBus::EndpointId owner, std::string_view target,
                                         std::string_view input) {
    std::shared_ptr<dispatch::Instance> inst;
    {
        std::lock_guard lock(mutex);
        inst = instance(owner);
    }
    if (!inst) return make_error(ErrorKind::usage, "the plugin was unloaded");
    if (auto entered = bus.enter(owner); !entered)
        return make_error(ErrorKind::usage,
                          fmt::format("{}: {}", inst->plugin, entered.error().message));
    auto result = inst->call(target, input);
    bus.leave(owner);
    return result;
}

Result<void> Dispatch::Impl::load(std::string_view plugin) {
    PluginManager* m;
    {
        std::lock_guard lock(mutex);
        if (!manager || attached(plugin)) return {};
        m = manager;
    }
    auto info = m->info(plugin);
    if (!info || info->state != PluginState::available) return {};
    return m->load(plugin);
}

std::optional<std::string> Dispatch::Impl::slot_owner(std::string_view name) const {
    PluginManager* m;
    {
        std::lock_guard lock(mutex);
        m = manager;
    }
    if (!m) return std::nullopt;
    for (const PluginInfo& p : m->list())
        if (p.manifest)
            for (const Contribution& c : p.manifest->contributes)
                if (c.kind == Contribution::Kind::slot && c.id == name) return p.name;
    return std::nullopt;
}

Result<void> Dispatch::add_command(EventBus::EndpointId instance, CommandInfo command) {
    return m_impl->add_command({std::move(command), instance});
}

Result<void> Dispatch::Impl::add_command(dispatch::Owned<CommandInfo> entry) {
    CommandInfo& command = entry.info;
    if (auto ok = dispatch::check_name("command", command.id); !ok) return ok;
    if (auto ok = dispatch::check_schema_text(fmt::format("command {}: schema", command.id),
                                              command.schema);
        !ok)
        return ok;
    std::lock_guard lock(mutex);
    auto inst = instance(entry.owner);
    if (!inst) return make_error(ErrorKind::usage, "no such plugin instance");
    command.plugin = inst->plugin;
    const std::string what = fmt::format("{}: command \"{}\"", command.plugin, command.id);
    auto& entries = commands[{command.plugin, command.id}];
    return dispatch::add_entry(entries, std::move(entry), what);
}

Result<void> Dispatch::add_slot(EventBus::EndpointId instance, SlotInfo slot) {
    return m_impl->add_slot({std::move(slot), instance});
}

Result<void> Dispatch::Impl::add_slot(dispatch::Owned<SlotInfo> entry) {
    SlotInfo& slot = entry.info;
    if (auto ok = dispatch::check_name("slot", slot.name); !ok) return ok;
    if (auto ok =
            dispatch::check_schema_text(fmt::format("slot {}: schema", slot.name), slot.schema);
        !ok)
        return ok;
    if (!slot.example.empty())
        if (auto ok =
                dispatch::parse_json(fmt::format("slot {}: example", slot.name), slot.example);
            !ok)
            return tl::unexpected(ok.error());
    if (slot.target.empty()) slot.target = slot.name;
    std::lock_guard lock(mutex);
    auto inst = instance(entry.owner);
    if (!inst) return make_error(ErrorKind::usage, "no such plugin instance");
    slot.plugin = inst->plugin;
    auto& entries = slots[slot.name];
    for (const auto& e : entries)
        if (e.info.plugin != slot.plugin)
            return make_error(ErrorKind::usage,
                              fmt::format("{}: slot \"{}\" belongs to plugin {} already",
                                          slot.plugin, slot.name, e.info.plugin));
    const std::string what = fmt::format("{}: slot \"{}\"", slot.plugin, slot.name);
    return dispatch::add_entry(entries, std::move(entry), what);
}

Result<void> Dispatch::add_block(EventBus::EndpointId instance, BlockType block) {
    if (auto ok = dispatch::check_name("UI block", block.id); !ok) return ok;
    const std::string what = fmt::format("UI block {}", block.id);
    if (auto ok = dispatch::check_schema_text(what + ": schema", block.schema); !ok) return ok;
    if (block.template_text.empty() == block.export_name.empty())
        return make_error(
            ErrorKind::usage,
            fmt::format("{}: expected a renderer: a template or an export (one)", what));
    if (block.format != "html" && block.format != "json")
        return make_error(ErrorKind::usage, fmt::format("{}: format \"{}\": expected html or json",
                                                        what, escape_control(block.format)));
    if (!block.template_text.empty()) {
        if (block.format != "html")
            return make_error(ErrorKind::usage, fmt::format("{}: a template renders html", what));
        if (auto ok = dispatch::render_template(block.template_text, nullptr); !ok)
            return make_error(ErrorKind::usage, fmt::format("{}: {}", what, ok.error().message));
    }
    std::lock_guard lock(m_impl->mutex);
    auto inst = m_impl->instance(instance);
    if (!inst) return make_error(ErrorKind::usage, "no such plugin instance");
    block.plugin = inst->plugin;
    const std::string registered = fmt::format("{}: UI block \"{}\"", block.plugin, block.id);
    auto& entries = m_impl->blocks[{block.plugin, block.id}];
    return dispatch::add_entry(entries, {std::move(block), instance}, registered);
}

std::vector<CommandInfo> Dispatch::commands() const {
    std::lock_guard lock(m_impl->mutex);
    std::vector<CommandInfo> out;
    for (const auto& [key, entries] : m_impl->commands)
        out.push_back(entries.back().info);
    return out;
}

std::vector<SlotInfo> Dispatch::slots() const {
    std::lock_guard lock(m_impl->mutex);
    std::vector<SlotInfo> out;
    for (const auto& [key, entries] : m_impl->slots)
        out.push_back(entries.back().info);
    return out;
}

std::vector<BlockType> Dispatch::blocks() const {
    std::lock_guard lock(m_impl->mutex);
    std::vector<BlockType> out;
    for (const auto& [key, entries] : m_impl->blocks)
        out.push_back(entries.back().info);
    return out;
}

Result<std::string> Dispatch::invoke(std::string_view plugin, std::string_view command,
                                     std::string_view payload) {
    Impl& impl = *m_impl;
    if (auto ok = impl.load(plugin); !ok) return tl::unexpected(ok.error());
    std::optional<dispatch::Owned<CommandInfo>> found;
    std::vector<std::string> known;
    {
        std::lock_guard lock(impl.mutex);
        auto it = impl.commands.find({std::string(plugin), std::string(command)});
        if (it != impl.commands.end()) found = it->second.back();
        for (const auto& [key, entries] : impl.commands)
            if (key.first == plugin) known.push_back(key.second);
    }
    if (!found)
        return make_error(
            ErrorKind::usage,
            fmt::format("{}: no command \"{}\" ({})", escape_control(plugin),
                        escape_control(command),
                        known.empty() ? std::string("it registers none")
                                      : fmt::format("it registers {}", fmt::join(known, ", "))));
    const CommandInfo& info = found->info;
    const std::string what = fmt::format("{}: command {}: payload", info.plugin, info.id);
    auto value = dispatch::parse_json(what, payload);
    if (!value) return tl::unexpected(value.error());
    if (auto ok = dispatch::validate_input(what, info.schema, *value); !ok)
        return tl::unexpected(ok.error());
    if (!info.export_name.empty()) return impl.call(found->owner, info.export_name, payload);

    Json request = {{"action", info.id}, {"payload", std::move(*value)}};
    auto out = impl.call(found->owner, "handle_command", request.dump());
    if (!out) return out;
    auto response = Json::parse(*out, nullptr, /*allow_exceptions=*/false);
    if (response.is_discarded() || !response.is_object() || !response.contains("ok") ||
        !response["ok"].is_boolean())
        return make_error(ErrorKind::plugin,
                          fmt::format("{}: handle_command for {}: expected {{\"ok\": true|false, "
                                      "\"data\"?, \"error\"?}}, got \"{}\"",
                                      info.plugin, info.id,
                                      escape_control(std::string_view(*out).substr(0, 200))));
    if (!response["ok"].get<bool>()) {
        std::string error = "it gave no error";
        if (response.contains("error"))
            error = response["error"].is_string() ? response["error"].get<std::string>()
                                                  : response["error"].dump();
        return make_error(ErrorKind::plugin, fmt::format("{}: command {} failed: {}", info.plugin,
                                                         info.id, escape_control(error)));
    }
    return response.contains("data") ? response["data"].dump() : std::string("null");
}

Result<std::string> Dispatch::call_slot(std::string_view name, std::string_view input) {
    Impl& impl = *m_impl;
    std::optional<dispatch::Owned<SlotInfo>> found;
    auto find = [&] {
        std::lock_guard lock(impl.mutex);
        auto it = impl.slots.find(std::string(name));
        if (it != impl.slots.end()) found = it->second.back();
    };
    find();
    if (!found)
        if (auto owner = impl.slot_owner(name)) {
            if (auto ok = impl.load(*owner); !ok) return tl::unexpected(ok.error());
            find();
        }
    if (!found)
        return make_error(ErrorKind::usage,
                          fmt::format("no slot \"{}\" is registered", escape_control(name)));
    const SlotInfo& info = found->info;
    const std::string what = fmt::format("slot {}: input", info.name);
    auto value = dispatch::parse_json(what, input);
    if (!value) return tl::unexpected(value.error());
    if (auto ok = dispatch::validate_input(what, info.schema, *value); !ok)
        return tl::unexpected(ok.error());
    return impl.call(found->owner, info.target, input);
}

Result<RenderedBlock> Dispatch::render(std::string_view plugin, std::string_view block,
                                       std::string_view data) {
    Impl& impl = *m_impl;
    if (auto ok = impl.load(plugin); !ok) return tl::unexpected(ok.error());
    std::optional<dispatch::Owned<BlockType>> found;
    {
        std::lock_guard lock(impl.mutex);
        auto it = impl.blocks.find({std::string(plugin), std::string(block)});
        if (it != impl.blocks.end()) found = it->second.back();
    }
    if (!found)
        return make_error(
            ErrorKind::usage,
            fmt::format("{}: no UI block \"{}\"", escape_control(plugin), escape_control(block)));
    const BlockType& info = found->info;
    const std::string what = fmt::format("{}: UI block {}: data", info.plugin, info.id);
    auto value = dispatch::parse_json(what, data);
    if (!value) return tl::unexpected(value.error());
    if (auto ok = dispatch::validate_input(what, info.schema, *value); !ok)
        return tl::unexpected(ok.error());
    if (!info.template_text.empty()) {
        auto html = dispatch::render_template(info.template_text, &*value);
        if (!html) return tl::unexpected(html.error());
        return RenderedBlock{"html", std::move(*html)};
    }
    auto out = impl.call(found->owner, info.export_name, data);
    if (!out) return tl::unexpected(out.error());
    if (info.format == "json" && !Json::accept(*out))
        return make_error(ErrorKind::plugin,
                          fmt::format("{}: UI block {}: {} gave output that is not JSON",
                                      info.plugin, info.id, info.export_name));
    return RenderedBlock{info.format, std::move(*out)};
}

} // namespace kiln
