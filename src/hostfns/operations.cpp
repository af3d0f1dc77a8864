// Host operations: the registry, the host_call family, and Spacedrive's spacedrive_call import
// bound to it.
#include "hostfns/operations.hpp"

#include "hostfns/families.hpp"
#include "hostfns/guest.hpp"
#include "hostfns/module.hpp"

#include <fmt/format.h>

namespace kiln::hostfns {

void Operations::add(const std::string& name, HostOperation handler) {
    std::lock_guard lock(m_mutex);
    m_handlers[name] = std::move(handler);
}

bool Operations::remove(const std::string& name) {
    std::lock_guard lock(m_mutex);
    return m_handlers.erase(name) > 0;
}

std::optional<HostOperation> Operations::find(std::string_view name) const {
    std::lock_guard lock(m_mutex);
    auto it = m_handlers.find(name);
    if (it == m_handlers.end()) return std::nullopt;
    return it->second;
}

Result<std::string> host_call(HostContext& ctx, std::string_view operation,
                              std::string_view payload, std::string_view library) {
    if (operation.empty()) return bad_request("host_call", "the operation name is empty");
    if (auto ok = ctx.check(Permission::operation, operation); !ok)
        return tl::unexpected(ok.error());
    if (!library.empty())
        if (auto ok = ctx.check(Permission::library, library); !ok)
            return tl::unexpected(ok.error());
    json parsed = json::parse(payload.empty() ? std::string_view("null") : payload, nullptr, false);
    if (parsed.is_discarded()) return bad_request("host_call", "the payload is not JSON");
    auto handler = ctx.services().operations->find(operation);
    if (!handler)
        return make_error(ErrorKind::usage, fmt::format("no host operation \"{}\"", operation));
    HostOperationCall call{ctx.plugin(), payload, library};
    return (*handler)(call);
}

namespace {

/// 16 bytes as a UUID's text (8-4-4-4-12 lowercase hex, big-endian as Spacedrive reads them).
std::string uuid_text(std::string_view bytes) {
    std::string out;
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += fmt::format("{:02x}", uint8_t(bytes[i]));
    }
    return out;
}

} // namespace

PluginFunction spacedrive_call_import(std::shared_ptr<PluginHost> host) {
    PluginFunction f;
    f.ns = "spacedrive";
    f.name = "spacedrive_call";
    f.type = FuncType{{ValType::i32, ValType::i32, ValType::i32, ValType::i32, ValType::i32},
                      {ValType::i32}};
    f.fn = [host = std::move(host)](CurrentPlugin& cp, std::span<const Value> a,
                                    std::span<Value> results) {
        results[0] = Value::i32(0);
        HostFunctionScope scope(*host, cp);
        if (!scope.context()) return cp.set_error(scope.context().error().message);
        HostContext& ctx = **scope.context();
        Caller& caller = cp.caller();
        auto u32 = [&](size_t i) { return uint32_t(a[i].as_i32()); };
        // Unreadable arguments get 0: there is nothing sane to answer.
        auto method = read_guest(caller, u32(0), u32(1), "spacedrive_call: method");
        auto payload = read_guest(caller, u32(3), u32(4), "spacedrive_call: payload");
        std::string library;
        if (u32(2) != 0) {
            auto id = read_guest(caller, u32(2), 16, "spacedrive_call: library id");
            if (!id) return log(ctx, LogLevel::warn, id.error().message);
            library = uuid_text(*id);
        }
        if (!method || !payload)
            return log(ctx, LogLevel::warn, (!method ? method : payload).error().message);
        auto out = host_call(ctx, *method, *payload, library);
        // Failures are answered as Spacedrive answers a denial: {"error": "..."}.
        const std::string answer = out ? *out
                                       : json{{"error", out.error().message}}.dump(
                                             -1, ' ', false, json::error_handler_t::replace);
        auto ptr = write_guest(caller, "wasm_alloc", answer, true);
        if (!ptr) {
            // A trapping allocator fails the call; one that gives no room gets 0.
            if (ptr.error().trap) return caller.trap(std::move(ptr.error()));
            return log(ctx, LogLevel::warn, ptr.error().message);
        }
        results[0] = Value::i32(int32_t(*ptr));
    };
    return f;
}

} // namespace kiln::hostfns
