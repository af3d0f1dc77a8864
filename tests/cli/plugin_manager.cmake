# kiln plugin list|info|validate|call over a folder of plugins made at build time: `echo` (a
# kiln.yaml beside echo_plugin.wasm, declaring a command served by its `echo` export), `zeno` (a
# Zeno manifest.yaml) and `bad` (a manifest without its version, naming a wasm file that is not there). Included by CMakeLists.txt.
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
              STDOUT "^bad - auto failed: [^\n]*bad/kiln\\.yaml: version: required \\(and 1 more: kiln plugin validate\\)\necho 1\\.2\\.0 extism available \\(command say\\)\nzeno-hello 0\\.0\\.0 zeno available$"
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
              STDOUT "echo: valid [^\n]*\n[^\n]*bad: [^\n]*kiln\\.yaml: version: required\n[^\n]*bad: [^\n]*kiln\\.yaml: wasm: no wasm file [^\n]*plugin\\.wasm\nmissing: cannot open$"
              ARGS plugin validate ${plugins}/echo ${plugins}/bad missing)
kiln_cli_test(plugin-validate-foreign-warns EXIT 0
              STDOUT "zeno: valid \\(zeno-hello 0\\.0\\.0, zeno ABI\\)$"
              STDERR "^kiln: warning: [^\n]*slots"
              ARGS plugin validate ${plugins}/zeno)
# Its module is no ZenoEngine plugin: loading it says so.
kiln_cli_test(plugin-call-not-zeno EXIT 1
              STDERR "not a ZenoEngine plugin: it exports no \"plugin_init\"$"
              ARGS plugin call zeno-hello hello.say --dir ${plugins})
kiln_cli_test(plugin-info-json EXIT 0
              STDOUT "\"dialect\": \"kiln\",.*\"permissions\": {\n *\"kv\": \\[\n *\"read\"\n *\\]"
              ARGS plugin info echo --dir ${plugins} --json)
kiln_cli_test(plugin-info-path EXIT 0 STDOUT "^name: echo\nversion: 1\\.2\\.0\nabi: extism\n"
              ARGS plugin info ${plugins}/echo)

# kiln plugin enable|disable|grant|revoke|audit keep their state in $KILN_HOME/state.db: these
# steps share one home, made afresh by the first, and run in order (DEPENDS). The other plugin
# tests get a home of their own, never the user's.
set(state_home ${CMAKE_CURRENT_BINARY_DIR}/kiln-home-state)
add_test(NAME cli.plugin-state-reset COMMAND ${CMAKE_COMMAND} -E rm -rf ${state_home})
set(state_steps cli.plugin-state-reset)
# plugin_state_step(NAME kiln_cli_test arguments...): one step, after the previous one.
function(plugin_state_step name)
  kiln_cli_test(${name} ${ARGN})
  list(GET state_steps -1 previous)
  set_tests_properties(cli.${name} PROPERTIES DEPENDS ${previous}
                       ENVIRONMENT KILN_HOME=${state_home})
  list(APPEND state_steps cli.${name})
  set(state_steps ${state_steps} PARENT_SCOPE)
endfunction()
plugin_state_step(plugin-disable EXIT 0 STDOUT "^echo: disabled$"
                  ARGS plugin disable echo --dir ${plugins})
plugin_state_step(plugin-list-disabled EXIT 0
                  STDOUT "\necho 1\\.2\\.0 extism disabled \\(command say\\)\n"
                  ARGS plugin list --dir ${plugins})
plugin_state_step(plugin-call-disabled EXIT 2 STDERR "^kiln: plugin echo is disabled$"
                  ARGS plugin call echo say --input hi --dir ${plugins})
plugin_state_step(plugin-enable EXIT 0 STDOUT "^echo: enabled$"
                  ARGS plugin enable echo --dir ${plugins})
plugin_state_step(plugin-call-enabled EXIT 0 STDOUT "^hi$"
                  ARGS plugin call echo say --input hi --dir ${plugins})
plugin_state_step(plugin-grant EXIT 0
                  STDOUT "^echo: granted kv:write\necho: granted network:\\*\\.example\\.com$"
                  ARGS plugin grant echo kv:write network:*.example.com --dir ${plugins})
plugin_state_step(plugin-grant-unknown EXIT 2 STDERR "^kiln: grant \"bogus\": unknown permission"
                  ARGS plugin grant echo kv:write bogus --dir ${plugins})
plugin_state_step(plugin-info-granted EXIT 0
                  STDOUT "\"granted\": \\[\n *\"network:\\*\\.example\\.com\",\n *\"kv:write\"\n *\\]"
                  ARGS plugin info echo --dir ${plugins} --json)
plugin_state_step(plugin-revoke EXIT 0 STDOUT "^echo: revoked kv:write$"
                  ARGS plugin revoke echo kv:write --dir ${plugins})
plugin_state_step(plugin-info-revoked EXIT 0
                  STDOUT "\"granted\": \\[\n *\"network:\\*\\.example\\.com\"\n *\\]"
                  ARGS plugin info echo --dir ${plugins} --json)
plugin_state_step(plugin-disable-unknown EXIT 2 STDERR "^kiln: no plugin ghost$"
                  ARGS plugin disable ghost --dir ${plugins})
plugin_state_step(plugin-audit-empty EXIT 0 STDOUT "^\\[\\]$" ARGS plugin audit echo --json)

# A state database that is no database: an error naming it, exit 1.
set(broken_home ${CMAKE_CURRENT_BINARY_DIR}/kiln-home-broken)
file(WRITE ${broken_home}/state.db "this is not an SQLite database, but it is long enough to be "
                                   "taken for one by its size: more than a hundred bytes of text")
kiln_cli_test(plugin-state-broken EXIT 1
              STDERR "^kiln: [^\n]*kiln-home-broken/state\\.db: not an SQLite database"
              ARGS plugin list --dir ${plugins})
set_tests_properties(cli.plugin-state-broken PROPERTIES ENVIRONMENT KILN_HOME=${broken_home})

foreach(name list list-json list-missing-dir call-command call-export call-failure
             call-unknown-target call-unknown-plugin validate validate-problems
             validate-foreign-warns info-json info-path)
  set_tests_properties(cli.plugin-${name} PROPERTIES
                       ENVIRONMENT KILN_HOME=${CMAKE_CURRENT_BINARY_DIR}/kiln-home)
endforeach()

# Eight `kiln plugin list` processes at once on a fresh $KILN_HOME, ten times: every one gets the
# state database (switching a new file to WAL once failed one of them with "database is locked").
add_test(NAME cli.state-race COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/state_race.sh $<TARGET_FILE:kiln>
                                     ${plugins})
set_tests_properties(cli.state-race PROPERTIES LABELS cli)
