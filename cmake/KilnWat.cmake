# kiln_add_wat(TARGET <name> OUTPUT_DIR <dir> SOURCES <file.wat>... [FLAGS <wat2wasm flag>...])
# Builds each .wat into <dir>/<stem>.wasm with wabt's wat2wasm, as part of `all`. Sets
# KILN_WAT2WASM to the tool, or leaves it false (after a warning) so callers can skip.
include_guard(GLOBAL)

find_program(KILN_WAT2WASM wat2wasm)
if(NOT KILN_WAT2WASM)
  message(WARNING "wat2wasm (wabt) was not found: .wat examples and fixtures are not built "
                  "(apt-get install wabt)")
endif()

function(kiln_add_wat)
  cmake_parse_arguments(ARG "" "TARGET;OUTPUT_DIR" "SOURCES;FLAGS" ${ARGN})
  if(NOT KILN_WAT2WASM)
    return()
  endif()
  file(MAKE_DIRECTORY ${ARG_OUTPUT_DIR})
  set(outputs)
  foreach(wat IN LISTS ARG_SOURCES)
    get_filename_component(name ${wat} NAME_WE)
    set(wasm ${ARG_OUTPUT_DIR}/${name}.wasm)
    add_custom_command(OUTPUT ${wasm}
                       COMMAND ${KILN_WAT2WASM} ${ARG_FLAGS} ${wat} -o ${wasm}
                       DEPENDS ${wat} COMMENT "wat2wasm ${name}.wat" VERBATIM)
    list(APPEND outputs ${wasm})
  endforeach()
  add_custom_target(${ARG_TARGET} ALL DEPENDS ${outputs})
endfunction()
