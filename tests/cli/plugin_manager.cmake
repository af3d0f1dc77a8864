# kiln plugin list|info|validate|call over a folder of plugins made at build time: `echo` (a
# kiln.yaml beside echo_plugin.wasm, declaring a command served by its `echo` export), `zeno` (a
# Zeno manifest.yaml) and `bad` (a manifest without its version). Included by CMakeLists.txt.
set(plugins ${CMAKE_CURRENT_BINARY_DIR}/plugins)
kiln_add_wat(TARGET kiln-cli-plugin-fixtures OUTPUT_DIR ${plugins}/echo
             SOURCES ${src}/echo_plugin.wat)
file(WRITE ${plugins}/echo/kiln.yaml
     "name: echo\nversion: 1.2.0\nwasm: echo_plugin.wasm\npermissions: {kv: [read]}\n"
     "config: {color: green}\n"
     "contributes:\n  commands: [{id: say, title: Say it back, export: echo}]\n")
file(WRITE ${plugins}/bad/kiln.yaml "name: bad\nwasm: plugin.wasm\n")
file(MAKE_DIRECTORY ${plugins}/zeno)
file(WRITE ${plugins}/zeno/manifest.yaml
     "name: zeno-hello\nbinary: ../echo/echo_plugin.wasm\npermissions: {scope: [read]}\n"
     "slots:\n  - name: hello.say\n")

kiln_cli_test(plugin-list EXIT 0
              STDOUT "^bad - auto failed: [^\n]*bad/kiln\\.yaml: version: required\necho 1\\.2\\.0 extism available \\(command say\\)\nzeno-hello 0\\.0\\.0 zeno failed: no adapter for the zeno ABI in this build$"
              ARGS plugin list --plugin-dir ${plugins})
kiln_cli_test(plugin-list-json EXIT 0
              STDOUT "\"name\": \"echo\",\n *\"version\": \"1\\.2\\.0\",\n *\"abi\": \"extism\",\n *\"state\": \"available\",.*\"kind\": \"command\",\n *\"id\": \"say\""
              ARGS plugin list --dir ${plugins} --json)
kiln_cli_test(plugin-list-missing-dir EXIT 2 STDERR "^kiln: /nonexistent/kiln-plugins: cannot open"
              ARGS plugin list --dir /nonexistent/kiln-plugins)
kiln_cli_test(plugin-call-command EXIT 0 STDOUT "^hi$"
              ARGS plugin call echo say --input hi --plugin-dir ${plugins})
kiln_cli_test(plugin-call-export EXIT 0 STDOUT "^green$"
              ARGS plugin call echo color --dir ${plugins})
kiln_cli_test(plugin-call-failure EXIT 1 STDERR "^kiln: plugin: echo_plugin says no$"
              ARGS plugin call echo refuse --dir ${plugins})
kiln_cli_test(plugin-call-unknown-target EXIT 2
              STDERR "^kiln: echo: no slot, command or export \"nope\"$"
              ARGS plugin call echo nope --dir ${plugins})
kiln_cli_test(plugin-call-unknown-plugin EXIT 2 STDERR "^kiln: no plugin ghost$"
              ARGS plugin call ghost f --dir ${plugins})
kiln_cli_test(plugin-validate EXIT 0 STDOUT "echo: valid \\(echo 1\\.2\\.0, extism ABI\\)$"
              ARGS plugin validate ${plugins}/echo)
kiln_cli_test(plugin-validate-problems EXIT 1
              STDOUT "echo: valid [^\n]*\n[^\n]*bad: [^\n]*kiln\\.yaml: version: required\nmissing: cannot open$"
              ARGS plugin validate ${plugins}/echo ${plugins}/bad missing)
kiln_cli_test(plugin-validate-foreign-warns EXIT 1
              STDOUT "zeno: no adapter for the zeno ABI in this build$"
              ARGS plugin validate ${plugins}/zeno)
kiln_cli_test(plugin-info-json EXIT 0
              STDOUT "\"dialect\": \"kiln\",.*\"permissions\": {\n *\"kv\": \\[\n *\"read\"\n *\\]"
              ARGS plugin info echo --dir ${plugins} --json)
kiln_cli_test(plugin-info-path EXIT 0 STDOUT "^name: echo\nversion: 1\\.2\\.0\nabi: extism\n"
              ARGS plugin info ${plugins}/echo)
