# Test of `kiln new`: creates a project for LANG in a fresh WORK folder, builds it with the
# command its README gives, and calls it as the README says: the output must be exactly
# "Hello, World!".
#   cmake -DKILN=path -DLANG=c|cpp|rust|assemblyscript -DWORK=dir [-DASC_MODULES=dir]
#         [-DTEMPLATE=actor] -P new_project.cmake
# With TEMPLATE=actor, the project's graph runs instead, and greets World on its outport.
# For AssemblyScript, `npm install` would need the network, which a test must not: the project
# gets the kit's node_modules (ASC_MODULES, from `npm install` in pdk/assemblyscript) as a link
# instead, so that `npm run build` runs offline.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

# run(WHAT DIR command...): runs the command in DIR; fails the test, with its output, unless it
# exits 0. Sets `out` to its stdout.
function(run what dir)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${dir} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  if(NOT rc EQUAL 0)
    string(JOIN " " command ${ARGN})
    message(FATAL_ERROR "${what} failed (${rc}): ${command}\n--- stdout:\n${stdout}\n"
                        "--- stderr:\n${stderr}")
  endif()
  set(out "${stdout}" PARENT_SCOPE)
endfunction()

# build(DIR): builds the project in DIR with the command its README gives.
function(build project)
  if(LANG STREQUAL "assemblyscript")
    file(CREATE_LINK ${ASC_MODULES} ${project}/node_modules SYMBOLIC)
    run("npm run build" ${project} ${CMAKE_COMMAND} -E env npm_config_update_notifier=false
        npm run build)
  else()
    run("make" ${project} make)
  endif()
endfunction()

if(TEMPLATE STREQUAL "actor")
  run("kiln new" ${WORK} ${KILN} new --template actor --lang ${LANG} hello)
  build(${WORK}/hello)
  run("kiln graph run" ${WORK}/hello ${KILN} graph run hello.graph.json)
  set(want "{\"port\":\"greeting\",\"type\":\"String\",\"data\":\"Hello, World!\"}\n")
  if(NOT out STREQUAL want)
    message(FATAL_ERROR "kiln graph run hello.graph.json printed \"${out}\", expected "
                        "exactly \"${want}\"")
  endif()
  return()
endif()
run("kiln new" ${WORK} ${KILN} new --lang ${LANG} hello)
set(project ${WORK}/hello)
build(${project})
run("kiln call" ${project} ${KILN} call hello.json greet --input World)
# kiln call writes the output as the plugin set it, adding nothing.
if(NOT out STREQUAL "Hello, World!")
  message(FATAL_ERROR "kiln call hello.json greet --input World printed \"${out}\", expected "
                      "exactly \"Hello, World!\"")
endif()
