# Writes what kiln generates from its own command definitions, for installing: the manual page
# (kiln man) and the completion scripts for bash, zsh and fish (kiln completions SHELL).
#   cmake -DKILN=path/to/kiln -DOUTPUT_DIR=dir -P write_generated.cmake
cmake_minimum_required(VERSION 3.25)

# Each file under the name its shell's completion directory expects.
set(outputs "man|kiln.1" "completions bash|completions/kiln" "completions zsh|completions/_kiln"
            "completions fish|completions/kiln.fish")
file(MAKE_DIRECTORY ${OUTPUT_DIR}/completions)
foreach(entry IN LISTS outputs)
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 arguments)
  list(GET entry 1 file)
  separate_arguments(arguments UNIX_COMMAND "${arguments}")
  execute_process(COMMAND ${KILN} ${arguments} OUTPUT_FILE ${OUTPUT_DIR}/${file}.tmp
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "kiln ${arguments} failed (${rc}): ${err}")
  endif()
  file(COPY_FILE ${OUTPUT_DIR}/${file}.tmp ${OUTPUT_DIR}/${file} ONLY_IF_DIFFERENT)
  file(REMOVE ${OUTPUT_DIR}/${file}.tmp)
endforeach()
