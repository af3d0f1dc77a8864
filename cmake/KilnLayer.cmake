# kiln_add_layer(<name> [FOLDERS <folder>...] [DEPS <layer>...] [LIBS <lib>...]
#                [PRIVATE_LIBS <lib>...] [HEADER_LIBS <target>...] [SYSTEM_INCLUDES <dir>...]
#                SOURCES <file>...)
# One layer of the dependency rule (docs/embedding.md, "Components"): the static library
# kiln-<name> (libkiln-<name>.a, kiln::<name>, installed as the package component <name>) and
# kiln-<name>-internal, which adds src/ to the include path for the tool and the tests. The
# sources compile once, into kiln-<name>.
#   FOLDERS          folders under src/ whose sources the layer owns (default: <name>)
#   SOURCES          its .cpp files, relative to src/; each must lie in one of FOLDERS
#   DEPS             the layers it builds on, which it links publicly
#   LIBS             libraries its public headers need (linked publicly)
#   PRIVATE_LIBS     libraries linked by it alone (an embedder links them too, as the library is
#                    static, but never sees their headers)
#   HEADER_LIBS      header-only libraries used at build time only: never part of the package
#   SYSTEM_INCLUDES  include folders of other header-only code used at build time only
include_guard(GLOBAL)

function(kiln_add_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" ""
                        "FOLDERS;SOURCES;DEPS;LIBS;PRIVATE_LIBS;HEADER_LIBS;SYSTEM_INCLUDES")
  if(NOT ARG_FOLDERS)
    set(ARG_FOLDERS ${name})
  endif()
  set(src ${PROJECT_SOURCE_DIR}/src)
  set(sources)
  foreach(file IN LISTS ARG_SOURCES)
    string(REGEX MATCH "^[^/]+" folder "${file}")
    if(NOT folder IN_LIST ARG_FOLDERS)
      message(FATAL_ERROR "layer ${name}: src/${file} is outside its folders (${ARG_FOLDERS})")
    endif()
    list(APPEND sources ${src}/${file})
  endforeach()

  set(target kiln-${name})
  add_library(${target} STATIC ${sources})
  add_library(kiln::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                             $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> PRIVATE ${src})
  target_include_directories(${target} SYSTEM PRIVATE ${ARG_SYSTEM_INCLUDES})
  target_compile_features(${target} PUBLIC cxx_std_20)
  list(TRANSFORM ARG_DEPS PREPEND kiln- OUTPUT_VARIABLE dep_targets)
  set(header_libs)
  foreach(lib IN LISTS ARG_HEADER_LIBS)
    list(APPEND header_libs $<BUILD_INTERFACE:${lib}>)
  endforeach()
  target_link_libraries(${target} PUBLIC ${dep_targets} ${ARG_LIBS}
                        PRIVATE ${ARG_PRIVATE_LIBS} ${header_libs})
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME ${name})

  # What the layer's own sources see: src/, and the header-only code its private headers use.
  add_library(${target}-internal INTERFACE)
  list(TRANSFORM dep_targets APPEND -internal)
  target_include_directories(${target}-internal INTERFACE ${src})
  target_include_directories(${target}-internal SYSTEM INTERFACE ${ARG_SYSTEM_INCLUDES})
  target_link_libraries(${target}-internal INTERFACE ${target} ${dep_targets} ${ARG_HEADER_LIBS})

  # Each layer is a component of the package, in its own export set, so that
  # find_package(kiln COMPONENTS engine) loads nothing of the layers above.
  install(TARGETS ${target} EXPORT kiln-${name}-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT kiln-${name}-targets NAMESPACE kiln:: DESTINATION ${KILN_CMAKE_DIR})
  set_property(GLOBAL APPEND PROPERTY KILN_LAYERS ${name})
  set_property(GLOBAL PROPERTY KILN_LAYER_DEPS_${name} ${ARG_DEPS})
  set_property(GLOBAL APPEND PROPERTY KILN_LAYER_SOURCES ${ARG_SOURCES})
endfunction()
