// libFuzzer target for the plugin manifest parsers: the input is the text of a manifest, in JSON
// (Manifest::from_json) or, built with KILN_MANIFEST_TOML, in TOML (Manifest::from_toml).
// Nothing may crash, throw or hit undefined behaviour; a refusal must say why; and a manifest
// that parses must survive to_json(): read back with from_json it is equal, and writes the same
// text again. Built with -DKILN_FUZZ=ON under clang (see docs/testing.md); kiln-manifest-*-fuzz-
// replay runs the same entry point over the corpus in every build.
#include <kiln/plugin.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void finding(const std::string& what, std::string_view input) {
    std::fprintf(stderr, "manifest fuzzer: %s\ninput: %.*s\n", what.c_str(), int(input.size()),
                 input.data());
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
#ifdef KILN_MANIFEST_TOML
    auto parsed = kiln::Manifest::from_toml(text);
#else
    auto parsed = kiln::Manifest::from_json(text);
#endif
    if (!parsed) {
        if (parsed.error().message.empty()) finding("a refusal without a message", text);
        return 0;
    }
    const std::string json = parsed->to_json();
    auto again = kiln::Manifest::from_json(json);
    if (!again) finding("to_json() wrote what from_json() refuses: " + again.error().message, text);
    if (!(*again == *parsed)) finding("to_json() and back gave another manifest:\n" + json, text);
    if (again->to_json() != json)
        finding("to_json() of the manifest read back differs:\n" + json, text);
    return 0;
}
