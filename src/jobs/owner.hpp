// Who runs a job: each runner has an owner id that names its machine boot, process and itself,
// so that another process can tell a job whose worker died (killed, crashed) from one that is
// running, and resume it.
#pragma once

#include <string>
#include <string_view>

namespace kiln::jobs {

/// A new owner id for a runner of this process: "BOOT_ID/PID/START_TIME/N".
std::string new_owner();

/// Forgets an owner id of this process (its runner is gone).
void retire_owner(const std::string& owner);

/// Whether the runner of `owner` may still be running: false when its process is gone (or was
/// replaced by another with the same pid) or, in this process, when its runner is gone. An id
/// of another machine boot is taken for gone: the database is a local file.
bool owner_alive(std::string_view owner);

} // namespace kiln::jobs
