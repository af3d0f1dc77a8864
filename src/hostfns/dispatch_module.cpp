// kiln:host/v1's dispatch functions: events, commands, slots and UI blocks, for Extism-ABI
// plugins. Each works on the calling instance's endpoint (HostContext::endpoint) in the
// library's Dispatch, checks its permission through HostContext::check, and reports a failure
// as a status of -1 with its message for last_error().
#include "base/text.hpp"
#include "hostfns/context.hpp"
#include "hostfns/dispatch_impl.hpp"
#include "hostfns/module.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <tuple>

namespace kiln::hostfns {

namespace {

using Args = std::span<const std::string>;

/// The request of `function` as a JSON object with only the `known` keys.
Result<json> parse_spec(std::string_view function, std::string_view text,
                        std::initializer_list<const char*> known) {
    auto spec = parse_object(function, text);
    if (!spec) return spec;
    for (const auto& item : spec->items()) {
        // Not a structured binding: clang 14 cannot capture one in the lambda.
        const std::string& key = item.key();
        if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) ==
            known.end())
            return bad_request(function, fmt::format("unknown field \"{}\"", key));
    }
    return spec;
}

/// The string field `key` of a spec ("" when absent); an error when it is not a string.
Result<std::string> string_field(std::string_view function, const json& spec, const char* key,
                                 bool required) {
    if (!spec.contains(key)) {
        if (required) return bad_request(function, fmt::format("\"{}\" is required", key));
        return std::string();
    }
    if (!spec[key].is_string())
        return bad_request(function, fmt::format("\"{}\": expected a string", key));
    return spec[key].get<std::string>();
}

/// The JSON field `key` of a spec as text ("" when absent).
std::string json_field(const json& spec, const char* key) {
    return spec.contains(key) ? spec[key].dump() : std::string();
}

/// Refuses a registration naming an export the instance does not have.
Result<void> need_export(HostContext& ctx, std::string_view function, std::string_view name) {
    if (ctx.services().dispatch.has_export(ctx.endpoint(), name)) return {};
    return bad_request(function, fmt::format("the plugin exports no {}", name));
}

Result<void> event_publish(HostContext& ctx, Args a) {
    if (auto ok = EventBus::check_topic(a[0], false); !ok)
        return bad_request("event_publish", ok.error().message);
    if (auto ok = ctx.check(Permission::publish, a[0]); !ok) return ok;
    return ctx.services().dispatch.events().publish(a[0], a[1], ctx.plugin());
}

Result<void> event_subscribe(HostContext& ctx, Args a) {
    if (auto ok = EventBus::check_topic(a[0], true); !ok)
        return bad_request("event_subscribe", ok.error().message);
    if (auto ok = ctx.check(Permission::subscribe, a[0]); !ok) return ok;
    if (auto ok = need_export(ctx, "event_subscribe", "on_event"); !ok) return ok;
    return ctx.services().dispatch.events().subscribe(ctx.endpoint(), a[0]);
}

Result<void> event_unsubscribe(HostContext& ctx, Args a) {
    if (!ctx.services().dispatch.events().unsubscribe(ctx.endpoint(), a[0]))
        return bad_request("event_unsubscribe",
                           fmt::format("no subscription to \"{}\"", escape_control(a[0])));
    return {};
}

Result<void> command_register(HostContext& ctx, Args a) {
    constexpr const char* fn = "command_register";
    auto spec = parse_spec(fn, a[0], {"id", "title", "schema"});
    if (!spec) return tl::unexpected(spec.error());
    CommandInfo command;
    auto id = string_field(fn, *spec, "id", true);
    if (!id) return tl::unexpected(id.error());
    auto title = string_field(fn, *spec, "title", false);
    if (!title) return tl::unexpected(title.error());
    command.id = std::move(*id);
    command.title = std::move(*title);
    command.schema = json_field(*spec, "schema");
    if (auto ok = need_export(ctx, fn, "handle_command"); !ok) return ok;
    return ctx.services().dispatch.add_command(ctx.endpoint(), std::move(command));
}

Result<void> slot_register(HostContext& ctx, Args a) {
    constexpr const char* fn = "slot_register";
    auto spec = parse_spec(fn, a[0], {"name", "export", "description", "example", "schema"});
    if (!spec) return tl::unexpected(spec.error());
    SlotInfo slot;
    auto name = string_field(fn, *spec, "name", true);
    if (!name) return tl::unexpected(name.error());
    auto target = string_field(fn, *spec, "export", true);
    if (!target) return tl::unexpected(target.error());
    auto description = string_field(fn, *spec, "description", false);
    if (!description) return tl::unexpected(description.error());
    slot.name = std::move(*name);
    slot.target = std::move(*target);
    slot.description = std::move(*description);
    slot.example = json_field(*spec, "example");
    slot.schema = json_field(*spec, "schema");
    if (auto ok = need_export(ctx, fn, slot.target); !ok) return ok;
    return ctx.services().dispatch.add_slot(ctx.endpoint(), std::move(slot));
}

Result<void> block_register(HostContext& ctx, Args a) {
    constexpr const char* fn = "block_register";
    if (auto ok = ctx.check(Permission::ui); !ok) return ok;
    auto spec = parse_spec(fn, a[0], {"id", "name", "schema", "template", "export", "format"});
    if (!spec) return tl::unexpected(spec.error());
    BlockType block;
    for (auto [key, out, required] :
         {std::tuple{"id", &block.id, true}, std::tuple{"name", &block.name, false},
          std::tuple{"template", &block.template_text, false},
          std::tuple{"export", &block.export_name, false},
          std::tuple{"format", &block.format, false}}) {
        auto v = string_field(fn, *spec, key, required);
        if (!v) return tl::unexpected(v.error());
        if (!v->empty()) *out = std::move(*v);
    }
    block.schema = json_field(*spec, "schema");
    if (!block.export_name.empty())
        if (auto ok = need_export(ctx, fn, block.export_name); !ok) return ok;
    return ctx.services().dispatch.add_block(ctx.endpoint(), std::move(block));
}

} // namespace

std::vector<PluginFunction> dispatch_functions(const std::shared_ptr<PluginHost>& host) {
    std::vector<PluginFunction> fns;
    fns.push_back(status_function(host, "event_publish", 2, event_publish));
    fns.push_back(status_function(host, "event_subscribe", 1, event_subscribe));
    fns.push_back(status_function(host, "event_unsubscribe", 1, event_unsubscribe));
    fns.push_back(status_function(host, "command_register", 1, command_register));
    fns.push_back(status_function(host, "slot_register", 1, slot_register));
    fns.push_back(status_function(host, "block_register", 1, block_register));
    return fns;
}

} // namespace kiln::hostfns
