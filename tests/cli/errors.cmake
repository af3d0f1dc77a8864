# One wording and one exit code per kind of failure, whatever the command (docs/cli.md, "Exit
# codes and messages"). Included by CMakeLists.txt, whose kiln_cli_test, ${src} and ${wasm} it
# uses. Each test is named after what once went wrong.

set(inputs ${CMAKE_CURRENT_BINARY_DIR}/error-inputs)
file(MAKE_DIRECTORY ${inputs}/a-directory)
file(WRITE ${inputs}/empty "")
file(WRITE ${inputs}/wasm-path-directory.json "{\"wasm\": [{\"path\": \"a-directory\"}]}\n")
file(WRITE ${inputs}/wasm-path-dev-zero.json "{\"wasm\": [{\"path\": \"/dev/zero\"}]}\n")
# The colon after "path" is missing: the parser stops at the end of the string that follows,
# line 3, column 20.
file(WRITE ${inputs}/syntax-error.json "{\n  \"wasm\": [\n    {\"path\" \"x.wasm\"}\n  ]\n}\n")
find_program(KILN_MKFIFO mkfifo)
if(KILN_MKFIFO AND NOT EXISTS ${inputs}/fifo)
  execute_process(COMMAND ${KILN_MKFIFO} ${inputs}/fifo)
endif()

# --- Files that are no regular file: an io error naming the file, exit 1, never an abort or a
# read without end.
kiln_cli_test(run-directory-is-an-io-error EXIT 1
              STDERR "^kiln: [^\n]*/a-directory: is a directory$" ARGS run ${inputs}/a-directory)
kiln_cli_test(call-directory-is-an-io-error EXIT 1
              STDERR "^kiln: [^\n]*/a-directory: is a directory$"
              ARGS call ${inputs}/a-directory f)
kiln_cli_test(validate-dev-zero-is-refused EXIT 1
              STDERR "^kiln: /dev/zero: not a regular file \\(a character device\\)$"
              ARGS validate /dev/zero)
kiln_cli_test(call-dev-zero-is-refused EXIT 1
              STDERR "^kiln: /dev/zero: not a regular file \\(a character device\\)$"
              ARGS call /dev/zero f)
if(EXISTS ${inputs}/fifo)
  kiln_cli_test(inspect-fifo-is-refused-without-waiting EXIT 1
                STDERR "^kiln: [^\n]*/fifo: not a regular file \\(a named pipe\\)$"
                ARGS inspect ${inputs}/fifo)
  set_tests_properties(cli.inspect-fifo-is-refused-without-waiting PROPERTIES TIMEOUT 20)
endif()
kiln_cli_test(manifest-wasm-path-directory-is-an-io-error EXIT 1
              STDERR "^kiln: [^\n]*/a-directory: is a directory$"
              ARGS call ${inputs}/wasm-path-directory.json f)
kiln_cli_test(manifest-wasm-path-dev-zero-is-refused EXIT 1
              STDERR "^kiln: /dev/zero: not a regular file \\(a character device\\)$"
              ARGS call ${inputs}/wasm-path-dev-zero.json f)

# --- A missing file: exit 1 and the same words from every command (call and run exited 2).
foreach(command validate inspect run)
  kiln_cli_test(${command}-missing-file-exits-1 EXIT 1
                STDERR "^kiln: missing\\.wasm: no such file or directory$"
                ARGS ${command} missing.wasm)
endforeach()
foreach(command invoke call)
  kiln_cli_test(${command}-missing-file-exits-1 EXIT 1
                STDERR "^kiln: missing\\.wasm: no such file or directory$"
                ARGS ${command} missing.wasm f)
endforeach()
kiln_cli_test(wast-missing-file-exits-1 EXIT 1
              STDERR "^kiln: missing\\.wast: no such file or directory$"
              STDOUT "0 passed, 1 failed, 0 skipped$" ARGS wast missing.wast)

# --- What kiln call was given when it is neither a module nor a manifest (it said "JSON
# manifest: not valid JSON"), and where a JSON manifest breaks.
kiln_cli_test(call-text-file-says-how-it-starts EXIT 1
              STDERR "^kiln: [^\n]*not_wasm\\.txt: not a WebAssembly module or manifest: starts with \"this is \"\\.\\.\\.$"
              ARGS call ${src}/not_wasm.txt f)
kiln_cli_test(call-empty-file-says-empty EXIT 1
              STDERR "^kiln: [^\n]*/empty: empty file, not a WebAssembly module or manifest$"
              ARGS call ${inputs}/empty f)
kiln_cli_test(call-json-syntax-error-names-line-and-column EXIT 1
              STDERR "^kiln: [^\n]*syntax-error\\.json: JSON manifest: line 3, column 20: syntax error"
              ARGS call ${inputs}/syntax-error.json f)

if(NOT KILN_WAT2WASM)
  return()
endif()

# --- A number too large for its type is out of range for i64 as for i32 (i64 said "not an
# integer").
kiln_cli_test(invoke-i64-out-of-range EXIT 2
              STDERR "argument 1: \"18446744073709551616\" is not a valid i64: out of range for i64$"
              ARGS invoke ${wasm}/basics.wasm neg64 18446744073709551616)

# --- A trap: "kiln: trap: FUNC: MESSAGE" and the frames, from invoke, call and run alike; exit 1,
# but 134 under run (invoke said "trap: unreachable", call "trap: boom: unreachable").
set(boom_stderr "^kiln: trap: boom: unreachable\n  at \\$?inner\n  at boom$")
kiln_cli_test(invoke-trap-wording EXIT 1 STDERR "${boom_stderr}"
              ARGS invoke ${wasm}/failures.wasm boom)
kiln_cli_test(call-trap-wording EXIT 1 STDERR "${boom_stderr}"
              ARGS call ${wasm}/failures.wasm boom)
kiln_cli_test(run-trap-wording EXIT 134 STDERR "${boom_stderr}"
              ARGS run --invoke boom ${wasm}/failures.wasm)

# --- A limit stops the call: the same words from call and run, and exit 1 from both (run said
# "trap: deadline exceeded" and "all fuel consumed", exit 134).
kiln_cli_test(call-timeout-wording EXIT 1 STDERR "^kiln: spin: timeout after 50 ms\n  at spin$"
              ARGS call ${wasm}/failures.wasm spin --timeout 50)
kiln_cli_test(run-timeout-is-a-limit-not-a-trap EXIT 1
              STDERR "^kiln: spin: timeout after 50 ms\n  at spin$"
              ARGS run --timeout 50 --invoke spin ${wasm}/failures.wasm)
kiln_cli_test(call-fuel-wording EXIT 1 STDERR "^kiln: spin: fuel exhausted\n  at spin$"
              ARGS call ${wasm}/failures.wasm spin --fuel 1000)
kiln_cli_test(run-fuel-is-a-limit-not-a-trap EXIT 1 STDERR "^kiln: spin: fuel exhausted\n  at spin$"
              ARGS run --fuel 1000 --invoke spin ${wasm}/failures.wasm)
