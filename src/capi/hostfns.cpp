// The C API of the host functions (kiln.h, "host functions") over kiln::HostLibrary. A file of
// its own, so that a C host that never calls kiln_host_* links none of the host functions.
#include "capi/capi.hpp"

#include <kiln/hostfns.hpp>

#include <memory>
#include <string>

struct kiln_host {
    std::unique_ptr<kiln::HostLibrary> host;
};

namespace {

using kiln::capi::give_string;
using kiln::capi::guarded;
using kiln::capi::new_error;
using kiln::capi::usage;

/// A handler's user data, finalized once when the last copy of the operation goes.
struct Handler {
    kiln_host_operation_t fn;
    void* data;
    void (*free)(void*);
    Handler(kiln_host_operation_t f, void* d, void (*fr)(void*)) : fn(f), data(d), free(fr) {}
    Handler(const Handler&) = delete;
    Handler& operator=(const Handler&) = delete;
    ~Handler() {
        if (free) free(data);
    }
};

} // namespace

kiln_error_t* kiln_host_new(const kiln_host_config_t* config, kiln_host_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!out) return usage("out is NULL");
        *out = nullptr;
        kiln::HostOptions options;
        if (config) {
            if (config->state_path) options.state_path = config->state_path;
            if (config->files_root) options.files_root = config->files_root;
            if (config->kv_quota) options.kv_quota = config->kv_quota;
            if (config->db_max_rows) options.db_max_rows = config->db_max_rows;
        }
        *out = new kiln_host{std::make_unique<kiln::HostLibrary>(std::move(options))};
        return nullptr;
    });
}

void kiln_host_delete(kiln_host_t* host) {
    delete host;
}

kiln_error_t* kiln_host_install(kiln_host_t* host, kiln_manager_t* manager) {
    return guarded([&]() -> kiln_error* {
        if (!host) return usage("host is NULL");
        if (!manager) return usage("manager is NULL");
        host->host->install(*manager->manager);
        return nullptr;
    });
}

kiln_error_t* kiln_host_add_database(kiln_host_t* host, const char* name, const char* path,
                                     bool writable) {
    return guarded([&]() -> kiln_error* {
        if (!host) return usage("host is NULL");
        if (!name || !*name) return usage("name is NULL or empty");
        if (!path) return usage("path is NULL");
        host->host->add_database(name, path, writable);
        return nullptr;
    });
}

kiln_error_t* kiln_host_add_operation(kiln_host_t* host, const char* name,
                                      kiln_host_operation_t handler, void* user_data,
                                      void (*free_user_data)(void* user_data)) {
    return guarded([&]() -> kiln_error* {
        if (!host) return usage("host is NULL");
        if (!name || !*name) return usage("name is NULL or empty");
        if (!handler) return usage("handler is NULL");
        auto owned = std::make_shared<Handler>(handler, user_data, free_user_data);
        host->host->add_operation(
            name, [owned](const kiln::HostOperationCall& call) -> kiln::Result<std::string> {
                const std::string plugin(call.plugin), payload(call.payload), library(call.library);
                char* result = nullptr;
                const int rc = owned->fn(owned->data, plugin.c_str(), payload.c_str(),
                                         payload.size(), library.c_str(), &result);
                std::string text = result ? result : "";
                std::free(result);
                if (rc != 0)
                    return kiln::make_error(kiln::ErrorKind::plugin,
                                            text.empty() ? "the host operation failed" : text);
                return text;
            });
        return nullptr;
    });
}

bool kiln_host_remove_operation(kiln_host_t* host, const char* name) {
    return kiln::capi::guarded_value(
        false, [&] { return host && name && host->host->remove_operation(name); });
}

kiln_error_t* kiln_host_audit_json(const kiln_host_t* host, const char* plugin, char** json) {
    return guarded([&]() -> kiln_error* {
        if (!host) return usage("host is NULL");
        if (!json) return usage("json is NULL");
        *json = nullptr;
        return give_string(kiln::audit_json(host->host->audit().records(plugin ? plugin : "")),
                           json);
    });
}
