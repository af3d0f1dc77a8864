// Semantic versions and ranges, as `version` and `requires` in package manifests use them.
#include <kiln/manager.hpp>

#include <fmt/format.h>

#include <charconv>

namespace kiln {

namespace {

bool is_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

/// A numeric part without leading zeros, as semver wants it.
bool number(std::string_view s, uint64_t& out) {
    if (!is_digits(s) || (s.size() > 1 && s[0] == '0')) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

bool identifiers(std::string_view s, bool numeric_rules) {
    if (s.empty()) return false;
    size_t start = 0;
    while (true) {
        size_t dot = s.find('.', start);
        std::string_view id = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (id.empty() || id.find_first_not_of(
                              "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") !=
                              std::string_view::npos)
            return false;
        if (numeric_rules && is_digits(id) && id.size() > 1 && id[0] == '0') return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

std::strong_ordering compare_prerelease(std::string_view a, std::string_view b) {
    if (a.empty() || b.empty()) return b.size() <=> a.size(); // a release ranks above
    while (true) {
        size_t da = a.find('.'), db = b.find('.');
        std::string_view ia = a.substr(0, da), ib = b.substr(0, db);
        const bool na = is_digits(ia), nb = is_digits(ib);
        std::strong_ordering c = std::strong_ordering::equal;
        if (na && nb)
            c = ia.size() != ib.size() ? ia.size() <=> ib.size() : ia.compare(ib) <=> 0;
        else if (na != nb)
            c = na ? std::strong_ordering::less : std::strong_ordering::greater;
        else
            c = ia.compare(ib) <=> 0;
        if (c != 0) return c;
        if (da == std::string_view::npos || db == std::string_view::npos)
            return (da == std::string_view::npos) == (db == std::string_view::npos)
                       ? std::strong_ordering::equal
                       : (da == std::string_view::npos ? std::strong_ordering::less
                                                       : std::strong_ordering::greater);
        a.remove_prefix(da + 1);
        b.remove_prefix(db + 1);
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

using Op = VersionRange::Comparator::Op;

/// A partial version: how many of major.minor.patch it gives (0 for "*"), "x" and "*" parts
/// ending it early.
Result<std::pair<Version, int>> partial(std::string_view text) {
    Version v;
    int parts = 0;
    std::string_view rest = text;
    if (size_t plus = rest.find('+'); plus != rest.npos) rest = rest.substr(0, plus);
    std::string_view pre;
    if (size_t dash = rest.find('-'); dash != rest.npos) {
        pre = rest.substr(dash + 1);
        rest = rest.substr(0, dash);
        if (!identifiers(pre, true))
            return make_error(ErrorKind::invalid, fmt::format("\"{}\": bad pre-release", text));
    }
    uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
    while (parts < 3) {
        size_t dot = rest.find('.');
        std::string_view part = rest.substr(0, dot);
        if (part == "*" || part == "x" || part == "X") break;
        if (!number(part, *fields[parts]))
            return make_error(ErrorKind::invalid, fmt::format("\"{}\" is not a version", text));
        ++parts;
        if (dot == rest.npos) break;
        rest = rest.substr(dot + 1);
        if (parts == 3)
            return make_error(ErrorKind::invalid, fmt::format("\"{}\" is not a version", text));
    }
    if (!pre.empty()) {
        if (parts < 3)
            return make_error(ErrorKind::invalid,
                              fmt::format("\"{}\": a pre-release needs a full version", text));
        v.prerelease = std::string(pre);
    }
    return std::pair{v, parts};
}

Result<void> add_comparators(std::string_view text, std::vector<VersionRange::Comparator>& out) {
    std::string_view t = trim(text);
    if (t.empty() || t == "*" || t == "x" || t == "X") return {};
    Op op = Op::eq;
    char kind = '=';
    if (t.starts_with(">="))
        op = Op::ge, t.remove_prefix(2);
    else if (t.starts_with("<="))
        op = Op::le, t.remove_prefix(2);
    else if (t.starts_with('>'))
        op = Op::gt, t.remove_prefix(1);
    else if (t.starts_with('<'))
        op = Op::lt, t.remove_prefix(1);
    else if (t.starts_with('='))
        t.remove_prefix(1);
    else if (t.starts_with('^'))
        kind = '^', t.remove_prefix(1);
    else if (t.starts_with('~'))
        kind = '~', t.remove_prefix(1);
    if (!t.empty() && (t.front() == 'v')) t.remove_prefix(1);
    auto p = partial(trim(t));
    if (!p) return tl::unexpected(p.error());
    auto [v, parts] = *p;
    auto bump = [](Version b, int at) {
        b.prerelease.clear();
        if (at == 0)
            b = Version{b.major + 1, 0, 0, {}, {}};
        else if (at == 1)
            b = Version{b.major, b.minor + 1, 0, {}, {}};
        else
            b = Version{b.major, b.minor, b.patch + 1, {}, {}};
        return b;
    };
    if (parts == 0) {
        if (op == Op::lt || op == Op::gt) out.push_back({Op::lt, Version{}}); // matches nothing
        return {};
    }
    if (kind == '^') {
        // The leftmost non-zero part stays; a partial version leaves the rest free.
        int keep = v.major != 0 || parts == 1 ? 0 : (v.minor != 0 || parts == 2 ? 1 : 2);
        out.push_back({Op::ge, v});
        out.push_back({Op::lt, bump(v, keep)});
        return {};
    }
    if (kind == '~') {
        out.push_back({Op::ge, v});
        out.push_back({Op::lt, bump(v, parts == 1 ? 0 : 1)});
        return {};
    }
    if (parts == 3) {
        out.push_back({op, v});
        return {};
    }
    // A partial version stands for the whole range it leaves open.
    const Version next = bump(v, parts - 1);
    switch (op) {
    case Op::eq: out.push_back({Op::ge, v}), out.push_back({Op::lt, next}); break;
    case Op::ge: out.push_back({Op::ge, v}); break;
    case Op::gt: out.push_back({Op::ge, next}); break;
    case Op::lt: out.push_back({Op::lt, v}); break;
    case Op::le: out.push_back({Op::lt, next}); break;
    }
    return {};
}

} // namespace

Result<Version> Version::parse(std::string_view text) {
    Version v;
    std::string_view rest = text;
    if (size_t plus = rest.find('+'); plus != rest.npos) {
        v.build = std::string(rest.substr(plus + 1));
        rest = rest.substr(0, plus);
        if (!identifiers(v.build, false))
            return make_error(ErrorKind::invalid,
                              fmt::format("\"{}\" is not a semantic version (bad build)", text));
    }
    if (size_t dash = rest.find('-'); dash != rest.npos) {
        v.prerelease = std::string(rest.substr(dash + 1));
        rest = rest.substr(0, dash);
        if (!identifiers(v.prerelease, true))
            return make_error(
                ErrorKind::invalid,
                fmt::format("\"{}\" is not a semantic version (bad pre-release)", text));
    }
    uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
    for (int i = 0; i < 3; ++i) {
        size_t dot = rest.find('.');
        if ((i < 2) == (dot == rest.npos) || !number(rest.substr(0, dot), *fields[i]))
            return make_error(
                ErrorKind::invalid,
                fmt::format("\"{}\" is not a semantic version (MAJOR.MINOR.PATCH)", text));
        rest = dot == rest.npos ? std::string_view() : rest.substr(dot + 1);
    }
    return v;
}

std::string Version::to_string() const {
    std::string s = fmt::format("{}.{}.{}", major, minor, patch);
    if (!prerelease.empty()) s += "-" + prerelease;
    if (!build.empty()) s += "+" + build;
    return s;
}

std::strong_ordering Version::operator<=>(const Version& o) const {
    if (auto c = major <=> o.major; c != 0) return c;
    if (auto c = minor <=> o.minor; c != 0) return c;
    if (auto c = patch <=> o.patch; c != 0) return c;
    return compare_prerelease(prerelease, o.prerelease);
}

Result<VersionRange> VersionRange::parse(std::string_view text) {
    VersionRange r;
    r.text = std::string(text);
    std::string_view rest = text;
    while (true) {
        size_t bar = rest.find("||");
        std::string_view alt = rest.substr(0, bar);
        std::vector<Comparator> all;
        // Comparators are separated by commas or spaces; an operator may be spaced from its
        // version (">= 1.2"), which joins them again.
        std::string joined;
        for (char c : alt)
            joined += c == ',' ? ' ' : c;
        std::vector<std::string> words;
        size_t at = 0;
        while (at < joined.size()) {
            size_t end = joined.find(' ', at);
            std::string w =
                joined.substr(at, end == std::string::npos ? std::string::npos : end - at);
            if (!w.empty()) {
                if (!words.empty() && words.back().find_first_not_of("<>=^~") == std::string::npos)
                    words.back() += w;
                else
                    words.push_back(w);
            }
            if (end == std::string::npos) break;
            at = end + 1;
        }
        for (const std::string& w : words)
            if (auto ok = add_comparators(w, all); !ok)
                return make_error(ErrorKind::invalid,
                                  fmt::format("range \"{}\": {}", text, ok.error().message));
        if (words.empty() && text.find("||") != std::string_view::npos)
            return make_error(ErrorKind::invalid,
                              fmt::format("range \"{}\": an empty alternative", text));
        r.alternatives.push_back(std::move(all));
        if (bar == rest.npos) break;
        rest = rest.substr(bar + 2);
    }
    return r;
}

bool VersionRange::matches(const Version& v) const {
    for (const auto& all : alternatives) {
        bool ok = true;
        // A pre-release matches only a range that names a pre-release of the same version.
        bool pre_allowed = v.prerelease.empty();
        for (const Comparator& c : all) {
            if (!c.version.prerelease.empty() && c.version.major == v.major &&
                c.version.minor == v.minor && c.version.patch == v.patch)
                pre_allowed = true;
            auto cmp = v <=> c.version;
            switch (c.op) {
            case Comparator::Op::eq: ok = ok && cmp == 0; break;
            case Comparator::Op::gt: ok = ok && cmp > 0; break;
            case Comparator::Op::ge: ok = ok && cmp >= 0; break;
            case Comparator::Op::lt: ok = ok && cmp < 0; break;
            case Comparator::Op::le: ok = ok && cmp <= 0; break;
            }
        }
        if (ok && pre_allowed) return true;
    }
    return false;
}

} // namespace kiln
