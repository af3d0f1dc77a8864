// Host functions (plain C++ callables or a raw form), the Caller they receive, and statically
// typed calls into wasm.
#pragma once

#include <kiln/error.hpp>
#include <kiln/extern.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln {

namespace engine {
struct Instance;
}

/// What a host function sees of its caller: the store, bounds-checked access to the calling
/// instance's memory, its exports, and a way to trap it.
class Caller {
public:
    Caller(Store& store, engine::Instance* instance) : m_store(store), m_instance(instance) {}

    Store& store() const { return m_store; }
    /// Bytes in the calling instance's memory (0 when it has none or the host called directly).
    uint64_t memory_size() const;
    /// Copies memory[offset, offset + out.size()) into `out`; false (and nothing read) when out
    /// of bounds.
    bool read(uint64_t offset, std::span<uint8_t> out) const;
    /// Copies `data` to memory at `offset`; false (and nothing written) when out of bounds.
    bool write(uint64_t offset, std::span<const uint8_t> data) const;
    /// The bytes memory[offset, offset + length) as a string, if in bounds.
    std::optional<std::string> read_string(uint64_t offset, uint64_t length) const;
    /// Loads a trivially copyable value (little-endian), if in bounds.
    template <typename T> std::optional<T> load(uint64_t offset) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T v;
        if (!read(offset, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&v), sizeof v)))
            return std::nullopt;
        return v;
    }
    /// Stores a trivially copyable value, if in bounds.
    template <typename T> bool store(uint64_t offset, const T& v) const {
        static_assert(std::is_trivially_copyable_v<T>);
        return write(offset,
                     std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&v), sizeof v));
    }
    /// An export of the calling instance.
    std::optional<Extern> get_export(const std::string& name) const;
    /// Makes the guest trap (TrapKind::host_error, with this message) once the host function
    /// returns; its results are ignored. A message that is a trap's Error::message ("trap: X
    /// (in F)", a nested call's failure passed on as text) becomes X, so that it is said once.
    void trap(std::string message);
    /// Makes the guest fail with the error of a call the host function made back into wasm,
    /// once it returns: a trap (or exit) carries on with its kind, message and frames, this
    /// call's frames added after them, so a failure deep in host/wasm recursion reads as it
    /// happened (pass it with std::move to spare a copy). Other errors trap with
    /// TrapKind::host_error and their message.
    void trap(Error error);
    /// Ends the program once the host function returns (WASI proc_exit): the call from the host
    /// fails with ErrorKind::exit and this code in Error::trap->exit_code; not a fault, so the
    /// instance is not marked trapped.
    void exit(int32_t code);
    /// For host functions that block (sleeps, reads): true when the call must stop waiting
    /// because its deadline passed or an interrupt came. The guest then traps with that kind
    /// once the host function returns, which should be at once.
    bool should_stop();
    /// The trap the host function asked for, if any.
    const std::optional<Trap>& pending_trap() const { return m_trap; }
    /// The store's user data of type T (Store::set_data), or null.
    template <typename T> T* data() const { return m_store.template data<T>(); }
    /// Asks to suspend the running call once this host function returns: the call from the host
    /// ends with ErrorKind::suspended (TrapKind::yielded), and Store::resume(results) continues
    /// after this host function as if it had returned `results`; what it writes to its own
    /// results now is ignored. Refused (a usage error the host function may turn into a trap
    /// with trap(Error)) when the call cannot be suspended: a host function called directly from
    /// the host, or one running inside a wasm call nested in another host function.
    Result<void> suspend();

private:
    friend class Store; // takes the pending trap when the host function returns
    void stop(TrapKind kind, std::string message) {
        if (!m_trap) m_trap = Trap{kind, std::move(message), {}};
    }
    Store& m_store;
    engine::Instance* m_instance;
    std::optional<Trap> m_trap;
};

/// The slot-level body of a host function: arguments in slots[0..params), results written to
/// slots[0..results), encoded as Value::to_slots() does (a v128 takes two slots).
using SlotHostFn = std::function<void(Caller&, uint64_t* slots)>;
/// The raw form of a host function: typed values in, typed values out.
using RawHostFn =
    std::function<void(Caller&, std::span<const Value> args, std::span<Value> results)>;

/// A host function not yet bound to a store: its type and body.
struct HostFunc {
    FuncType type;
    SlotHostFn body;
};

namespace detail {

/// The C++ types of wasm values: each knows its type and reads and writes its slots.
template <typename T> struct Scalar;
#define KILN_SCALAR(T, VT, FROM, TO)                                                               \
    template <> struct Scalar<T> {                                                                 \
        static constexpr ValType type = ValType::VT;                                               \
        static constexpr size_t slots = 1;                                                         \
        static T read(const uint64_t* p) {                                                         \
            uint64_t s = *p;                                                                       \
            return FROM;                                                                           \
        }                                                                                          \
        static void write(uint64_t* p, T v) { *p = TO; }                                           \
    };
KILN_SCALAR(int32_t, i32, int32_t(uint32_t(s)), uint32_t(v))
KILN_SCALAR(uint32_t, i32, uint32_t(s), v)
KILN_SCALAR(int64_t, i64, int64_t(s), uint64_t(v))
KILN_SCALAR(uint64_t, i64, s, v)
KILN_SCALAR(float, f32, std::bit_cast<float>(uint32_t(s)), std::bit_cast<uint32_t>(v))
KILN_SCALAR(double, f64, std::bit_cast<double>(s), std::bit_cast<uint64_t>(v))
#undef KILN_SCALAR
template <> struct Scalar<V128> {
    static constexpr ValType type = ValType::v128;
    static constexpr size_t slots = 2;
    static V128 read(const uint64_t* p) { return V128{p[0], p[1]}; }
    static void write(uint64_t* p, V128 v) {
        p[0] = v.lo;
        p[1] = v.hi;
    }
};

/// Where each of the values T... starts in their slots, and how many slots they take.
template <typename... T> struct SlotLayout {
    static constexpr size_t total = (size_t{0} + ... + Scalar<T>::slots);
    static constexpr std::array<size_t, sizeof...(T)> offsets = [] {
        std::array<size_t, sizeof...(T)> at{};
        size_t i = 0, next = 0;
        ((at[i++] = next, next += Scalar<T>::slots), ...);
        return at;
    }();
};

/// Result types: void, one scalar, or a std::tuple of scalars.
template <typename R> struct Results {
    static constexpr size_t slots = Scalar<R>::slots;
    static std::vector<ValType> types() { return {Scalar<R>::type}; }
    static void write(uint64_t* slots, const R& v) { Scalar<R>::write(slots, v); }
    static R read(const uint64_t* slots) { return Scalar<R>::read(slots); }
};
template <> struct Results<void> {
    static constexpr size_t slots = 0;
    static std::vector<ValType> types() { return {}; }
};
template <typename... T> struct Results<std::tuple<T...>> {
    using Layout = SlotLayout<T...>;
    static constexpr size_t slots = Layout::total;
    static std::vector<ValType> types() { return {Scalar<T>::type...}; }
    static void write(uint64_t* slots, const std::tuple<T...>& v) {
        write_at(slots, v, std::index_sequence_for<T...>{});
    }
    static std::tuple<T...> read(const uint64_t* slots) {
        return read_at(slots, std::index_sequence_for<T...>{});
    }
    template <size_t... I>
    static void write_at(uint64_t* slots, const std::tuple<T...>& v, std::index_sequence<I...>) {
        (Scalar<T>::write(slots + Layout::offsets[I], std::get<I>(v)), ...);
    }
    template <size_t... I>
    static std::tuple<T...> read_at(const uint64_t* s, std::index_sequence<I...>) {
        return std::tuple<T...>(Scalar<T>::read(s + Layout::offsets[I])...);
    }
};

/// Host function results given as Result<R>: an error traps the caller (Caller::trap(Error)).
template <typename R> struct Unwrap {
    using Type = R;
    static constexpr bool is_result = false;
};
template <typename R> struct Unwrap<tl::expected<R, Error>> {
    using Type = R;
    static constexpr bool is_result = true;
};

template <typename F> struct Callable : Callable<decltype(&std::decay_t<F>::operator())> {};
template <typename C, typename R, typename... A> struct Callable<R (C::*)(A...) const> {
    using Ret = R;
    using Args = std::tuple<A...>;
};
template <typename C, typename R, typename... A>
struct Callable<R (C::*)(A...)> : Callable<R (C::*)(A...) const> {};
template <typename R, typename... A> struct Callable<R (*)(A...)> {
    using Ret = R;
    using Args = std::tuple<A...>;
};

template <typename Tuple> struct Params;
template <typename... A> struct Params<std::tuple<A...>> {
    static constexpr bool with_caller = false;
    using Scalars = std::tuple<std::decay_t<A>...>;
};
template <typename... A> struct Params<std::tuple<Caller&, A...>> {
    static constexpr bool with_caller = true;
    using Scalars = std::tuple<std::decay_t<A>...>;
};

template <typename... A> std::vector<ValType> param_types(std::tuple<A...>*) {
    return {Scalar<A>::type...};
}

template <typename F, typename... A, size_t... I>
decltype(auto) invoke_with(F& f, Caller& caller, [[maybe_unused]] const uint64_t* slots,
                           std::tuple<A...>*, std::index_sequence<I...>, std::true_type) {
    return f(caller, Scalar<A>::read(slots + SlotLayout<A...>::offsets[I])...);
}
template <typename F, typename... A, size_t... I>
decltype(auto) invoke_with(F& f, Caller&, [[maybe_unused]] const uint64_t* slots, std::tuple<A...>*,
                           std::index_sequence<I...>, std::false_type) {
    return f(Scalar<A>::read(slots + SlotLayout<A...>::offsets[I])...);
}

/// Calls `func` with arguments in slots[0..params); results land in slots[0..results). Returns
/// 0 on success, else a code for call_failure(), which builds the error off the fast path.
int call_slots(Store& store, const Func& func, uint64_t* slots);
/// The error of a call for which call_slots() returned `code`.
Error call_failure(Store& store, const Func& func, int code);

} // namespace detail

/// A host function from a plain callable: its wasm type comes from the C++ signature. Parameters
/// are int32_t/uint32_t (i32), int64_t/uint64_t (i64), float, double, V128, optionally after a
/// leading `Caller&`; the result is void, one of those, or a std::tuple of them, or any of these
/// wrapped in Result<> (an error traps the guest, see Caller::trap(Error)).
template <typename F> HostFunc host_func(F f) {
    using Traits = detail::Callable<F>;
    using P = detail::Params<typename Traits::Args>;
    using Scalars = typename P::Scalars;
    using U = detail::Unwrap<typename Traits::Ret>;
    using R = typename U::Type;
    FuncType type{detail::param_types(static_cast<Scalars*>(nullptr)), detail::Results<R>::types()};
    SlotHostFn body = [f = std::move(f)](Caller& caller, uint64_t* slots) mutable {
        constexpr auto seq = std::make_index_sequence<std::tuple_size_v<Scalars>>{};
        constexpr auto wc = std::bool_constant<P::with_caller>{};
        if constexpr (U::is_result) {
            auto r = detail::invoke_with(f, caller, slots, static_cast<Scalars*>(nullptr), seq, wc);
            if (!r) return caller.trap(std::move(r.error()));
            if constexpr (!std::is_void_v<R>) detail::Results<R>::write(slots, *r);
        } else if constexpr (std::is_void_v<R>) {
            detail::invoke_with(f, caller, slots, static_cast<Scalars*>(nullptr), seq, wc);
        } else {
            R r = detail::invoke_with(f, caller, slots, static_cast<Scalars*>(nullptr), seq, wc);
            detail::Results<R>::write(slots, r);
        }
    };
    return HostFunc{std::move(type), std::move(body)};
}

/// A host function in the raw form: typed values in and out, any signature.
HostFunc host_func(FuncType type, RawHostFn fn);

/// Binds a host function to a store.
Func create_func(Store& store, HostFunc fn);

/// A function whose signature was checked once, called without boxing values.
template <typename Sig> class TypedFunc;
template <typename R, typename... A> class TypedFunc<R(A...)> {
public:
    explicit TypedFunc(Func f) : m_func(f) {}
    Result<R> call(Store& store, A... args) const {
        using Args = detail::SlotLayout<A...>;
        constexpr size_t n = std::max<size_t>({Args::total, detail::Results<R>::slots, 1});
        uint64_t slots[n];
        size_t i = 0;
        (detail::Scalar<A>::write(slots + Args::offsets[i++], args), ...);
        if (int code = detail::call_slots(store, m_func, slots); code != 0) [[unlikely]]
            return tl::unexpected(detail::call_failure(store, m_func, code));
        if constexpr (std::is_void_v<R>)
            return {};
        else
            return detail::Results<R>::read(slots);
    }
    const Func& func() const { return m_func; }

private:
    Func m_func;
};

template <typename Sig> Result<TypedFunc<Sig>> Func::typed(Store& store) const {
    auto t = type(store);
    if (!t) return tl::unexpected(std::move(t.error()));
    using Traits = detail::Callable<Sig*>;
    using Scalars = typename detail::Params<typename Traits::Args>::Scalars;
    FuncType want{detail::param_types(static_cast<Scalars*>(nullptr)),
                  detail::Results<typename Traits::Ret>::types()};
    if (!(want == *t))
        return make_error(ErrorKind::usage, "function has type " + functype_string(*t) + ", not " +
                                                functype_string(want));
    return TypedFunc<Sig>(*this);
}

} // namespace kiln
