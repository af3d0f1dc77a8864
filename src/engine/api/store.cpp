// kiln::Store and kiln::InterruptHandle over engine::Store.
#include "engine/api/internal.hpp"

#include <kiln/func.hpp>
#include <kiln/store.hpp>

#include <atomic>
#include <unordered_map>

namespace kiln {

namespace {
std::atomic<uint64_t> next_store_id{1};
std::atomic<uint32_t> next_key{0};
} // namespace

uint32_t detail::next_data_key() {
    return next_key++;
}

void Store::set_data_slot(uint32_t key, std::shared_ptr<void> data) {
    if (key >= m_data.size()) m_data.resize(key + 1);
    m_data[key] = std::move(data);
}

void InterruptHandle::interrupt() const {
    m_flag->raise(engine::InterruptMode::trap);
}
void InterruptHandle::suspend() const {
    m_flag->raise(engine::InterruptMode::suspend);
}

Store::Store(const Engine& engine)
    : m_engine(engine), m_store(std::make_unique<engine::Store>(engine.raw())),
      m_host_funcs(std::make_unique<HostFuncs>()), m_id(next_store_id++) {}

Store::~Store() = default;

void Store::set_memory_limit(uint64_t bytes) {
    m_store->limiter().memory_bytes_max = bytes;
}
uint64_t Store::memory_bytes() const {
    return m_store->limiter().memory_bytes_used;
}
void Store::set_table_limit(uint64_t elements) {
    m_store->limiter().table_elems_max = elements;
}

void Store::set_fuel(uint64_t fuel) {
    auto& c = m_store->control();
    c.fuel_enabled = true;
    c.fuel = fuel;
}

void Store::add_fuel(uint64_t fuel) {
    auto& c = m_store->control();
    if (!c.fuel_enabled) c.fuel = 0;
    c.fuel_enabled = true;
    c.fuel = fuel > ~uint64_t(0) - c.fuel ? ~uint64_t(0) : c.fuel + fuel;
}

std::optional<uint64_t> Store::fuel() const {
    const auto& c = m_store->control();
    if (!c.fuel_enabled) return std::nullopt;
    return c.fuel;
}

void Store::disable_fuel() {
    m_store->control().fuel_enabled = false;
}
void Store::set_suspend_on_fuel(bool suspend) {
    m_store->control().suspend_on_fuel = suspend;
}

void Store::set_timeout(std::chrono::nanoseconds timeout) {
    auto& c = m_store->control();
    if (timeout.count() <= 0)
        c.timeout.reset();
    else
        c.timeout = std::chrono::duration_cast<engine::Clock::duration>(timeout);
}

InterruptHandle Store::interrupt_handle() const {
    return InterruptHandle(m_store->control().interrupt);
}

void Store::set_stack_limits(uint32_t max_call_depth, uint64_t max_stack_slots) {
    m_store->set_stack_limits(max_call_depth, max_stack_slots);
}

void Store::set_reuse_after_trap(bool allow) {
    m_reuse_after_trap = allow;
}

bool Store::has_suspended_call() const {
    return m_store->has_suspended();
}

void Store::drop_suspended_call() {
    m_store->drop_suspended();
}

} // namespace kiln

namespace kiln {

Result<void> Store::save(Snapshot& out) const {
    Writer w;
    KILN_CHECK(m_store->save_image(w));
    out.set("store", std::move(w.out()));
    return {};
}

Result<void> Store::restore(const Snapshot& in) {
    const std::vector<uint8_t>* image = in.get("store");
    if (!image) return make_error(ErrorKind::invalid, "snapshot: no store section");
    return m_store->load_image(*image);
}

Result<std::vector<uint8_t>> Store::snapshot(const Snapshot& with) const {
    if (with.get("store"))
        return make_error(ErrorKind::usage,
                          "snapshot: the sections to add include a store section");
    // The memory pages go to the encoder where they are, not through a copy.
    Writer w = Writer::borrowing();
    KILN_CHECK(m_store->save_image(w));
    return with.encode_with("store", w.pieces());
}

Result<void> Store::restore(std::span<const uint8_t> bytes) {
    auto s = Snapshot::decode(bytes);
    if (!s) return tl::unexpected(std::move(s.error()));
    return restore(*s);
}

} // namespace kiln
