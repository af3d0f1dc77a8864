// Dispatch's insides, shared with the kiln:host/v1 functions that register into it.
#pragma once

#include <kiln/dispatch.hpp>
#include <kiln/manager.hpp>
#include <kiln/plugin.hpp>

#include "plugin/walker.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::dispatch {

/// One attached plugin instance.
struct Instance {
    EventBus::EndpointId id = 0;
    std::string plugin;
    Dispatch::GuestCall call;
    std::function<bool(std::string_view)> has;
};

/// A registry entry with the instance that registered it.
template <typename T> struct Owned {
    T info;
    EventBus::EndpointId owner = 0;
    bool declared = false; ///< from the manifest: the plugin's own registration replaces it
};

/// Adds `entry` to the entries of one key: refused when its owner registered the key already
/// (unless the same again: a no-op), or that was only declared by the manifest (then
/// replaced). `what` names it in errors.
template <typename T>
Result<void> add_entry(std::vector<Owned<T>>& entries, Owned<T> entry, const std::string& what) {
    for (Owned<T>& e : entries)
        if (e.owner == entry.owner) {
            // The same registration again (a plugin initialised again on a fresh instance
            // after a trap) changes nothing.
            if (!e.declared && !entry.declared && e.info == entry.info) return {};
            if (!e.declared || entry.declared)
                return make_error(ErrorKind::usage, what + " is registered already");
            e = std::move(entry);
            return {};
        }
    entries.push_back(std::move(entry));
    return {};
}

/// Checks a command id, slot name, block id or template field: 1 to 128 letters, digits and
/// `._:/-`; the error names `what`.
Result<void> check_name(std::string_view what, std::string_view name);
/// JSON text parsed ("" reads as null); the error names `what`.
Result<plugin::Json> parse_json(std::string_view what, std::string_view text);
/// Checks a schema given as JSON text ("" is none) against config_schema's subset.
Result<void> check_schema_text(std::string_view what, const std::string& schema);
/// Checks `value` against a schema given as JSON text ("" accepts anything); a usage error.
Result<void> validate_input(std::string_view what, const std::string& schema,
                            const plugin::Json& value);
/// `text` with & < > " ' as HTML entities.
std::string html_escape(std::string_view text);
/// A block template with each `{{path}}` replaced by the HTML-escaped value at that path of
/// `data` (nothing for a missing or null value); with `data` null, only checks the template.
Result<std::string> render_template(std::string_view text, const plugin::Json* data);

} // namespace kiln::dispatch

namespace kiln::hostfns {

struct PluginHost;

/// kiln:host/v1's dispatch functions for one plugin (a ModuleExtension): event_publish,
/// event_subscribe, event_unsubscribe, command_register, slot_register, block_register.
std::vector<PluginFunction> dispatch_functions(const std::shared_ptr<PluginHost>& host);

} // namespace kiln::hostfns

namespace kiln {

struct Dispatch::Impl {
    explicit Impl(EventBusOptions options) : bus(options) {}

    EventBus bus;
    mutable std::mutex mutex;
    PluginManager* manager = nullptr;
    std::map<EventBus::EndpointId, std::shared_ptr<dispatch::Instance>> instances;
    /// Newest last: the one in force; earlier ones come back if it is detached.
    std::map<std::pair<std::string, std::string>, std::vector<dispatch::Owned<CommandInfo>>>
        commands;
    std::map<std::string, std::vector<dispatch::Owned<SlotInfo>>> slots;
    std::map<std::pair<std::string, std::string>, std::vector<dispatch::Owned<BlockType>>> blocks;

    /// The attached instance `id` (lock held); null when it is gone.
    std::shared_ptr<dispatch::Instance> instance(EventBus::EndpointId id) const;
    /// Whether an instance of `plugin` is attached (lock held).
    bool attached(std::string_view plugin) const;
    /// Calls `target` of the instance `owner`, inside its endpoint.
    Result<std::string> call(EventBus::EndpointId owner, std::string_view target,
                             std::string_view input);
    /// Adds a command, as add_command() or declare() do.
    Result<void> add_command(dispatch::Owned<CommandInfo> entry);
    /// Adds a slot, as add_slot() or declare() do.
    Result<void> add_slot(dispatch::Owned<SlotInfo> entry);
    /// Loads `plugin` through the manager when no instance of it is attached.
    Result<void> load(std::string_view plugin);
    /// The plugin whose manifest contributes slot `name`, if the manager knows one.
    std::optional<std::string> slot_owner(std::string_view name) const;
};

} // namespace kiln
