// Kiln's C++ API: Engine -> Module -> Store -> Linker -> Instance -> Func.
//
//     kiln::Engine engine;
//     auto module = kiln::Module::from_file(engine, "plugin.wasm");
//     kiln::Store store(engine);
//     kiln::Linker linker;
//     linker.func_wrap("env", "log", [](int32_t x) { std::printf("%d\n", x); });
//     auto instance = linker.instantiate(store, *module);
//     auto run = instance->get_func(store, "run")->typed<int32_t(int32_t)>(store);
//     auto result = run->call(store, 42);
#pragma once

#include <kiln/engine.hpp>
#include <kiln/error.hpp>
#include <kiln/extern.hpp>
#include <kiln/func.hpp>
#include <kiln/instance.hpp>
#include <kiln/linker.hpp>
#include <kiln/module.hpp>
#include <kiln/module_info.hpp>
#include <kiln/store.hpp>
#include <kiln/types.hpp>
#include <kiln/value.hpp>
