// The log and scope families.
#include "hostfns/families.hpp"

#include <fmt/format.h>

namespace kiln::hostfns {

LogLevel log_level_from(std::string_view name) {
    for (LogLevel l :
         {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error})
        if (name == log_level_name(l)) return l;
    return LogLevel::info;
}

void log(HostContext& ctx, LogLevel level, std::string_view message) {
    if (ctx.call().log) ctx.call().log(level, message);
}

namespace {

Result<json*> call_scope(HostContext& ctx, Permission permission) {
    if (auto ok = ctx.check(permission); !ok) return tl::unexpected(ok.error());
    json* scope = ctx.call().scope;
    if (!scope)
        return make_error(ErrorKind::usage,
                          fmt::format("{}: this call has no scope", ctx.plugin()));
    return scope;
}

} // namespace

Result<std::optional<json>> scope_get(HostContext& ctx, std::string_view key) {
    auto scope = call_scope(ctx, Permission::scope_read);
    if (!scope) return tl::unexpected(scope.error());
    auto it = (*scope)->find(key);
    if (it == (*scope)->end()) return std::nullopt;
    return *it;
}

Result<void> scope_set(HostContext& ctx, std::string_view key, json value) {
    if (key.empty()) return bad_request("scope_set", "the key is empty");
    auto scope = call_scope(ctx, Permission::scope_write);
    if (!scope) return tl::unexpected(scope.error());
    (**scope)[std::string(key)] = std::move(value);
    return {};
}

} // namespace kiln::hostfns
