// The C API of the plugin manager (kiln.h, "the plugin manager") over kiln::PluginManager. A file
// of its own, so that a C host that never calls kiln_manager_* links none of the manager.
#include "capi/capi.hpp"

#include <kiln/manager.hpp>
#include <kiln/state_db.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

namespace {

using kiln::capi::give_string;
using kiln::capi::guarded;
using kiln::capi::new_error;
using kiln::capi::out_of_memory;
using kiln::capi::usage;

static_assert(int(KILN_MANAGER_LOADED) == int(kiln::ManagerEvent::Kind::loaded));
static_assert(int(KILN_MANAGER_UNLOADED) == int(kiln::ManagerEvent::Kind::unloaded));
static_assert(int(KILN_MANAGER_FAILED) == int(kiln::ManagerEvent::Kind::failed));
static_assert(int(KILN_MANAGER_RELOADED) == int(kiln::ManagerEvent::Kind::reloaded));

kiln_error* result_error(kiln::Result<void> result) {
    return result ? nullptr : new_error(std::move(result.error()));
}

/// The checks every entry point naming a plugin makes.
kiln_error* check_plugin(const kiln_manager* manager, const char* plugin) {
    if (!manager) return usage("manager is NULL");
    if (!plugin) return usage("plugin is NULL");
    return nullptr;
}

/// A grant text parsed, then given to grant or revoke.
template <typename F>
kiln_error* change_grants(kiln_manager* manager, const char* plugin, const char* permission,
                          F&& change) {
    if (auto* e = check_plugin(manager, plugin)) return e;
    if (!permission) return usage("permission is NULL");
    auto parsed = kiln::parse_grant(permission);
    if (!parsed) return new_error(std::move(parsed.error()));
    return result_error(change(*parsed));
}

/// A callback's user data, finalized once when the last listener copy goes.
struct UserData {
    void* data;
    void (*free)(void*);
    UserData(void* d, void (*f)(void*)) : data(d), free(f) {}
    UserData(const UserData&) = delete;
    UserData& operator=(const UserData&) = delete;
    ~UserData() {
        if (free) free(data);
    }
};

} // namespace

kiln_error_t* kiln_manager_new(const kiln_engine_t* engine, const kiln_manager_config_t* config,
                               kiln_manager_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!engine) return usage("engine is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        kiln::ManagerOptions options;
        options.engine = engine->engine;
        if (config) {
            options.eager = config->eager;
            if (config->plugin_options) options.plugin_options = config->plugin_options->options;
            if (config->lifecycle_timeout_ms != 0)
                options.lifecycle_timeout =
                    std::chrono::milliseconds(std::max<int64_t>(config->lifecycle_timeout_ms, 0));
            if (config->state_path) {
                auto db = kiln::StateDb::open(config->state_path);
                if (!db) return new_error(std::move(db.error()));
                options.state = std::move(*db);
            }
        }
        auto manager = std::make_unique<kiln::PluginManager>(std::move(options));
        if (auto ready = manager->check_state(); !ready) return new_error(std::move(ready.error()));
        *out = new kiln_manager{std::move(manager)};
        return nullptr;
    });
}

void kiln_manager_delete(kiln_manager_t* manager) {
    delete manager;
}

kiln_error_t* kiln_manager_open(kiln_manager_t* manager, const char* folder) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        if (!folder) return usage("folder is NULL");
        return result_error(manager->manager->open(folder));
    });
}

kiln_error_t* kiln_manager_add(kiln_manager_t* manager, const char* path, char** name) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        if (!path) return usage("path is NULL");
        if (name) *name = nullptr;
        auto added = manager->manager->add(path);
        if (!added) return new_error(std::move(added.error()));
        return name ? give_string(*added, name) : nullptr;
    });
}

kiln_error_t* kiln_manager_list_json(const kiln_manager_t* manager, char** json) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        if (!json) return usage("json is NULL");
        *json = nullptr;
        return give_string(kiln::plugins_json(manager->manager->list()), json);
    });
}

kiln_error_t* kiln_manager_info_json(const kiln_manager_t* manager, const char* plugin,
                                     char** json) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        if (!json) return usage("json is NULL");
        *json = nullptr;
        auto info = manager->manager->info(plugin);
        if (!info) return usage(fmt::format("no plugin {}", plugin));
        auto granted = manager->manager->granted(info->path);
        if (!granted) return new_error(std::move(granted.error()));
        return give_string(kiln::plugin_json(*info, *granted), json);
    });
}

kiln_error_t* kiln_manager_load(kiln_manager_t* manager, const char* plugin) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        return result_error(manager->manager->load(plugin));
    });
}

kiln_error_t* kiln_manager_validate(kiln_manager_t* manager, const char* plugin) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        return result_error(manager->manager->validate(plugin));
    });
}

kiln_error_t* kiln_manager_load_all(kiln_manager_t* manager) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        return result_error(manager->manager->load_all());
    });
}

kiln_error_t* kiln_manager_has(kiln_manager_t* manager, const char* plugin, const char* target,
                               bool* out) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        if (!target) return usage("target is NULL");
        if (!out) return usage("out is NULL");
        *out = false;
        auto has = manager->manager->has(plugin, target);
        if (!has) return new_error(std::move(has.error()));
        *out = *has;
        return nullptr;
    });
}

kiln_error_t* kiln_manager_watch(kiln_manager_t* manager, bool keep_vars) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        kiln::ReloadOptions options;
        options.keep_vars = keep_vars;
        return result_error(manager->manager->watch(options));
    });
}

void kiln_manager_stop_watching(kiln_manager_t* manager) {
    if (manager) manager->manager->stop_watching();
}

kiln_error_t* kiln_manager_unload(kiln_manager_t* manager, const char* plugin) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        return result_error(manager->manager->unload(plugin));
    });
}

kiln_error_t* kiln_manager_reload(kiln_manager_t* manager, const char* plugin, bool keep_vars) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        return result_error(manager->manager->reload(plugin, {.keep_vars = keep_vars}));
    });
}

kiln_error_t* kiln_manager_call(kiln_manager_t* manager, const char* plugin, const char* target,
                                const uint8_t* input, size_t input_len, uint8_t** output,
                                size_t* output_len) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        if (!target) return usage("target is NULL");
        if (!input && input_len) return usage("input is NULL");
        if (!output || !output_len) return usage("output is NULL");
        *output = nullptr;
        *output_len = 0;
        auto out = manager->manager->call(
            plugin, target, std::string_view(reinterpret_cast<const char*>(input), input_len));
        if (!out) return new_error(std::move(out.error()));
        auto* copy = static_cast<uint8_t*>(kiln::capi::malloc_copy(out->data(), out->size()));
        if (!copy) return &out_of_memory;
        *output = copy;
        *output_len = out->size();
        return nullptr;
    });
}

kiln_error_t* kiln_manager_call_scoped(kiln_manager_t* manager, const char* plugin,
                                       const char* target, const uint8_t* input, size_t input_len,
                                       char** scope, uint8_t** output, size_t* output_len) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        if (!target) return usage("target is NULL");
        if (!input && input_len) return usage("input is NULL");
        if (!scope) return usage("scope is NULL");
        if (!output || !output_len) return usage("output is NULL");
        *output = nullptr;
        *output_len = 0;
        kiln::CallContext context{*scope ? *scope : ""};
        auto out = manager->manager->call(
            plugin, target, std::string_view(reinterpret_cast<const char*>(input), input_len),
            context);
        if (*scope || !context.scope.empty()) {
            char* after = nullptr;
            if (auto* e = give_string(context.scope, &after)) return e;
            *scope = after;
        }
        if (!out) return new_error(std::move(out.error()));
        auto* copy = static_cast<uint8_t*>(kiln::capi::malloc_copy(out->data(), out->size()));
        if (!copy) return &out_of_memory;
        *output = copy;
        *output_len = out->size();
        return nullptr;
    });
}

kiln_error_t* kiln_manager_set_enabled(kiln_manager_t* manager, const char* plugin, bool enabled) {
    return guarded([&]() -> kiln_error* {
        if (auto* e = check_plugin(manager, plugin)) return e;
        return result_error(manager->manager->set_enabled(plugin, enabled));
    });
}

kiln_error_t* kiln_manager_grant(kiln_manager_t* manager, const char* plugin,
                                 const char* permission) {
    return guarded([&]() -> kiln_error* {
        return change_grants(manager, plugin, permission, [&](const kiln::Permissions& p) {
            return manager->manager->grant(plugin, p);
        });
    });
}

kiln_error_t* kiln_manager_revoke(kiln_manager_t* manager, const char* plugin,
                                  const char* permission) {
    return guarded([&]() -> kiln_error* {
        return change_grants(manager, plugin, permission, [&](const kiln::Permissions& p) {
            return manager->manager->revoke(plugin, p);
        });
    });
}

kiln_error_t* kiln_manager_audit_json(const kiln_manager_t* manager, const char* plugin,
                                      char** json) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        if (!json) return usage("json is NULL");
        *json = nullptr;
        return give_string(
            kiln::audit_json(manager->manager->audit().records(plugin ? plugin : "")), json);
    });
}

kiln_error_t* kiln_manager_on_event(kiln_manager_t* manager, kiln_manager_event_callback_t callback,
                                    void* user_data, void (*free_user_data)(void* user_data)) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        if (!callback) return usage("callback is NULL");
        // Made without its finalizer first: should anything below throw, user_data stays the
        // caller's as documented.
        auto data = std::make_shared<UserData>(user_data, nullptr);
        manager->manager->on_event([callback, data](const kiln::ManagerEvent& e) {
            callback(data->data, kiln_manager_event_kind_t(e.kind), e.plugin.c_str(),
                     e.detail.c_str());
        });
        data->free = free_user_data;
        return nullptr;
    });
}

void kiln_string_delete(char* text) {
    std::free(text);
}
