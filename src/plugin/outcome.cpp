#include "plugin/outcome.hpp"

#include "base/result.hpp"
#include "base/text.hpp"

#include <fmt/format.h>

namespace kiln::plugin {

namespace {

/// The message the plugin gave for its failure, if any; the plugin's own text is escaped, as
/// it ends up printed.
std::optional<std::string> plugin_message(const CurrentPlugin::State& s) {
    if (s.error) {
        auto v = s.kernel.view(s.error);
        return v ? escape_control(*v) : std::string("error_set with an invalid handle");
    }
    return s.host_error;
}

/// What a trap stopping `name` says: which limit, or the trap's own message (the error's adds
/// "trap:" and the function, which the caller names already).
std::string trap_text(std::string_view name, const Error& e, std::optional<uint64_t> timeout_ms) {
    if (!e.trap) return fmt::format("{}: {}", name, e.message);
    return call_failure_text(name, *e.trap, timeout_ms);
}

Result<std::string> output_of(const CurrentPlugin::State& s, std::string_view name) {
    if (!s.output) {
        if (s.output_len)
            return make_error(
                ErrorKind::plugin,
                fmt::format("{} set an output of {} bytes with a null handle", name, s.output_len));
        return std::string();
    }
    auto out = s.kernel.view(s.output, s.output_len);
    if (!out)
        return make_error(ErrorKind::plugin,
                          fmt::format("{}: output_set names {} bytes at handle {}, outside any "
                                      "block (length {})",
                                      name, s.output_len, s.output, s.kernel.length(s.output)));
    return std::string(*out);
}

} // namespace

CallOutcome call_outcome(const CurrentPlugin::State& s, std::string_view name,
                         const Result<int32_t>& returned, std::optional<uint64_t> timeout_ms) {
    const std::optional<std::string> message = plugin_message(s);
    if (!returned && returned.error().kind != ErrorKind::exit) {
        const Error& e = returned.error();
        std::string failure = trap_text(name, e, timeout_ms);
        // A host function's error is the trap's message already: said once.
        if (message && !(e.trap && e.trap->message == host_trap_message(*message)))
            failure = fmt::format("{} ({})", failure, *message);
        // The trap stays attached: its kind says which limit stopped the call.
        return {tl::unexpected(Error{e.kind, std::move(failure), e.trap}), -1};
    }
    const int32_t rc = returned ? *returned : returned.error().trap->exit_code;
    if (message) return {make_error(ErrorKind::plugin, *message), rc};
    if (rc != 0)
        return {make_error(ErrorKind::plugin, fmt::format("{} returned {}", name, rc)), rc};
    return {output_of(s, name), rc};
}

} // namespace kiln::plugin
