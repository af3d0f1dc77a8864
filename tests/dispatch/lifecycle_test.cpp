// The Extism lifecycle exports as the manager's adapter runs them: initialize gets the host and
// the config the plugin runs with.
#include "manager_test_util.hpp"

#include <gtest/gtest.h>

namespace kiln {
namespace {

using manager_test::kiln_yaml;
using manager_test::TempDir;
using manager_test::write_plugin;

TEST(ExtismLifecycle, InitializeGetsTheHostAndTheConfig) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    TempDir dir;
    // initialize keeps its input in the var "init"; init_input outputs it.
    write_plugin(dir, "p", kiln_yaml("p", "1.0.0", "config: {region: eu, level: \"3\"}\n"), R"(
  (data (i32.const 0) "init")
  (func (export "initialize") (result i32)
    (call $var_set (call $str (i32.const 0) (i32.const 4)) (call $input_offset)) (i32.const 0))
  (func (export "init_input") (result i32)
    (call $out_block (call $var_get (call $str (i32.const 0) (i32.const 4)))) (i32.const 0)))");
    ManagerOptions options;
    options.kiln_version = "1.2.3";
    PluginManager manager(std::move(options));
    ASSERT_TRUE(manager.open(dir.str()));
    auto out = manager.call("p", "init_input", "");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out,
              R"({"host":{"name":"kiln","version":"1.2.3"},"config":{"level":"3","region":"eu"}})");
}

} // namespace
} // namespace kiln
