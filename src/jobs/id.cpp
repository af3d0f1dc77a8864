// Job ids (random UUIDs) and status names.
#include <kiln/jobs.hpp>

#include <sys/random.h>

#include <chrono>
#include <cstring>

namespace kiln {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr const char* status_names[] = {"queued",    "running", "paused",
                                        "completed", "failed",  "cancelled"};

} // namespace

JobId JobId::random() {
    JobId id;
    size_t got = 0;
    while (got < id.bytes.size()) {
        ssize_t n = getrandom(id.bytes.data() + got, id.bytes.size() - got, 0);
        if (n > 0) got += size_t(n);
    }
    // Version 7: the first 48 bits are the Unix time in milliseconds, so ids made one after
    // the other sort (and land in the database's index) one after the other.
    const uint64_t ms = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
    for (int i = 0; i < 6; ++i)
        id.bytes[size_t(i)] = uint8_t(ms >> (40 - 8 * i));
    id.bytes[6] = uint8_t((id.bytes[6] & 0x0f) | 0x70);
    id.bytes[8] = uint8_t((id.bytes[8] & 0x3f) | 0x80); // RFC 9562 variant
    return id;
}

std::optional<JobId> JobId::parse(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    JobId id;
    size_t nibble = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') return std::nullopt;
            continue;
        }
        int v = hex_value(text[i]);
        if (v < 0) return std::nullopt;
        uint8_t& b = id.bytes[nibble / 2];
        b = nibble % 2 == 0 ? uint8_t(v << 4) : uint8_t(b | v);
        ++nibble;
    }
    return id;
}

std::string JobId::to_string() const {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

const char* job_status_name(JobStatus status) {
    return status_names[size_t(status)];
}

std::optional<JobStatus> parse_job_status(std::string_view name) {
    for (size_t i = 0; i < std::size(status_names); ++i)
        if (name == status_names[i]) return JobStatus(i);
    return std::nullopt;
}

bool is_final(JobStatus status) {
    return status == JobStatus::completed || status == JobStatus::failed ||
           status == JobStatus::cancelled;
}

} // namespace kiln
