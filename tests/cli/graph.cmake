# kiln graph run|validate|inspect on the actor examples of examples/plugins/actors (built with
# the actor kits) and the probe fixture of tests/actors. --threads 1 makes the order of the
# output lines fixed (one worker takes ready nodes in turn). Included by CMakeLists.txt.
set(actors ${PROJECT_BINARY_DIR}/examples/plugins/actors)
set(probe ${PROJECT_BINARY_DIR}/tests/actors/fixtures/probe.wasm)
set(graphs ${CMAKE_CURRENT_BINARY_DIR}/graphs)

if(NOT TARGET kiln-example-plugins)
  return()
endif()

# Components found by name in the plugin folders; a node id with a dot in it; a feedback loop
# that never goes idle; a node that fails; a graph with problems.
file(WRITE ${graphs}/plugins.graph.json [[
{"properties": {"name": "plugins"},
 "processes": {"counter": {"component": "counter"}, "sum": {"component": "accumulator"}},
 "connections": [
   {"data": "increment", "to": {"nodeId": "counter", "portId": "operation"}},
   {"from": {"nodeId": "counter", "portId": "value"}, "to": {"nodeId": "sum", "portId": "input"}}],
 "outports": {"total": {"nodeId": "sum", "portId": "sum"}}}
]])
file(WRITE ${graphs}/dotted.graph.json
     "{\"processes\": {\"counter.main\": {\"component\": \"Counter\", \"metadata\": {\"source\": "
     "\"${actors}/counter.wasm\"}}},\n"
     " \"inports\": {\"op\": {\"nodeId\": \"counter.main\", \"portId\": \"operation\"}},\n"
     " \"outports\": {\"count\": {\"nodeId\": \"counter.main\", \"portId\": \"value\"}}}\n")
file(WRITE ${graphs}/loop.graph.json
     "{\"processes\": {\"sum\": {\"component\": \"Accumulator\", \"metadata\": {\"source\": "
     "\"${actors}/accumulator.wasm\"}}},\n"
     " \"connections\": [{\"data\": 1, \"to\": {\"nodeId\": \"sum\", \"portId\": \"input\"}},\n"
     "   {\"from\": {\"nodeId\": \"sum\", \"portId\": \"running\"}, \"to\": {\"nodeId\": \"sum\", "
     "\"portId\": \"input\"}}]}\n")
file(WRITE ${graphs}/fail.graph.json
     "{\"processes\": {\"p\": {\"component\": \"Probe\", \"metadata\": {\"source\": "
     "\"${probe}\"}}},\n"
     " \"connections\": [{\"data\": {\"fail\": \"boom\"}, \"to\": {\"nodeId\": \"p\", \"portId\": "
     "\"cmd\"}},\n"
     "   {\"data\": {\"outputs\": {\"out\": {\"type\": \"String\", \"data\": \"after\"}}}, \"to\": "
     "{\"nodeId\": \"p\", \"portId\": \"cmd\"}}],\n"
     " \"outports\": {\"out\": {\"nodeId\": \"p\", \"portId\": \"out\"}, \"errors\": {\"nodeId\": "
     "\"p\", \"portId\": \"error\"}}}\n")
file(WRITE ${graphs}/bad.graph.json
     "{\"processes\": {\"c\": {\"component\": \"Counter\", \"metadata\": {\"source\": "
     "\"${actors}/counter.wasm\"}}, \"x\": {\"component\": \"Nowhere\"}},\n"
     " \"connections\": [{\"data\": 5, \"to\": {\"nodeId\": \"c\", \"portId\": \"operation\"}},\n"
     "   {\"from\": {\"nodeId\": \"c\", \"portId\": \"value\"}, \"to\": {\"nodeId\": \"c\", "
     "\"portId\": \"operation\"}}]}\n")

string(CONCAT counter_lines
       "^{\"port\":\"count\",\"type\":\"Integer\",\"data\":1}\n"
       "{\"port\":\"running\",\"type\":\"Integer\",\"data\":1}\n"
       "{\"port\":\"total\",\"type\":\"Integer\",\"data\":1}\n"
       "{\"port\":\"count\",\"type\":\"Integer\",\"data\":2}\n"
       "{\"port\":\"running\",\"type\":\"Integer\",\"data\":3}\n"
       "{\"port\":\"total\",\"type\":\"Integer\",\"data\":3}\n"
       "{\"port\":\"count\",\"type\":\"Integer\",\"data\":1}\n"
       "{\"port\":\"running\",\"type\":\"Integer\",\"data\":4}\n"
       "{\"port\":\"total\",\"type\":\"Integer\",\"data\":4}")
kiln_cli_test(graph-run-c EXIT 0 STDOUT "${counter_lines}$"
              ARGS graph run ${actors}/counter.graph.json --threads 1)
kiln_cli_test(graph-run-rust EXIT 0 STDOUT "${counter_lines}$"
              ARGS graph run ${actors}/counter_rust.graph.json --threads 1)
get_property(toolchains GLOBAL PROPERTY KILN_PLUGIN_TOOLCHAINS)
if("AS" IN_LIST toolchains)
  kiln_cli_test(graph-run-assemblyscript EXIT 0 STDOUT "${counter_lines}$"
                ARGS graph run ${actors}/counter_as.graph.json --threads 1)
endif()
# --input after the initial packets: the reset counts 0, the sum stays 4.
kiln_cli_test(graph-run-input EXIT 0
              STDOUT "${counter_lines}\n{\"port\":\"count\",\"type\":\"Integer\",\"data\":0}\n{\"port\":\"running\",\"type\":\"Integer\",\"data\":4}\n{\"port\":\"total\",\"type\":\"Integer\",\"data\":4}$"
              ARGS graph run ${actors}/counter.graph.json --threads 1
                   --input counter.operation="reset")
# The input splits at the first '=' and NODE from PORT at the last '.' before it.
kiln_cli_test(graph-run-input-split EXIT 0
              STDOUT "^{\"port\":\"count\",\"type\":\"Integer\",\"data\":1}\n{\"port\":\"count\",\"type\":\"Integer\",\"data\":0}$"
              ARGS graph run ${graphs}/dotted.graph.json --threads 1
                   --input counter.main.operation="a=b.c" --input counter.main.operation="reset")
kiln_cli_test(graph-run-input-no-port EXIT 2
              STDERR "^kiln: --input counter=1: expected NODE\\.PORT=JSON$"
              ARGS graph run ${actors}/counter.graph.json --input counter=1)
kiln_cli_test(graph-run-input-not-json EXIT 2
              STDERR "^kiln: --input counter\\.operation=reset: message: not valid JSON: reset$"
              ARGS graph run ${actors}/counter.graph.json --input counter.operation=reset)
kiln_cli_test(graph-run-input-unknown-node EXIT 2 STDOUT "^$"
              STDERR "kiln: --input ghost\\.in: no node ghost$"
              ARGS graph run ${actors}/counter.graph.json --input ghost.in=1)
kiln_cli_test(graph-run-plugin-dir EXIT 0 STDOUT "^{\"port\":\"total\",\"type\":\"Integer\",\"data\":1}$"
              ARGS graph run ${graphs}/plugins.graph.json --plugin-dir ${actors})
kiln_cli_test(graph-run-dir-alias EXIT 0 STDOUT "^{\"port\":\"total\",\"type\":\"Integer\",\"data\":1}$"
              ARGS graph run ${graphs}/plugins.graph.json --dir ${actors})
kiln_cli_test(graph-run-no-plugin EXIT 1
              STDERR "^kiln: graph plugins: node counter: unknown component counter \\(no metadata\\.source, no native component and no plugin of that name\\); node sum: unknown component accumulator"
              ARGS graph run ${graphs}/plugins.graph.json --dir ${graphs})
# The call in flight when the timeout stops the graph may log its cancellation.
kiln_cli_test(graph-run-timeout EXIT 1
              STDERR "^kiln: warning: cycle: sum -> sum\n(kiln: warn: node sum: process failed: process: cancelled\n)?kiln: graph run: timeout after 300 ms$"
              ARGS graph run ${graphs}/loop.graph.json --timeout 300)
# A failure goes to the error port and the log, and the node goes on; --fail-fast stops.
kiln_cli_test(graph-run-failure-logged EXIT 0
              STDOUT "^{\"port\":\"errors\",\"type\":\"Error\",\"data\":\"[^\n]*boom[^\n]*\"}\n{\"port\":\"out\",\"type\":\"String\",\"data\":\"after\"}$"
              STDERR "^kiln: warn: node p: process failed: [^\n]*boom"
              ARGS graph run ${graphs}/fail.graph.json)
kiln_cli_test(graph-run-fail-fast EXIT 1 STDERR "\nkiln: node p: [^\n]*boom[^\n]*$"
              ARGS graph run ${graphs}/fail.graph.json --fail-fast)
kiln_cli_test(graph-run-missing-file EXIT 1 STDERR "^kiln: [^\n]*nope\\.graph\\.json"
              ARGS graph run ${graphs}/nope.graph.json)
kiln_cli_test(graph-validate EXIT 0 STDOUT "^valid$" ARGS graph validate ${actors}/counter.graph.json)
kiln_cli_test(graph-validate-cycle EXIT 0 STDOUT "^warning: cycle: sum -> sum\nvalid$"
              ARGS graph validate ${graphs}/loop.graph.json)
string(CONCAT bad_problems
       "^error: node x: unknown component Nowhere [^\n]*\n"
       "error: initial packet -> c\\.operation: type mismatch: Integer data to a String in-port\n"
       "error: connection c\\.value -> c\\.operation: type mismatch: a Integer out-port to a String in-port\n"
       "warning: cycle: c -> c$")
kiln_cli_test(graph-validate-problems EXIT 1 STDOUT "${bad_problems}"
              ARGS graph validate ${graphs}/bad.graph.json)
string(CONCAT inspect_output
       "^graph counter\n"
       "node counter: Counter \\([^\n]*/counter\\.wasm, current ABI\\)\n"
       "  in  operation: String, required\n"
       "  out value: Integer\n"
       "node sum: Accumulator \\([^\n]*/accumulator\\.wasm, current ABI\\)\n"
       ".*initial \"increment\" -> counter\\.operation\n"
       ".*connection counter\\.value -> sum\\.input\n"
       "outport count <- counter\\.value\n.*"
       "group all: counter, sum$")
kiln_cli_test(graph-inspect EXIT 0 STDOUT "${inspect_output}"
              ARGS graph inspect ${actors}/counter.graph.json)
kiln_cli_test(graph-inspect-json EXIT 0
              STDOUT "\"id\": \"counter\",\n *\"component\": \"Counter\",.*\"abi\": \"current\",\n *\"inports\": .\n *{\n *\"name\": \"operation\",.*\"connections\": .\n *{\n *\"data\": \"increment\",\n *\"to\": \"counter\\.operation\""
              ARGS graph inspect ${actors}/counter.graph.json --json)
# Reflow actors are plugins of the manager too: listed and callable outside a graph.
kiln_cli_test(graph-plugin-list EXIT 0 STDOUT "\ncounter 0\\.0\\.0 reflow available\n"
              ARGS plugin list --dir ${actors})
kiln_cli_test(graph-plugin-call-metadata EXIT 0 STDOUT "^{\"component\":\"Counter\","
              ARGS plugin call counter get_metadata --dir ${actors})
