# Writes OUTPUT, the C++ source holding every file `kiln new` writes: the templates in TEMPLATES
# (TEMPLATES/LANG/PATH for one language, TEMPLATES/all/PATH for every one) and the guest kits
# from PDK, each copied into the projects of the languages that use it. The build runs this
# whenever one of them changes, so kiln always carries the kits it was built with and a
# generated project cannot drift from pdk/.
#   cmake -DTEMPLATES=dir -DPDK=dir -DOUTPUT=file -P embed_new_files.cmake
# Template paths are written as they are except that a file named `gitignore` becomes
# `.gitignore` (a real one would apply to Kiln's own tree) and NAME becomes {{name}}, which kiln
# new replaces with the project's name.
cmake_minimum_required(VERSION 3.25)

# A language's files come from TEMPLATES/LANG and TEMPLATES/all; an actor project's (LANG
# actor-c, ...) from TEMPLATES/actor-LANG and TEMPLATES/actor-all.
set(languages c cpp rust assemblyscript actor-c actor-cpp actor-rust actor-assemblyscript)
# LANG|path in the project|file under PDK
set(kits
    "c|include/kiln/pdk.h|c/include/kiln/pdk.h"
    "cpp|include/kiln/pdk.h|c/include/kiln/pdk.h"
    "rust|kiln_pdk.rs|rust/kiln_pdk.rs"
    "assemblyscript|assembly/kiln_pdk.ts|assemblyscript/assembly/index.ts"
    "actor-c|include/kiln/pdk.h|c/include/kiln/pdk.h"
    "actor-c|include/kiln/actor.h|c/include/kiln/actor.h"
    "actor-cpp|include/kiln/pdk.h|c/include/kiln/pdk.h"
    "actor-cpp|include/kiln/actor.h|c/include/kiln/actor.h"
    "actor-rust|kiln_pdk.rs|rust/kiln_pdk.rs"
    "actor-rust|kiln_actor.rs|rust/kiln_actor.rs"
    # The actor kit imports the plugin kit as ./index, so both keep their names in a folder.
    "actor-assemblyscript|assembly/kiln_pdk/index.ts|assemblyscript/assembly/index.ts"
    "actor-assemblyscript|assembly/kiln_pdk/actor.ts|assemblyscript/assembly/actor.ts")

set(delimiter kiln_file)
set(entries "")

# Appends one table entry; the content goes in a raw string literal.
function(add_entry lang path file is_template)
  file(READ ${file} content)
  string(FIND "${content}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} contains )${delimiter}\", which ends the raw string")
  endif()
  string(APPEND entries "    {\"${lang}\", \"${path}\", ${is_template},\n"
                        "     R\"${delimiter}(${content})${delimiter}\"},\n")
  set(entries "${entries}" PARENT_SCOPE)
endfunction()

foreach(lang IN LISTS languages)
  set(common all)
  if(lang MATCHES "^actor-")
    set(common actor-all)
  endif()
  foreach(dir ${lang} ${common})
    file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE ${TEMPLATES}/${dir}
         ${TEMPLATES}/${dir}/*)
    list(SORT files)
    foreach(path IN LISTS files)
      set(dest ${path})
      string(REGEX REPLACE "(^|/)gitignore$" "\\1.gitignore" dest "${dest}")
      string(REPLACE "NAME" "{{name}}" dest "${dest}")
      add_entry(${lang} "${dest}" ${TEMPLATES}/${dir}/${path} true)
    endforeach()
  endforeach()
  foreach(kit IN LISTS kits)
    string(REPLACE "|" ";" kit "${kit}")
    list(GET kit 0 kit_lang)
    if(kit_lang STREQUAL lang)
      list(GET kit 1 dest)
      list(GET kit 2 source)
      add_entry(${lang} "${dest}" ${PDK}/${source} false)
    endif()
  endforeach()
endforeach()

set(text "// Generated at build time by tools/kiln/embed_new_files.cmake from\n")
string(APPEND text "// tools/kiln/templates/ and pdk/: edit those, not this.\n"
                   "#include \"new_files.hpp\"\n\n"
                   "#include <iterator>\n\n"
                   "namespace kiln::tool {\n\n"
                   "namespace {\n\n"
                   "const NewFile files[] = {\n${entries}};\n\n"
                   "} // namespace\n\n"
                   "std::span<const NewFile> new_files() {\n"
                   "    return {files, std::size(files)};\n"
                   "}\n\n"
                   "} // namespace kiln::tool\n")
# Rewritten only when it changed, so that touching a template without changing it, or a rerun,
# does not recompile.
file(WRITE ${OUTPUT}.tmp "${text}")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
