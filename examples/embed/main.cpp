// Embeds Kiln in a host program: loads a module, gives it a host function that reads a string
// from the guest's memory, and calls its export `run`.
//
//     kiln-embed plugin.wasm [N]    prints what the plugin logs, then "run(N) = RESULT"
#include <kiln/kiln.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

static int fail(const kiln::Error& error) {
    std::fprintf(stderr, "kiln-embed: %s: %s\n", kiln::error_kind_name(error.kind),
                 error.message.c_str());
    if (error.trap) std::fputs(kiln::format_backtrace(error.trap->frames).c_str(), stderr);
    return 1;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: kiln-embed PLUGIN.wasm [N]\n");
        return 2;
    }
    const int32_t n = argc == 3 ? std::atoi(argv[2]) : 10;

    kiln::Engine engine;
    auto module = kiln::Module::from_file(engine, argv[1]);
    if (!module) return fail(module.error());

    kiln::Store store(engine);
    kiln::Linker linker;
    // env.log(ptr, len): the guest passes a string by its place in its own memory.
    linker.func_wrap("env", "log", [](kiln::Caller& caller, int32_t ptr, int32_t len) {
        auto text = caller.read_string(uint32_t(ptr), uint32_t(len));
        if (!text) return caller.trap("env.log: string out of bounds");
        std::printf("plugin says: %s\n", text->c_str());
    });

    auto instance = linker.instantiate(store, *module);
    if (!instance) return fail(instance.error());
    auto run_export = instance->get_func(store, "run");
    if (!run_export) {
        std::fprintf(stderr, "kiln-embed: %s exports no function named run\n", argv[1]);
        return 1;
    }
    auto run = run_export->typed<int32_t(int32_t)>(store);
    if (!run) return fail(run.error());
    auto result = run->call(store, n);
    if (!result) return fail(result.error());
    std::printf("run(%d) = %d\n", n, *result);
}
