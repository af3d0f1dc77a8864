// WASI preview 1 (wasi_snapshot_preview1) as host functions added to a Linker, with explicit
// capabilities: nothing from the host reaches the guest unless the embedder grants it.
#pragma once

#include <kiln/error.hpp>
#include <kiln/linker.hpp>
#include <kiln/snapshot.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

/// Where one of the standard streams goes.
class WasiStream {
public:
    enum class Kind { closed, inherit, buffer, callback };

    /// The descriptor is closed: reads and writes fail with EBADF.
    static WasiStream closed() { return WasiStream(Kind::closed); }
    /// The host process's own stream (0, 1 or 2).
    static WasiStream inherit() { return WasiStream(Kind::inherit); }
    /// stdin: reads come from `input`, then end of file. stdout/stderr: writes are kept, see
    /// Wasi::output().
    static WasiStream buffer(std::string input = {}) {
        WasiStream s(Kind::buffer);
        s.m_input = std::move(input);
        return s;
    }
    /// stdout/stderr: each write is handed to `sink` as it happens.
    static WasiStream callback(std::function<void(std::string_view)> sink) {
        WasiStream s(Kind::callback);
        s.m_sink = std::move(sink);
        return s;
    }
    /// stdin: each read asks `source` to fill up to out.size() bytes; it returns how many it
    /// wrote, 0 meaning end of file.
    static WasiStream callback(std::function<size_t(std::span<char> out)> source) {
        WasiStream s(Kind::callback);
        s.m_source = std::move(source);
        return s;
    }

    Kind kind() const { return m_kind; }
    const std::string& input() const { return m_input; }
    const std::function<void(std::string_view)>& sink() const { return m_sink; }
    const std::function<size_t(std::span<char>)>& source() const { return m_source; }

private:
    explicit WasiStream(Kind kind) : m_kind(kind) {}
    Kind m_kind;
    std::string m_input;
    std::function<void(std::string_view)> m_sink;
    std::function<size_t(std::span<char>)> m_source;
};

/// A host directory the guest sees under `guest` (e.g. "/data" or "."). No path reaches
/// outside it: `..`, absolute paths and symlinks that leave it are refused (ENOTCAPABLE).
struct WasiPreopen {
    std::string host;
    std::string guest;
    bool read_only = false; ///< refuse every write, create, remove, rename, link, truncate, utime
    bool operator==(const WasiPreopen&) const = default;
};

/// A directory grant as command lines and manifests write it: `HOST` (seen under the same
/// path), `HOST:GUEST`, or `HOST::GUEST` (a `::` separates host and guest wherever it appears),
/// each after an optional `ro:` for read-only. A usage error quotes text that does not parse.
Result<WasiPreopen> parse_preopen(std::string_view text);

/// Everything a WASI program may see. The default grants nothing: no args, no environment, no
/// directories, closed streams.
struct WasiConfig {
    std::vector<std::string> args; ///< argv, including argv[0]
    std::vector<std::pair<std::string, std::string>> env;
    std::vector<WasiPreopen> preopens;
    WasiStream stdin_stream = WasiStream::closed();
    WasiStream stdout_stream = WasiStream::closed();
    WasiStream stderr_stream = WasiStream::closed();
};

/// The WASI state of one program: its descriptors, arguments and environment. Define the WASI
/// functions in a Linker (once; it serves any number of stores), attach the state to the Store
/// the program is instantiated in, and call `_start`; a call that ends with ErrorKind::exit is
/// the program exiting (Error::trap->exit_code).
///
///   kiln::Wasi::define(linker);
///   auto wasi = kiln::Wasi::create(config).value();
///   wasi->attach(store);
class Wasi {
public:
    /// Opens the preopened directories (an io error names one that cannot be opened).
    static Result<std::shared_ptr<Wasi>> create(WasiConfig config);
    ~Wasi();
    Wasi(const Wasi&) = delete;
    Wasi& operator=(const Wasi&) = delete;

    /// Defines every wasi_snapshot_preview1 function in `linker`. Each acts on the WASI state
    /// attached to the calling store; without one, the guest traps.
    static void define(Linker& linker);
    /// Makes this the WASI state of programs running in `store` (store user data).
    void attach(Store& store);
    /// Saves the descriptor table into `out` as its "wasi" section: each descriptor as what it
    /// takes to open it again (preopen, path below it, rights, flags, offset). Refused with an
    /// error naming the descriptor when one is a pipe, socket or device, or a deleted file.
    Result<void> save(Snapshot& out) const;
    /// Replaces the descriptor table with the snapshot's, reopening files below this state's
    /// preopens of the same guest names (a missing or read-only one where the snapshot wrote is
    /// refused). Standard streams stay as this state's config has them. All or nothing.
    Result<void> restore(const Snapshot& in);
    /// What the program wrote to a buffered stdout (1) or stderr (2).
    const std::string& output(int fd) const;

    struct State;

private:
    explicit Wasi(std::shared_ptr<State> state);
    std::shared_ptr<State> m_state; ///< shared with the host functions defined from it
};

} // namespace kiln
