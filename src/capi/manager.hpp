// The struct behind kiln_manager_t, shared by the manager's C API and the host functions' (which
// install into a manager).
#pragma once

#include <kiln/manager.hpp>

#include <memory>

struct kiln_manager {
    std::unique_ptr<kiln::PluginManager> manager;
};
