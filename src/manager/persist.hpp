// The manager's tables in Kiln's state database (schema component "manager"): which plugins are
// disabled, what was granted to each, and the audit log of denials. Plugins are named, not
// versioned, so a state outlives upgrades.
#pragma once

#include <kiln/manager.hpp>
#include <kiln/state_db.hpp>

#include <string_view>
#include <vector>

namespace kiln::manager {

/// Brings the manager's tables up to the version this code knows.
Result<void> prepare_tables(StateDb& db);

/// Whether `plugin` was disabled.
Result<bool> is_disabled(StateDb& db, std::string_view plugin);
/// Records `plugin` as enabled (the default) or disabled.
Result<void> store_enabled(StateDb& db, std::string_view plugin, bool enabled);

/// What was granted to `plugin`.
Result<Permissions> load_grants(StateDb& db, std::string_view plugin);
/// Replaces what is recorded as granted to `plugin` with `granted`.
Result<void> store_grants(StateDb& db, std::string_view plugin, const Permissions& granted);

/// Appends one record to the audit log.
Result<void> store_audit(StateDb& db, const AuditRecord& record);
/// The audit log, oldest first (of `plugin` only, unless empty).
Result<std::vector<AuditRecord>> load_audit(StateDb& db, std::string_view plugin);

/// Adds `more` to a plugin's grants. Unlike Permissions::merge, a rate limit granted where none
/// was is kept: a grant's "rate:N" raises the manifest's limit to N when the two are merged.
void add_grants(Permissions& granted, const Permissions& more);

} // namespace kiln::manager
