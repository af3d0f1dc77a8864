// Handles to functions, memories, tables and globals owned by a Store.
#pragma once

#include <kiln/error.hpp>
#include <kiln/store.hpp>
#include <kiln/types.hpp>
#include <kiln/value.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kiln {

namespace engine {
struct FuncInst;
struct MemoryInst;
struct TableInst;
struct GlobalInst;
} // namespace engine

template <typename Sig> class TypedFunc;

/// A function: exported by an instance or created from a host callable. Every operation takes the
/// Store it belongs to and fails cleanly when given another.
class Func {
public:
    /// Calls with arguments of the function's parameter types. Traps come back as an Error of
    /// kind trap (Error::trap has kind, message and backtrace); a suspended call as kind
    /// suspended.
    Result<std::vector<Value>> call(Store& store, std::span<const Value> args) const;
    Result<std::vector<Value>> call(Store& store, std::initializer_list<Value> args) const {
        return call(store, std::span<const Value>(args.begin(), args.size()));
    }
    Result<FuncType> type(Store& store) const;
    /// How messages name the function, as trap backtraces do: its module's name-section name,
    /// else an export name, else "func[N]"; "<host function>" for a host function.
    Result<std::string> name(Store& store) const;
    /// The function a funcref value refers to; nullopt for null or a word that is no function
    /// of this store.
    static std::optional<Func> from_ref(Store& store, const Value& ref);
    /// A statically typed view, after checking the signature (e.g. `int32_t(int32_t, int64_t)`).
    template <typename Sig> Result<TypedFunc<Sig>> typed(Store& store) const;

    engine::FuncInst* raw() const { return m_func; }
    uint64_t store_id() const { return m_store; }
    Func(uint64_t store, engine::FuncInst* f) : m_store(store), m_func(f) {}

private:
    uint64_t m_store;
    engine::FuncInst* m_func;
};

/// A linear memory. Reads and writes are bounds-checked; nothing hands out a raw pointer.
class Memory {
public:
    static Result<Memory> create(Store& store, const MemoryType& type);
    Result<uint64_t> size(Store& store) const; ///< bytes
    /// Grows by `pages`; returns the previous size in pages.
    Result<uint64_t> grow(Store& store, uint64_t pages) const;
    Result<void> read(Store& store, uint64_t offset, std::span<uint8_t> out) const;
    Result<void> write(Store& store, uint64_t offset, std::span<const uint8_t> data) const;

    engine::MemoryInst* raw() const { return m_mem; }
    uint64_t store_id() const { return m_store; }
    Memory(uint64_t store, engine::MemoryInst* m) : m_store(store), m_mem(m) {}

private:
    uint64_t m_store;
    engine::MemoryInst* m_mem;
};

/// A table of references.
class Table {
public:
    static Result<Table> create(Store& store, const TableType& type, Value init);
    Result<uint64_t> size(Store& store) const;
    Result<Value> get(Store& store, uint64_t index) const;
    Result<void> set(Store& store, uint64_t index, Value value) const;
    /// Grows by `delta` elements set to `init`; returns the previous size.
    Result<uint64_t> grow(Store& store, uint64_t delta, Value init) const;

    engine::TableInst* raw() const { return m_table; }
    uint64_t store_id() const { return m_store; }
    Table(uint64_t store, engine::TableInst* t) : m_store(store), m_table(t) {}

private:
    uint64_t m_store;
    engine::TableInst* m_table;
};

/// A global variable.
class Global {
public:
    static Result<Global> create(Store& store, const GlobalType& type, Value init);
    Result<Value> get(Store& store) const;
    /// Sets a mutable global; the value's type must match.
    Result<void> set(Store& store, Value value) const;
    Result<GlobalType> type(Store& store) const;

    engine::GlobalInst* raw() const { return m_global; }
    uint64_t store_id() const { return m_store; }
    Global(uint64_t store, engine::GlobalInst* g) : m_store(store), m_global(g) {}

private:
    uint64_t m_store;
    engine::GlobalInst* m_global;
};

/// Any of the four, as imported or exported.
class Extern {
public:
    Extern(Func f) : m_kind(ExternKind::func), m_store(f.store_id()), m_ptr(f.raw()) {}
    Extern(Memory m) : m_kind(ExternKind::memory), m_store(m.store_id()), m_ptr(m.raw()) {}
    Extern(Table t) : m_kind(ExternKind::table), m_store(t.store_id()), m_ptr(t.raw()) {}
    Extern(Global g) : m_kind(ExternKind::global), m_store(g.store_id()), m_ptr(g.raw()) {}

    ExternKind kind() const { return m_kind; }
    std::optional<Func> func() const;
    std::optional<Memory> memory() const;
    std::optional<Table> table() const;
    std::optional<Global> global() const;

    uint64_t store_id() const { return m_store; }
    void* raw() const { return m_ptr; }
    Extern(ExternKind kind, uint64_t store, void* ptr) : m_kind(kind), m_store(store), m_ptr(ptr) {}

private:
    ExternKind m_kind;
    uint64_t m_store;
    void* m_ptr;
};

} // namespace kiln
