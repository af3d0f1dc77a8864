# Test of `kiln new`'s language names and git repository: names in any case, the sentence that
# names the language with its article, and a git repository unless --no-git.
#   cmake -DKILN=path -DWORK=dir -P new_names.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
find_program(GIT git)

# new(LANG_ARGUMENTS... EXPECT regex): runs kiln new in WORK and checks its first line.
function(new expect)
  execute_process(COMMAND ${KILN} new ${ARGN} WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX REPLACE "\n.*" "" first "${out}")
  if(NOT rc EQUAL 0 OR NOT first MATCHES "${expect}")
    message(FATAL_ERROR "kiln new ${ARGN}: exit ${rc}, first line \"${first}\", expected "
                        "\"${expect}\"\n--- stderr:\n${err}")
  endif()
endfunction()

if(GIT)
  set(in_git " in a new git repository")
else()
  set(in_git "")
endif()
new("^created an AssemblyScript plugin project${in_git}:$" --lang AssemblyScript as)
new("^created a C\\+\\+ plugin project${in_git}:$" --lang C++ cxx)
new("^created a Rust plugin project:$" --lang RUST --no-git rs)
if(GIT AND NOT IS_DIRECTORY ${WORK}/as/.git)
  message(FATAL_ERROR "kiln new did not make ${WORK}/as a git repository")
endif()
if(EXISTS ${WORK}/rs/.git)
  message(FATAL_ERROR "kiln new --no-git made ${WORK}/rs a git repository")
endif()
if(GIT)
  # The new repository sees the project's files, ready for a first commit.
  execute_process(COMMAND ${GIT} -C ${WORK}/as status --porcelain --untracked-files=all
                  OUTPUT_VARIABLE status RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT status MATCHES "assembly/index.ts")
    message(FATAL_ERROR "git status in the new project (${rc}):\n${status}")
  endif()
endif()
