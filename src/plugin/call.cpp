// Plugin::call: a fresh instance when the last one is finished, the input in kernel memory,
// limits armed, the export run with this plugin current, the outcome read (outcome.cpp), and
// the observers told about it.
#include "base/time.hpp"
#include "plugin/impl.hpp"
#include "plugin/outcome.hpp"

#include <fmt/format.h>

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;

/// The error of a call cancelled before its wasm started, as the engine reports one stopped
/// running.
Error cancelled_before_start() {
    auto trap = std::make_shared<Trap>();
    trap->kind = TrapKind::interrupted;
    trap->message = "interrupted";
    return Error{ErrorKind::trap, "interrupted", std::move(trap)};
}

/// Marks the plugin idle again when its call ends, however it ends.
struct CallPhase {
    explicit CallPhase(CancelHandle::Target& target) : m_target(target) { m_target.begin(); }
    ~CallPhase() { m_target.end(); }
    CallPhase(const CallPhase&) = delete;
    CallPhase& operator=(const CallPhase&) = delete;

private:
    CancelHandle::Target& m_target;
};

} // namespace

Result<void> Plugin::Impl::arm() {
    CurrentPlugin::State& s = *state;
    if (needs_fresh) KILN_CHECK(instantiate());
    s.reset_call();
    s.kernel.reset_peak();
    const Manifest& m = compiled->manifest();
    if (m.fuel) store->set_fuel(*m.fuel);
    s.call_deadline.reset();
    if (m.timeout_ms)
        s.call_deadline = saturating_add(Clock::now(), saturating_milliseconds(*m.timeout_ms));
    return {};
}

Result<Plugin::Impl::Export> Plugin::Impl::prepare(std::string_view name, std::string_view input) {
    CurrentPlugin::State& s = *state;
    KILN_CHECK(arm());
    KILN_TRY(exported, lookup(name));
    if (!input.empty()) {
        s.input = s.put(input);
        if (!s.input)
            return make_error(
                ErrorKind::limit,
                fmt::format("no kernel memory for an input of {} bytes (max_pages)", input.size()));
        s.input_len = input.size();
    }
    return exported;
}

Result<std::string>
Plugin::Impl::call_guest(std::string_view name,
                         const std::function<Result<std::string>(Caller&)>& body, bool resumable) {
    CurrentPlugin::State& s = *state;
    const Manifest& m = compiled->manifest();
    last_fuel_used.reset();
    last_peak_bytes = 0;
    auto armed = arm();
    Result<std::string> result = tl::unexpected(cancelled_before_start());
    if (cancel->run()) {
        if (!armed) return tl::unexpected(armed.error());
        plugin::CallScope scope(s);
        Caller caller(*store, main->raw());
        result = body(caller);
        if (m.fuel) last_fuel_used = *m.fuel - store->fuel().value_or(0);
    }
    if (resumable && !result && result.error().kind == ErrorKind::suspended &&
        store->has_suspended_call()) {
        // Held for resume() or snapshot(), with the kernel memory and handles of the call.
        suspended = std::string(name);
        return result;
    }
    // Otherwise a raw ABI has no way to resume it: a suspended call is dropped.
    if (store->has_suspended_call()) store->drop_suspended_call();
    last_peak_bytes = s.linear_bytes() + s.kernel.peak_bytes();
    last_rc = result ? 0 : -1;
    if (result || !result.error().trap) return result;
    // A trap may leave the instance's memory inconsistent: the next call gets a fresh one.
    needs_fresh = true;
    const Error& e = result.error();
    return tl::unexpected(Error{e.kind, call_failure_text(name, *e.trap, m.timeout_ms), e.trap});
}

Result<std::string> Plugin::Impl::call(std::string_view name, std::string_view input) {
    CurrentPlugin::State& s = *state;
    const Manifest& m = compiled->manifest();
    last_fuel_used.reset();
    last_peak_bytes = 0;
    auto exported = prepare(name, input);
    // A cancel while preparing (a rebuild may run the plugin's initialization) is the outcome,
    // whatever preparing gave.
    Result<int32_t> returned = tl::unexpected(cancelled_before_start());
    if (cancel->run()) {
        if (!exported) return tl::unexpected(exported.error());
        plugin::CallScope scope(s);
        returned = exported->call(*store);
        if (m.fuel) last_fuel_used = *m.fuel - store->fuel().value_or(0);
    }
    return finish(name, std::move(returned));
}

Result<std::string> Plugin::Impl::finish(std::string_view name, Result<int32_t> returned) {
    CurrentPlugin::State& s = *state;
    const Manifest& m = compiled->manifest();
    if (!returned && returned.error().kind == ErrorKind::suspended) {
        // The call waits in the store, with its input and kernel memory, until resumed.
        suspended = std::string(name);
        return tl::unexpected(std::move(returned.error()));
    }
    suspended.clear();
    // A trap may leave the instance's memory inconsistent, and a command's instance is
    // finished: the next call gets a fresh one.
    if ((!returned && returned.error().kind != ErrorKind::exit) || name == "_start")
        needs_fresh = true;
    last_peak_bytes = s.linear_bytes() + s.kernel.peak_bytes();
    auto outcome = plugin::call_outcome(s, name, returned, m.timeout_ms);
    last_rc = outcome.rc;
    return std::move(outcome.result);
}

namespace {

/// Refuses a call made from inside the plugin's own call, or while it holds a suspended one.
Result<void> refuse_call(const Plugin::Impl& p, std::string_view function) {
    if (p.state->in_call)
        return make_error(ErrorKind::usage,
                          fmt::format("call to {}: a plugin cannot be called from inside its own "
                                      "call (re-entrant call refused)",
                                      function));
    if (!p.suspended.empty())
        return make_error(ErrorKind::usage,
                          fmt::format("call to {}: the plugin holds a suspended call of {} (resume "
                                      "or drop it first)",
                                      function, p.suspended));
    return {};
}

/// Runs a call (`run`) as the plugin's call of `function`: cancellable, and seen by the
/// observers.
template <typename Run>
Result<std::string> observed(Plugin::Impl& p, std::string_view function, const Run& run) {
    CallPhase phase(*p.cancel);
    const CompiledPlugin::Impl& c = p.compiled->impl();
    if (c.options.observers.empty() && p.observers.empty()) return run();

    CallEvent event;
    event.plugin = c.name;
    event.function = function;
    auto each = [&](auto member) {
        for (const CallObserver& o : c.options.observers)
            if (o.*member) (o.*member)(event);
        for (const CallObserver& o : p.observers)
            if (o.*member) (o.*member)(event);
    };
    each(&CallObserver::on_start);
    const auto start = Clock::now();
    auto result = run();
    event.duration = Clock::now() - start;
    event.fuel_used = p.last_fuel_used;
    event.peak_memory_bytes = p.last_peak_bytes;
    event.error = result ? nullptr : &result.error();
    each(&CallObserver::on_end);
    return result;
}

} // namespace

Result<std::string> Plugin::call(std::string_view function, std::string_view input) {
    Impl& p = *m_impl;
    if (auto refused = refuse_call(p, function); !refused) return tl::unexpected(refused.error());
    return observed(p, function, [&] { return p.call(function, input); });
}

Result<std::string> Plugin::call_guest(std::string_view function,
                                       const std::function<Result<std::string>(Caller&)>& body,
                                       bool resumable) {
    Impl& p = *m_impl;
    if (auto refused = refuse_call(p, function); !refused) return tl::unexpected(refused.error());
    return observed(p, function, [&] { return p.call_guest(function, body, resumable); });
}

Result<std::vector<uint8_t>> Plugin::call(std::string_view function,
                                          std::span<const uint8_t> input) {
    KILN_TRY(out, call(function, std::string_view(reinterpret_cast<const char*>(input.data()),
                                                  input.size())));
    return std::vector<uint8_t>(out.begin(), out.end());
}

bool Plugin::is_suspended() const {
    return !m_impl->suspended.empty();
}

bool Plugin::next_call_is_fresh() const {
    return m_impl->needs_fresh;
}

Result<std::string> Plugin::resume(std::span<const Value> host_results) {
    Impl& p = *m_impl;
    if (p.suspended.empty())
        return make_error(ErrorKind::usage, "the plugin has no suspended call");
    if (p.state->in_call)
        return make_error(ErrorKind::usage, "a plugin cannot be resumed from inside its own call");
    CallPhase phase(*p.cancel);
    std::string name = p.suspended;
    Result<int32_t> returned = tl::unexpected(cancelled_before_start());
    if (p.cancel->run()) {
        plugin::CallScope scope(*p.state);
        auto r = p.store->resume(host_results);
        if (r)
            returned = r->empty() ? 0 : (*r)[0].as_i32();
        else if (r.error().kind == ErrorKind::usage && p.store->has_suspended_call())
            return tl::unexpected(std::move(r.error())); // wrong results: still suspended
        else
            returned = tl::unexpected(std::move(r.error()));
    }
    return p.finish(name, std::move(returned));
}

void Plugin::drop_suspended() {
    Impl& p = *m_impl;
    if (p.suspended.empty()) return;
    p.store->drop_suspended_call();
    p.suspended.clear();
    p.needs_fresh = true; // the dropped call may have left memory half updated
}

} // namespace kiln
