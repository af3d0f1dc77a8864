# Runs one command and checks its exit code and output, for the kiln CLI tests:
#   cmake -DCOMMAND="prog|arg|..." -DEXPECT_EXIT=N [-DEXPECT_STDOUT=regex]
#         [-DEXPECT_STDERR=regex] [-DEXACT=ON] -P expect.cmake
# Arguments are separated by | because add_test would split a ;-list. Output is stripped of
# surrounding whitespace before matching, so ^...$ can anchor a one-line output; with EXACT,
# stdout is matched as it is, to check that nothing was added to it.
string(REPLACE "|" ";" command "${COMMAND}")
execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT EXACT)
  string(STRIP "${out}" out)
endif()
string(STRIP "${err}" err)

set(problems "")
if(NOT rc STREQUAL EXPECT_EXIT)
  string(APPEND problems "exit code ${rc}, expected ${EXPECT_EXIT}\n")
endif()
if(DEFINED EXPECT_STDOUT AND NOT out MATCHES "${EXPECT_STDOUT}")
  string(APPEND problems "stdout does not match: ${EXPECT_STDOUT}\n")
endif()
if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
  string(APPEND problems "stderr does not match: ${EXPECT_STDERR}\n")
endif()
if(problems)
  message(FATAL_ERROR "${problems}command: ${command}\n--- stdout:\n${out}\n--- stderr:\n${err}")
endif()
