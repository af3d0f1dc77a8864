// Where persisted node state goes: memory, or Kiln's state database.
#include <kiln/actors.hpp>
#include <kiln/state_db.hpp>

#include <map>
#include <mutex>

namespace kiln {

std::shared_ptr<StateStore> make_memory_state_store() {
    class MemoryStore final : public StateStore {
    public:
        Result<std::optional<std::string>> load(std::string_view graph,
                                                std::string_view node) override {
            std::lock_guard lock(m_mutex);
            auto it = m_states.find({std::string(graph), std::string(node)});
            if (it == m_states.end()) return std::optional<std::string>();
            return std::optional<std::string>(it->second);
        }
        Result<void> save(std::string_view graph, std::string_view node,
                          std::string_view state) override {
            std::lock_guard lock(m_mutex);
            m_states[{std::string(graph), std::string(node)}] = std::string(state);
            return {};
        }

    private:
        std::mutex m_mutex;
        std::map<std::pair<std::string, std::string>, std::string> m_states;
    };
    return std::make_shared<MemoryStore>();
}

namespace {

/// Node state in the state database: one row per graph and node.
class StateDbStore final : public StateStore {
public:
    explicit StateDbStore(std::shared_ptr<StateDb> db) : m_db(std::move(db)) {}

    Result<std::optional<std::string>> load(std::string_view graph,
                                            std::string_view node) override {
        auto row = m_db->query_one("SELECT state FROM actor_state WHERE graph = ? AND node = ?",
                                   {std::string(graph), std::string(node)});
        if (!row) return tl::unexpected(row.error());
        if (!*row) return std::optional<std::string>();
        return std::optional<std::string>((*row)->text(0));
    }
    Result<void> save(std::string_view graph, std::string_view node,
                      std::string_view state) override {
        auto done =
            m_db->exec("INSERT INTO actor_state(graph, node, state, updated) VALUES (?, ?, ?, "
                       "strftime('%s','now')) ON CONFLICT(graph, node) DO UPDATE SET state = "
                       "excluded.state, updated = excluded.updated",
                       {std::string(graph), std::string(node), std::string(state)});
        if (!done) return tl::unexpected(done.error());
        return {};
    }

private:
    std::shared_ptr<StateDb> m_db;
};

} // namespace

Result<std::shared_ptr<StateStore>> make_state_db_store(std::shared_ptr<StateDb> db) {
    auto ready = db->schema("actors", 1,
                            {"CREATE TABLE actor_state(graph TEXT NOT NULL, node TEXT NOT NULL, "
                             "state TEXT NOT NULL, updated INTEGER NOT NULL, "
                             "PRIMARY KEY(graph, node))"});
    if (!ready) return tl::unexpected(ready.error());
    return std::shared_ptr<StateStore>(std::make_shared<StateDbStore>(std::move(db)));
}

} // namespace kiln
