// kiln new --lang c|cpp|rust|assemblyscript NAME: writes a plugin project into the new folder
// NAME: a `greet` function, a copy of the guest kit, a build script, a manifest NAME.json and a
// README, ready for `make` (`npm install && npm run build` for AssemblyScript) and then
// `kiln call NAME.json greet --input World`, in a new git repository unless --no-git. With
// --template actor: a Reflow actor, the actor kit and NAME.graph.json, for
// `kiln graph run NAME.graph.json`. The files come from new_files.hpp.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "new_files.hpp"
#include "process.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

namespace kiln::tool {

namespace {

namespace fs = std::filesystem;

struct NewOptions {
    std::string lang, dir;
    std::string template_name = "plugin";
    bool no_git = false;
};

struct Language {
    std::string_view name;
    std::string_view alias;
    std::string_view title;   ///< as the language is written in prose
    std::string_view article; ///< "a" or "an", before the title
    std::string_view build;   ///< the command that builds a generated project
};

const Language languages[] = {
    {"c", "c", "C", "a", "make"},
    {"cpp", "c++", "C++", "a", "make"},
    {"rust", "rs", "Rust", "a", "make"},
    {"assemblyscript", "as", "AssemblyScript", "an", "npm install && npm run build"},
};

// Names are compared ignoring case: C, Rust and AssemblyScript are how people write them.
const Language* find_language(std::string_view name) {
    std::string lower(name);
    for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Language& l : languages)
        if (lower == l.name || lower == l.alias) return &l;
    return nullptr;
}

// The name ends up in file names, a Makefile target, a JSON string and an npm package name, so
// it is kept to characters that need quoting in none of them.
bool valid_name(std::string_view name) {
    auto ok = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    };
    return !name.empty() && name.size() <= 100 &&
           std::isalnum(static_cast<unsigned char>(name[0])) &&
           std::all_of(name.begin(), name.end(), ok);
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(text.size());
    for (size_t at = 0;;) {
        size_t hit = text.find(from, at);
        if (hit == std::string_view::npos) {
            out.append(text.substr(at));
            return out;
        }
        out.append(text.substr(at, hit - at)).append(to);
        at = hit + from.size();
    }
}

// Writes every file of the language's project (`files_of`: the language, or actor-LANG) into
// `dir`, which exists and is empty; the error names the file that could not be written.
std::optional<std::string> write_files(const fs::path& dir, std::string_view files_of,
                                       std::string_view name, std::vector<std::string>& written) {
    // npm package names are lowercase.
    std::string package(name);
    for (char& c : package)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const NewFile& f : new_files()) {
        if (f.lang != files_of) continue;
        std::string rel = replace_all(f.path, "{{name}}", name);
        std::string content(f.content);
        if (f.is_template)
            content = replace_all(replace_all(content, "{{name}}", name), "{{package}}", package);
        fs::path path = dir / rel;
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        if (ec)
            return fmt::format("cannot create {}: {}", path.parent_path().string(), ec.message());
        std::ofstream out(path, std::ios::binary);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.close();
        if (!out) return fmt::format("cannot write {}", path.string());
        written.push_back(rel);
    }
    return std::nullopt;
}

int run_new(const NewOptions& o) {
    const Language* lang = find_language(o.lang);
    if (!lang) {
        print_error(fmt::format("new: unknown language \"{}\" (expected c, cpp, rust or "
                                "assemblyscript)",
                                o.lang));
        return exit_usage;
    }
    const bool actor = o.template_name == "actor";
    // NAME may be a path; the project is named after its last component.
    fs::path dir = fs::path(o.dir).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();
    std::string name = dir.filename().string();
    if (!valid_name(name)) {
        print_error(fmt::format("new: \"{}\" is not a project name: use letters, digits, '-' and "
                                "'_', starting with a letter or digit",
                                name));
        return exit_usage;
    }
    std::error_code ec;
    // create_directory reports an existing folder as "not created" and fails on an existing
    // file, so no check-then-create race can make kiln new write into something that was there.
    if (fs::exists(fs::symlink_status(dir, ec)) || !fs::create_directory(dir, ec)) {
        // Like a missing input file, a missing parent folder is a command line to correct.
        if (ec && ec != std::errc::file_exists) {
            print_error(fmt::format("new: cannot create {}: {}", dir.string(), ec.message()));
            return exit_usage;
        }
        print_error(fmt::format("new: {} already exists; kiln new only creates a new folder",
                                dir.string()));
        return exit_usage;
    }
    std::vector<std::string> written;
    const std::string files_of =
        actor ? "actor-" + std::string(lang->name) : std::string(lang->name);
    if (auto error = write_files(dir, files_of, name, written)) {
        // The folder is ours (it did not exist), so a half-written project goes with it.
        fs::remove_all(dir, ec);
        print_error("new: " + *error);
        return exit_failure;
    }
    std::string files;
    for (const std::string& f : written)
        files += "\n  " + (dir / f).string();
    // A project is a repository from its first file, as cargo new makes it; without git the
    // project is complete all the same, so its absence is a note, not a failure.
    std::string git;
    if (!o.no_git) {
        auto status = run_program({"git", "init", "--quiet", dir.string()}, true);
        if (status && status->found && status->exit_code == 0)
            git = " in a new git repository";
        else if (status && !status->found)
            print_error("new: git was not found, so the project is not a git repository");
        else
            print_error(fmt::format("new: git init {} failed; the project is not a git "
                                    "repository",
                                    dir.string()));
    }
    if (actor)
        fmt::print("created {} {} actor project{}:{}\nbuild it and run its graph:\n  cd {}\n  {}\n"
                   "  kiln graph run {}.graph.json\n",
                   lang->article, lang->title, git, files, dir.string(), lang->build, name);
    else
        fmt::print("created {} {} plugin project{}:{}\nbuild it and call it:\n  cd {}\n  {}\n"
                   "  kiln call {}.json greet --input World\n",
                   lang->article, lang->title, git, files, dir.string(), lang->build, name);
    return exit_ok;
}

} // namespace

void add_new_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("new", "Create a plugin project (Extism ABI) in a new folder");
    auto o = std::make_shared<NewOptions>();
    set_choices(sub->add_option("--lang", o->lang,
                                "c, cpp, rust or assemblyscript (also c++, rs, as; any case)")
                    ->required()
                    ->type_name("LANG"),
                {"c", "cpp", "rust", "assemblyscript"});
    sub->add_option("NAME", o->dir, "the folder to create; the project takes its name")
        ->required()
        ->type_name(dir_value);
    set_choices(sub->add_option("--template", o->template_name,
                                "plugin (an Extism plugin, the default) or actor (a Reflow actor "
                                "and a graph running it)")
                    ->type_name("NAME")
                    ->default_str("plugin"),
                {"plugin", "actor"});
    sub->add_flag("--no-git", o->no_git, "do not make the project a git repository");
    set_examples(*sub, {{"kiln new --lang rust hello", "a Rust plugin project in ./hello"},
                        {"kiln new --lang AssemblyScript --no-git plugins/greeter",
                         "an AssemblyScript project, not a git repository"},
                        {"kiln new --template actor --lang c greeter",
                         "a C actor and a graph that runs it"}});
    sub->callback([o, &exit_code] { exit_code = run_new(*o); });
}

} // namespace kiln::tool
