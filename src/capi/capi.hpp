// What the C API's source files share: the structs behind the handles more than one of them
// uses, and how an entry point turns errors and exceptions into a kiln_error_t.
#pragma once

#include <kiln/kiln.h>
#include <kiln/kiln.hpp>
#include <kiln/plugin.hpp>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

struct kiln_error {
    kiln::Error error;
    /// format_frame() of each frame, made when kiln_error_backtrace_frame first asks.
    mutable std::vector<std::string> frame_names;
};

struct kiln_engine {
    kiln::Engine engine;
};

struct kiln_plugin_options {
    kiln::PluginOptions options;
};

namespace kiln::capi {

// Returned when not even an error can be allocated; kiln_error_delete never frees it.
inline kiln_error out_of_memory{kiln::Error{kiln::ErrorKind::limit, "out of memory", nullptr}, {}};

inline kiln_error* new_error(kiln::Error e) noexcept {
    try {
        return new kiln_error{std::move(e), {}};
    } catch (...) {
        return &out_of_memory;
    }
}

inline kiln_error* usage(std::string message) {
    return new_error(kiln::Error{kiln::ErrorKind::usage, std::move(message), nullptr});
}

inline kiln_error* unexpected_exception(const char* what) noexcept {
    try {
        return usage(std::string("unexpected exception: ") + what);
    } catch (...) {
        return &out_of_memory;
    }
}

/// Runs an entry point's body; an exception becomes an error instead of crossing into C.
template <typename F> kiln_error* guarded(F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return &out_of_memory;
    } catch (const std::exception& e) {
        return unexpected_exception(e.what());
    } catch (...) {
        return unexpected_exception("of unknown type");
    }
}

/// For entry points that return a value rather than an error: `fallback` on an exception.
template <typename T, typename F> T guarded_value(T fallback, F&& body) noexcept {
    try {
        return body();
    } catch (...) {
        return fallback;
    }
}

/// A malloc'd copy of `len` bytes (at least one byte is allocated), so that kiln_bytes_delete
/// and kiln_string_delete free whatever the API hands out the same way; null when out of memory.
inline void* malloc_copy(const void* data, size_t len) {
    void* copy = std::malloc(len == 0 ? 1 : len);
    if (copy != nullptr && len != 0) std::memcpy(copy, data, len);
    return copy;
}

} // namespace kiln::capi
