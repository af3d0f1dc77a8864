// The insides of CompiledPlugin, Plugin and CancelHandle, shared by the files that implement
// them: compiled.cpp (modules and Linker), lifecycle.cpp (instances), call.cpp (calls).
#pragma once

#include <kiln/kiln.hpp>
#include <kiln/plugin.hpp>

#include "base/result.hpp"
#include "plugin/state.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

struct CompiledPlugin::Impl {
    Engine engine;
    Manifest manifest;
    PluginOptions options;
    std::string name;                                    ///< options.name or its default
    std::vector<std::pair<std::string, Module>> modules; ///< side modules first, main last
    Linker linker;                                       ///< kernel + embedder host functions
};

/// What a CancelHandle reaches: the store of the plugin's current instance, which changes each
/// time the instance is rebuilt, and where the plugin is in a call.
struct CancelHandle::Target {
    enum class Phase { idle, preparing, running };

    std::mutex mutex;
    std::optional<InterruptHandle> store;
    Phase phase = Phase::idle;
    bool cancelled = false; ///< a cancel came while the call was being prepared

    /// Points the handles at a new instance's store.
    void set_store(InterruptHandle handle) {
        std::lock_guard lock(mutex);
        store = std::move(handle);
    }
    /// A call starts: a cancel from now on is for it, even during a rebuild.
    void begin() {
        std::lock_guard lock(mutex);
        phase = Phase::preparing;
        cancelled = false;
    }
    /// The call's wasm starts; false when the call was cancelled while it was being prepared.
    bool run() {
        std::lock_guard lock(mutex);
        phase = Phase::running;
        return !cancelled;
    }
    void end() {
        std::lock_guard lock(mutex);
        phase = Phase::idle;
    }
};

struct Plugin::Impl {
    std::shared_ptr<const CompiledPlugin> compiled;
    std::unique_ptr<Store> store;
    std::shared_ptr<Wasi> wasi;
    std::optional<Instance> main;
    std::unique_ptr<CurrentPlugin::State> state;
    std::shared_ptr<CancelHandle::Target> cancel = std::make_shared<CancelHandle::Target>();
    std::vector<CallObserver> observers; ///< this instance's, after the compiled plugin's
    int32_t last_rc = 0;
    std::optional<uint64_t> last_fuel_used; ///< of the last call, when metered and it ran
    uint64_t last_peak_bytes = 0;           ///< of the last call: linear + kernel peak
    bool needs_fresh = false;
    std::string suspended; ///< the export whose call is suspended, if any
    /// Exports looked up by name, with whether they return an rc; cleared with the instance.
    struct Export {
        std::optional<TypedFunc<int32_t()>> with_rc; ///< () -> i32
        std::optional<TypedFunc<void()>> without;    ///< () -> ()
        /// Calls without boxing values: the rc, 0 for a function without one.
        Result<int32_t> call(Store& store) const {
            if (with_rc) return with_rc->call(store);
            KILN_CHECK(without->call(store));
            return 0;
        }
    };
    std::map<std::string, Export, std::less<>> exports;

    /// A plugin's state before its first instance.
    static std::unique_ptr<Impl> make(std::shared_ptr<const CompiledPlugin> compiled);
    /// A fresh instance: a new Store, every module instantiated and, unless `initialize` is
    /// false (a snapshot's state is about to replace it), initialized.
    Result<void> instantiate(bool initialize = true);
    Result<Export> lookup(std::string_view name);
    /// Runs a module's initialization (_initialize, constructors, hs_init).
    Result<void> init(Instance& inst, bool command_side_module);
    /// Everything before a call's wasm runs: a fresh instance if needed, the export, the input
    /// in kernel memory, fuel and deadline.
    Result<Export> prepare(std::string_view name, std::string_view input);
    /// The call itself, between the observers' start and end.
    Result<std::string> call(std::string_view function, std::string_view input);
    /// What the export's call from the host or its resumption gave, as the plugin's outcome.
    Result<std::string> finish(std::string_view name, Result<int32_t> returned);
};

} // namespace kiln
