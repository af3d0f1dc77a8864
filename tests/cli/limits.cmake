# Limit flags and manifest limits through the kiln command line (included by CMakeLists.txt).
# Every limit refuses what is not a valid value with a usage error naming the flag (exit 2):
# negative and absurd values used to switch the limit off. A timeout within the u64 range
# saturates instead of wrapping into a deadline already passed.
set(u64_max 18446744073709551615)
set(echo ${wasm}/echo_plugin.wasm)

foreach(flag timeout fuel memory-max var-max http-response-max)
  set(min 0)
  set(max ${u64_max})
  if(flag STREQUAL "timeout")
    set(min 1)
  elseif(flag STREQUAL "memory-max")
    set(max 4294967295)
  endif()
  set(n 0)
  foreach(value -1 99999999999999999999999 soon 1.5 0x10 " 5" +5)
    math(EXPR n "${n} + 1")
    string(REGEX REPLACE "([+.])" "\\\\\\1" pattern "${value}")
    kiln_cli_test(call-${flag}-refuses-${n} EXIT 2
                  STDERR "^kiln: call: --${flag}: expected a whole number from ${min} to ${max}, got \"${pattern}\" \\(see kiln call --help\\)$"
                  ARGS call ${echo} echo --${flag}=${value})
  endforeach()
endforeach()
# The form with a space, which used to take -5 as a wrapped u64.
kiln_cli_test(call-timeout-negative EXIT 2 STDERR "^kiln: call: --timeout: expected [^\n]*got \"-5\""
              ARGS call ${echo} echo --timeout -5)
kiln_cli_test(call-fuel-negative EXIT 2 STDERR "^kiln: call: --fuel: expected [^\n]*got \"-1\""
              ARGS call ${echo} echo --fuel -1)
kiln_cli_test(call-timeout-zero EXIT 2
              STDERR "^kiln: call: --timeout: expected a whole number from 1 to [0-9]+, got \"0\""
              ARGS call ${echo} echo --timeout 0)
kiln_cli_test(call-memory-max-past-u32 EXIT 2 STDERR "^kiln: call: --memory-max: [^\n]*4294967296"
              ARGS call ${echo} echo --memory-max 4294967296)
# The largest values are limits, not errors: the call runs (76480200929599801 ms wrapped to
# 64 ns, 18446744073710 ms to 448 us).
foreach(value 18446744073710 76480200929599801 ${u64_max})
  kiln_cli_test(call-timeout-saturates-${value} EXIT 0 STDOUT "^hi$"
                ARGS call ${echo} echo --input hi --timeout ${value})
endforeach()
kiln_cli_test(call-fuel-max EXIT 0 STDOUT "^hi$" ARGS call ${echo} echo --input hi --fuel ${u64_max})
kiln_cli_test(call-memory-max-raised EXIT 0 STDOUT "^hi$"
              ARGS call ${echo} echo --input hi --memory-max 4294967295)
kiln_cli_test(call-memory-max-leading-zero EXIT 0 STDOUT "^hi$"
              ARGS call ${echo} echo --input hi --memory-max 010)

foreach(flag timeout fuel max-memory)
  set(min 0)
  if(flag STREQUAL "timeout")
    set(min 1)
  endif()
  set(n 0)
  foreach(value -1 -100 99999999999999999999999 soon)
    math(EXPR n "${n} + 1")
    kiln_cli_test(run-${flag}-refuses-${n} EXIT 2
                  STDERR "^kiln: run: --${flag}: expected a whole number from ${min} to ${u64_max}, got \"${value}\" \\(see kiln run --help\\)$"
                  ARGS run --${flag} ${value} ${wasm}/run.wasm)
  endforeach()
endforeach()
kiln_cli_test(run-timeout-zero EXIT 2 STDERR "^kiln: run: --timeout: expected a whole number from 1 "
              ARGS run --timeout 0 ${wasm}/run.wasm)
foreach(value 18446744073710 76480200929599801 ${u64_max})
  kiln_cli_test(run-timeout-saturates-${value} EXIT 0 STDOUT "^-3$"
                ARGS run --timeout ${value} --invoke add ${wasm}/run.wasm -5 2)
endforeach()

# Manifest limits: a TOML date or time, a string, a negative or fractional number, or a
# timeout of 0 is an error naming the field, never "not set".
set(manifests ${CMAKE_CURRENT_BINARY_DIR}/limit-manifests)
file(MAKE_DIRECTORY ${manifests})
set(toml_wasm "[[wasm]]\npath = \"${echo}\"\n")
foreach(case "timeout_ms = 1979-05-27T07:32:00Z|timeout_ms"
             "fuel = 2020-01-01|fuel"
             "timeout_ms = 07:32:00|timeout_ms"
             "timeout_ms = 0|timeout_ms"
             "fuel = -1|fuel"
             "[memory]\nmax_pages = 1.5|memory.max_pages"
             "[memory]\nmax_var_bytes = \"5\"|memory.max_var_bytes")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 line)
  list(GET parts 1 field)
  string(MAKE_C_IDENTIFIER "${line}" id)
  set(file ${manifests}/${id}.toml)
  # Top-level keys before [[wasm]], tables after it.
  if(line MATCHES "^\\[")
    file(WRITE ${file} "${toml_wasm}${line}\n")
  else()
    file(WRITE ${file} "${line}\n${toml_wasm}")
  endif()
  kiln_cli_test(call-manifest-${id} EXIT 1
                STDERR "TOML manifest: ${field}: expected a whole number from [0-9]+ to [0-9]+, got "
                ARGS call ${file} echo)
endforeach()
file(WRITE ${manifests}/memory-time.toml "memory = 07:32:00\n${toml_wasm}")
kiln_cli_test(call-manifest-memory-time EXIT 1 STDERR "TOML manifest: memory: expected an object"
              ARGS call ${manifests}/memory-time.toml echo)
file(WRITE ${manifests}/negative.json "{\"wasm\": [{\"path\": \"${echo}\"}], \"timeout_ms\": -5}")
kiln_cli_test(call-manifest-json-negative EXIT 1
              STDERR "JSON manifest: timeout_ms: expected a whole number from 1 to [0-9]+, got -5"
              ARGS call ${manifests}/negative.json echo)

# kiln invoke says "out of range" for an i64 past 64 bits, as for an i32 past 32.
kiln_cli_test(invoke-i64-far-out-of-range EXIT 2
              STDERR "argument 1: \"99999999999999999999\" is not a valid i64: out of range for i64$"
              ARGS invoke ${wasm}/basics.wasm neg64 99999999999999999999)
kiln_cli_test(invoke-i64-negative-out-of-range EXIT 2
              STDERR "\"-99999999999999999999\" is not a valid i64: out of range for i64$"
              ARGS invoke ${wasm}/basics.wasm neg64 -- -99999999999999999999)
