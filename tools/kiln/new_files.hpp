// The files `kiln new` writes, compiled in at build time from tools/kiln/templates/ and the guest
// kits in pdk/ (embed_new_files.cmake generates the definition).
#pragma once

#include <span>
#include <string_view>

namespace kiln::tool {

struct NewFile {
    std::string_view lang; ///< c, cpp, rust, assemblyscript; actor-LANG for actor projects
    std::string_view path; ///< relative to the project folder, with {{name}} to replace
    bool is_template;      ///< {{name}} and {{package}} in the content are replaced; kits are not
    std::string_view content; ///< the bytes to write
};

/// Every file of every language, the templates first and then the kit of each language.
std::span<const NewFile> new_files();

} // namespace kiln::tool
