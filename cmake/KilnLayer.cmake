# kiln_add_layer(<name> [FOLDERS <folder>...] [DEPS <layer>...] [LIBS <lib>...]
#                [PRIVATE_LIBS <lib>...] [HEADER_LIBS <target>...] [SYSTEM_INCLUDES <dir>...]
#                [PKG_REQUIRES <module>...] [PKG_LIBS <flag>...] DESCRIPTION <text>
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
#   PKG_REQUIRES     pkg-config modules of the libraries it links, for kiln-<name>.pc
#   PKG_LIBS         link flags of the libraries it links that have no pkg-config module
#   DESCRIPTION      what the layer is, for kiln-<name>.pc
include_guard(GLOBAL)

function(kiln_add_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "DESCRIPTION"
                        "FOLDERS;SOURCES;DEPS;LIBS;PRIVATE_LIBS;HEADER_LIBS;SYSTEM_INCLUDES;PKG_REQUIRES;PKG_LIBS")
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
  # CMake strips no static library; a stripped install takes the debug information off the
  # archive (its symbol table stays: it still links).
  set(archive "${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:${target}>")
  install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
                          \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${archive}\"
                  COMMAND_ERROR_IS_FATAL ANY)
endif()")
  # The same component for builds without CMake: kiln-<name>.pc, which requires the .pc files
  # of the layers below.
  list(TRANSFORM ARG_DEPS PREPEND kiln- OUTPUT_VARIABLE requires)
  list(APPEND requires ${ARG_PKG_REQUIRES})
  set(libs -l${target} ${ARG_PKG_LIBS})
  kiln_pkg_config(kiln-${name} "${ARG_DESCRIPTION}" "${requires}" "${libs}")
  set_property(GLOBAL APPEND PROPERTY KILN_LAYERS ${name})
  set_property(GLOBAL PROPERTY KILN_LAYER_DEPS_${name} ${ARG_DEPS})
  set_property(GLOBAL APPEND PROPERTY KILN_LAYER_SOURCES ${ARG_SOURCES})
endfunction()

# kiln_pkg_config(<name> <description> <requires> <libs>): writes and installs <name>.pc, which
# finds the prefix from its own folder (${pcfiledir}), so a moved prefix still works. The
# libraries are static, so whatever they link is in Requires and Libs, not in the .private
# fields that only `pkg-config --static` reads.
function(kiln_pkg_config name description requires libs)
  set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  file(RELATIVE_PATH KILN_PC_PREFIX /prefix/${pc_dir} /prefix)
  string(REGEX REPLACE "/$" "" KILN_PC_PREFIX "${KILN_PC_PREFIX}")
  set(KILN_PC_NAME ${name})
  set(KILN_PC_DESCRIPTION "${description}")
  string(JOIN " " KILN_PC_REQUIRES ${requires})
  string(JOIN " " KILN_PC_LIBS ${libs})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/kiln.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc
                 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc DESTINATION ${pc_dir})
endfunction()
