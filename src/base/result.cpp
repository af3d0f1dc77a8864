#include "base/result.hpp"

namespace kiln {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        // clang-format off
#define KILN_ERROR_KIND(name, NAME, value, text) case ErrorKind::name: return text;
#include <kiln/error_kinds.def>
        // clang-format on
    }
    return "unknown";
}

const char* trap_kind_name(TrapKind kind) {
    switch (kind) {
        // clang-format off
#define KILN_TRAP_KIND(name, NAME, value, text) case TrapKind::name: return text;
#include <kiln/error_kinds.def>
        // clang-format on
    }
    return "unknown";
}

} // namespace kiln
