// The manager's tables. Grants are kept as the texts `kiln plugin grant` takes (grant_texts),
// one row each, so that a person reading the database sees what was granted.
#include "manager/persist.hpp"

#include "base/result.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::manager {

namespace {

// Version 1. A released step is never edited; a change is a new step.
const std::vector<Migration>& migrations() {
    static const std::vector<Migration> steps = {
        "CREATE TABLE manager_disabled(plugin TEXT PRIMARY KEY);"
        "CREATE TABLE manager_grants(plugin TEXT NOT NULL, permission TEXT NOT NULL,"
        " PRIMARY KEY(plugin, permission));"
        "CREATE TABLE manager_audit(id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
        " plugin TEXT NOT NULL, permission TEXT NOT NULL, argument TEXT NOT NULL);"
        "CREATE INDEX manager_audit_by_plugin ON manager_audit(plugin, id);",
    };
    return steps;
}

} // namespace

Result<void> prepare_tables(StateDb& db) {
    return db.schema("manager", static_cast<uint32_t>(migrations().size()), migrations());
}

Result<bool> is_disabled(StateDb& db, std::string_view plugin) {
    KILN_TRY(row, db.query_one("SELECT 1 FROM manager_disabled WHERE plugin = ?",
                               {std::string(plugin)}));
    return row.has_value();
}

Result<void> store_enabled(StateDb& db, std::string_view plugin, bool enabled) {
    if (enabled)
        KILN_CHECK(db.exec("DELETE FROM manager_disabled WHERE plugin = ?", {std::string(plugin)}));
    else
        KILN_CHECK(db.exec("INSERT OR IGNORE INTO manager_disabled(plugin) VALUES (?)",
                           {std::string(plugin)}));
    return {};
}

Result<Permissions> load_grants(StateDb& db, std::string_view plugin) {
    KILN_TRY(rows, db.query("SELECT permission FROM manager_grants WHERE plugin = ? ORDER BY "
                            "permission",
                            {std::string(plugin)}));
    Permissions granted;
    for (const SqlRow& row : rows) {
        auto one = parse_grant(row.text(0));
        if (!one)
            return make_error(ErrorKind::io, fmt::format("{}: grant of {}: {}", db.path(), plugin,
                                                         one.error().message));
        add_grants(granted, *one);
    }
    return granted;
}

Result<void> store_grants(StateDb& db, std::string_view plugin, const Permissions& granted) {
    const std::vector<std::string> texts = grant_texts(granted);
    return db.transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_CHECK(sql.exec("DELETE FROM manager_grants WHERE plugin = ?", {std::string(plugin)}));
        for (const std::string& text : texts)
            KILN_CHECK(sql.exec("INSERT OR IGNORE INTO manager_grants(plugin, permission) "
                                "VALUES (?, ?)",
                                {std::string(plugin), text}));
        return {};
    });
}

Result<void> store_audit(StateDb& db, const AuditRecord& record) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(record.time.time_since_epoch())
            .count();
    KILN_CHECK(
        db.exec("INSERT INTO manager_audit(time_ms, plugin, permission, argument) "
                "VALUES (?, ?, ?, ?)",
                {static_cast<int64_t>(ms), record.plugin, record.permission, record.argument}));
    return {};
}

Result<std::vector<AuditRecord>> load_audit(StateDb& db, std::string_view plugin) {
    auto rows = plugin.empty()
                    ? db.query("SELECT time_ms, plugin, permission, argument FROM manager_audit "
                               "ORDER BY id")
                    : db.query("SELECT time_ms, plugin, permission, argument FROM manager_audit "
                               "WHERE plugin = ? ORDER BY id",
                               {std::string(plugin)});
    if (!rows) return tl::unexpected(rows.error());
    std::vector<AuditRecord> out;
    out.reserve(rows->size());
    for (const SqlRow& row : *rows)
        out.push_back(
            {std::chrono::system_clock::time_point(std::chrono::milliseconds(row.integer(0))),
             row.text(1), row.text(2), row.text(3)});
    return out;
}

void add_grants(Permissions& granted, const Permissions& more) {
    granted.merge(more);
    granted.calls_per_minute = std::max(granted.calls_per_minute, more.calls_per_minute);
}

} // namespace kiln::manager
