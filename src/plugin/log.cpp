// Plugin log lines: filtered by the plugin's level, then handed to the embedder's sink, or by
// default to spdlog's "kiln.plugin" logger on stderr with the plugin's name in front.
#include "base/text.hpp"
#include "plugin/state.hpp"

#include <fmt/format.h>
#define SPDLOG_HEADER_ONLY
#define SPDLOG_FMT_EXTERNAL
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <climits>

namespace kiln {

const char* log_level_name(LogLevel level) {
    switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    }
    return "?";
}

namespace plugin {

namespace {

spdlog::logger& default_logger() {
    static std::shared_ptr<spdlog::logger> logger = [] {
        auto l = spdlog::get("kiln.plugin");
        if (!l) l = spdlog::stderr_color_mt("kiln.plugin");
        l->set_level(spdlog::level::trace); // each plugin filters by its own level
        return l;
    }();
    return *logger;
}

spdlog::level::level_enum spdlog_level(LogLevel level) {
    switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

} // namespace

std::optional<int32_t> log_level_of(std::string_view name) {
    for (LogLevel l :
         {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error})
        if (name == log_level_name(l)) return int32_t(l);
    if (name == "off") return INT32_MAX;
    return std::nullopt;
}

Error unknown_log_level(std::string_view name) {
    return Error{
        ErrorKind::usage,
        fmt::format("unknown log level \"{}\" (trace, debug, info, warn, error, off)", name),
        nullptr};
}

void emit_log(const CurrentPlugin::State& state, LogLevel level, std::string_view line) {
    if (int32_t(level) < state.log_level) return;
    // Every sink gets the line escaped: a newline in it would forge a line of the host's log,
    // and an escape sequence would reach whatever terminal shows it.
    const std::string text = escape_control(line);
    if (state.log && *state.log)
        (*state.log)(*state.name, level, text);
    else
        default_logger().log(spdlog_level(level), "{}: {}", *state.name, text);
}

void emit_log_lines(const CurrentPlugin::State& state, LogLevel level, std::string_view text) {
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) emit_log(state, level, line);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
}

} // namespace plugin

} // namespace kiln
