#include "base/result.hpp"

namespace kiln {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::malformed: return "malformed";
    case ErrorKind::invalid: return "invalid";
    case ErrorKind::unlinkable: return "unlinkable";
    case ErrorKind::uninstantiable: return "uninstantiable";
    case ErrorKind::trap: return "trap";
    case ErrorKind::suspended: return "suspended";
    case ErrorKind::io: return "io";
    case ErrorKind::usage: return "usage";
    case ErrorKind::limit: return "limit";
    case ErrorKind::exit: return "exit";
    case ErrorKind::plugin: return "plugin";
    }
    return "unknown";
}

} // namespace kiln
