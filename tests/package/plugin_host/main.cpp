// Loads a plugin from its manifest and calls one of its functions with an input.
//
//     kiln-plugin-host MANIFEST FUNCTION INPUT    prints the output
#include <kiln/plugin.hpp>

#include <cstdio>
#include <utility>

static int fail(const kiln::Error& error) {
    std::fprintf(stderr, "kiln-plugin-host: %s: %s\n", kiln::error_kind_name(error.kind),
                 error.message.c_str());
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: kiln-plugin-host MANIFEST FUNCTION INPUT\n");
        return 2;
    }
    auto manifest = kiln::Manifest::from_file(argv[1]);
    if (!manifest) return fail(manifest.error());
    kiln::Engine engine;
    auto plugin = kiln::Plugin::create(engine, std::move(*manifest));
    if (!plugin) return fail(plugin.error());
    auto output = plugin->call(argv[2], argv[3]);
    if (!output) return fail(output.error());
    std::printf("%s\n", output->c_str());
}
