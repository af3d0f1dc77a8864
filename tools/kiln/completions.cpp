// kiln completions bash|zsh|fish: shell completion scripts written from the commands' CLI11
// definitions (help.hpp's CommandSpec), so a flag added to a command completes without more.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace kiln::tool {

namespace {

using Completes = ArgSpec::Completes;

std::string join(const std::vector<std::string>& words, std::string_view separator) {
    return fmt::format("{}", fmt::join(words, separator));
}

std::vector<std::string> names_of(const ArgSpec& flag) {
    std::vector<std::string> names = flag.shorts;
    names.insert(names.end(), flag.longs.begin(), flag.longs.end());
    return names;
}

// Single-quoted for sh-like shells: ' becomes '\''.
std::string sh_quote(std::string_view text) {
    std::string out = "'";
    for (char c : text)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// --- bash -----------------------------------------------------------------------------------

// The COMPREPLY assignment offering what `arg` takes.
std::string bash_reply(const ArgSpec& arg) {
    switch (arg.completes) {
    case Completes::files: return "COMPREPLY=($(compgen -f -- \"$cur\"))";
    case Completes::directories: return "COMPREPLY=($(compgen -d -- \"$cur\"))";
    case Completes::choices:
        return fmt::format("COMPREPLY=($(compgen -W {} -- \"$cur\"))",
                           sh_quote(join(arg.choices, " ")));
    case Completes::nothing: break;
    }
    return ":";
}

std::string bash_script(const std::vector<CommandSpec>& specs) {
    const CommandSpec& top = specs.front();
    std::vector<std::string> first_words;
    for (const ArgSpec& f : top.flags)
        for (const std::string& n : names_of(f))
            first_words.push_back(n);
    std::string value_flags; // "cmd:--flag|cmd:-f" for every flag that takes a value
    std::string commands;
    std::vector<std::string> parents; // the commands of commands: kiln plugin, kiln job, ...
    for (size_t i = 1; i < specs.size(); ++i) {
        const CommandSpec& c = specs[i];
        // In a case pattern, the space of "plugin list" is escaped; as a label, it is quoted.
        std::string pattern = c.name;
        if (size_t space = pattern.find(' '); space != std::string::npos)
            pattern.replace(space, 1, "\\ ");
        else
            first_words.push_back(c.name);
        std::vector<std::string> flag_words;
        for (const ArgSpec& f : c.flags)
            for (const std::string& n : names_of(f))
                flag_words.push_back(n);
        if (!c.subcommands.empty()) {
            // Its own commands complete where its first argument would.
            parents.push_back(c.name);
            commands += fmt::format("    {})\n"
                                    "        if [[ $cur == -* ]]; then\n"
                                    "            COMPREPLY=($(compgen -W {} -- \"$cur\"))\n"
                                    "            return\n"
                                    "        fi\n"
                                    "        COMPREPLY=($(compgen -W {} -- \"$cur\")) ;;\n",
                                    sh_quote(c.name), sh_quote(join(flag_words, " ")),
                                    sh_quote(join(c.subcommands, " ")));
            continue;
        }
        std::string prev_cases;
        for (const ArgSpec& f : c.flags) {
            if (!f.takes_value) continue;
            std::vector<std::string> patterns;
            for (const std::string& n : names_of(f))
                patterns.push_back(pattern + ":" + n);
            value_flags += (value_flags.empty() ? "" : "|") + join(patterns, "|");
            prev_cases +=
                fmt::format("        {}) {}; return ;;\n", join(names_of(f), "|"), bash_reply(f));
        }
        std::string argument_cases;
        for (size_t a = 0; a < c.arguments.size(); ++a) {
            const ArgSpec& arg = c.arguments[a];
            bool last = a + 1 == c.arguments.size();
            argument_cases +=
                fmt::format("        {}) {} ;;\n", last && arg.repeats ? "*" : std::to_string(a),
                            bash_reply(arg));
        }
        commands += fmt::format("    {})\n"
                                "        case $prev in\n{}        esac\n"
                                "        if [[ $cur == -* ]]; then\n"
                                "            COMPREPLY=($(compgen -W {} -- \"$cur\"))\n"
                                "            return\n"
                                "        fi\n"
                                "        case $n in\n{}        esac ;;\n",
                                sh_quote(c.name), prev_cases, sh_quote(join(flag_words, " ")),
                                argument_cases);
    }
    return fmt::format(
        R"(# bash completion for kiln, written by `kiln completions bash` from its command
# definitions. Load it with: source <(kiln completions bash)
_kiln() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local cmd= word i n=0 skip=0
    # The command is the first word that is not a flag, and the next one too after a command
    # of commands ("plugin list"); n counts its arguments before the word being completed, not
    # counting the values of its flags.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if ((skip)); then
            skip=0
        elif [[ -z $cmd ]]; then
            [[ $word == -* ]] || cmd=$word
        elif [[ $word != -* && {} == *" $cmd "* ]]; then
            cmd="$cmd $word"
        else
            case $cmd:$word in
            {}) skip=1 ;;
            *:-*) ;;
            *) ((n++)) ;;
            esac
        fi
    done
    case $cmd in
    '')
        COMPREPLY=($(compgen -W {} -- "$cur")) ;;
{}    esac
}}
complete -o filenames -F _kiln kiln
)",
        sh_quote(" " + join(parents, " ") + " "), value_flags.empty() ? "''" : value_flags,
        sh_quote(join(first_words, " ")), commands);
}

// --- zsh ------------------------------------------------------------------------------------

// Text inside a zsh _arguments spec in single quotes: brackets and colons are escaped too.
std::string zsh_text(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\'')
            out += "'\\''";
        else if (c == '[' || c == ']' || c == ':' || c == '\\')
            out += std::string("\\") + c;
        else
            out += c;
    }
    return out;
}

std::string zsh_action(const ArgSpec& arg) {
    switch (arg.completes) {
    case Completes::files: return "_files";
    case Completes::directories: return "_files -/";
    case Completes::choices: return "(" + join(arg.choices, " ") + ")";
    case Completes::nothing: break;
    }
    return " ";
}

std::string zsh_arguments(const CommandSpec& c, const std::string& indent) {
    std::vector<std::string> specs;
    for (const ArgSpec& f : c.flags) {
        std::vector<std::string> names = names_of(f);
        std::string prefix = f.repeats ? "'*'" : "'(" + join(names, " ") + ")'";
        // Help and version end the command line: nothing may follow them.
        if (f.longs == std::vector<std::string>{"--help"} ||
            f.longs == std::vector<std::string>{"--version"})
            prefix = "'(- *)'";
        std::string spelled = names.size() == 1 ? names[0] : "{" + join(names, ",") + "}";
        std::string spec = prefix + spelled + "'[" + zsh_text(f.description) + "]";
        if (f.takes_value) spec += ":" + zsh_text(f.value) + ":" + zsh_action(f);
        specs.push_back(spec + "'");
    }
    for (size_t a = 0; a < c.arguments.size(); ++a) {
        const ArgSpec& arg = c.arguments[a];
        bool rest = a + 1 == c.arguments.size() && arg.repeats;
        specs.push_back(fmt::format("'{}:{}:{}'", rest ? "*" : std::to_string(a + 1),
                                    zsh_text(arg.value), zsh_action(arg)));
    }
    std::string out;
    for (const std::string& s : specs)
        out += " \\\n" + indent + s;
    return out;
}

/// The specs of the commands of `parent` ("plugin list", ... for "plugin"), with the names they
/// have under it.
std::vector<std::pair<std::string, const CommandSpec*>>
children_of(const std::vector<CommandSpec>& specs, const CommandSpec& parent) {
    std::vector<std::pair<std::string, const CommandSpec*>> out;
    for (const CommandSpec& s : specs)
        if (s.name.starts_with(parent.name + " "))
            out.emplace_back(s.name.substr(parent.name.size() + 1), &s);
    return out;
}

bool is_nested(const CommandSpec& c) {
    return c.name.find(' ') != std::string::npos;
}

std::string zsh_script(const std::vector<CommandSpec>& specs) {
    std::string command_list, command_cases;
    for (size_t i = 1; i < specs.size(); ++i) {
        const CommandSpec& c = specs[i];
        if (is_nested(c)) continue; // under its parent's case
        command_list += fmt::format("        '{}:{}'\n", c.name, zsh_text(c.description));
        if (c.subcommands.empty()) {
            command_cases += fmt::format("        {})\n            _arguments{} ;;\n", c.name,
                                         zsh_arguments(c, "                "));
            continue;
        }
        // A command of commands: its commands first, then the chosen one's arguments.
        std::string sub_list, sub_cases;
        for (const auto& [name, sub] : children_of(specs, c)) {
            sub_list +=
                fmt::format("                    '{}:{}'\n", name, zsh_text(sub->description));
            sub_cases += fmt::format("                {})\n                    _arguments{} ;;\n",
                                     name, zsh_arguments(*sub, "                        "));
        }
        command_cases += fmt::format("        {0})\n"
                                     "            if (( CURRENT == 2 )); then\n"
                                     "                local -a subcommands\n"
                                     "                subcommands=(\n{1}                )\n"
                                     "                _describe -t commands 'kiln {0} command' "
                                     "subcommands\n"
                                     "            else\n"
                                     "                shift words\n"
                                     "                (( CURRENT-- ))\n"
                                     "                case $words[1] in\n{2}                esac\n"
                                     "            fi ;;\n",
                                     c.name, sub_list, sub_cases);
    }
    return fmt::format(
        R"(#compdef kiln
# zsh completion for kiln, written by `kiln completions zsh` from its command definitions.
# Install it as _kiln in a directory of $fpath, or load it with: source <(kiln completions zsh)
_kiln() {{
    local curcontext=$curcontext state line
    typeset -A opt_args
    _arguments -C{} \
        '1:command:->command' \
        '*::argument:->argument'
    case $state in
    command)
        local -a commands
        commands=(
{}        )
        _describe -t commands 'kiln command' commands ;;
    argument)
        case $words[1] in
{}        esac ;;
    esac
}}
if [[ $funcstack[1] == _kiln ]]; then
    _kiln "$@"
else
    compdef _kiln kiln
fi
)",
        zsh_arguments(specs.front(), "        "), command_list, command_cases);
}

// --- fish -----------------------------------------------------------------------------------

std::string fish_quote(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

std::string fish_values(const ArgSpec& arg) {
    switch (arg.completes) {
    case Completes::files: return " -r -F";
    case Completes::directories: return " -x -a '(__fish_complete_directories)'";
    case Completes::choices: return " -x -a " + fish_quote(join(arg.choices, " "));
    case Completes::nothing: break;
    }
    return " -x";
}

std::string fish_script(const std::vector<CommandSpec>& specs) {
    std::string out =
        "# fish completion for kiln, written by `kiln completions fish` from its command\n"
        "# definitions. Load it with: kiln completions fish | source\n"
        "complete -c kiln -f\n";
    auto flag_lines = [&](const CommandSpec& c, const std::string& condition) {
        for (const ArgSpec& f : c.flags) {
            std::string line = "complete -c kiln -n " + condition;
            for (const std::string& s : f.shorts)
                line += " -s " + s.substr(1);
            for (const std::string& l : f.longs)
                line += " -l " + l.substr(2);
            if (f.takes_value) line += fish_values(f);
            out += line + " -d " + fish_quote(f.description) + "\n";
        }
    };
    flag_lines(specs.front(), "__fish_use_subcommand");
    for (size_t i = 1; i < specs.size(); ++i)
        if (!is_nested(specs[i]))
            out += fmt::format("complete -c kiln -n __fish_use_subcommand -a {} -d {}\n",
                               specs[i].name, fish_quote(specs[i].description));
    for (size_t i = 1; i < specs.size(); ++i) {
        const CommandSpec& c = specs[i];
        // "plugin list": seen plugin, then list.
        std::string seen = "__fish_seen_subcommand_from " + c.name;
        if (size_t space = c.name.find(' '); space != std::string::npos)
            seen = "__fish_seen_subcommand_from " + c.name.substr(0, space) +
                   "; and __fish_seen_subcommand_from " + c.name.substr(space + 1);
        std::string condition = fish_quote(seen);
        flag_lines(c, condition);
        if (!c.subcommands.empty()) {
            // Its commands, until one of them is given.
            const std::string until = fish_quote(seen + "; and not __fish_seen_subcommand_from " +
                                                 join(c.subcommands, " "));
            for (const auto& [name, sub] : children_of(specs, c))
                out += fmt::format("complete -c kiln -n {} -a {} -d {}\n", until, name,
                                   fish_quote(sub->description));
        }
        // fish has no notion of argument positions: offer what any of the arguments takes.
        for (const ArgSpec& arg : c.arguments) {
            if (arg.completes == Completes::nothing) continue;
            std::string what = arg.completes == Completes::choices ? fish_values(arg)
                               : arg.completes == Completes::files
                                   ? " -F"
                                   : " -a '(__fish_complete_directories)'";
            out += fmt::format("complete -c kiln -n {}{} -d {}\n", condition, what,
                               fish_quote(arg.value));
        }
    }
    return out;
}

} // namespace

void add_completions_command(CLI::App& app, int& exit_code) {
    auto* sub =
        app.add_subcommand("completions", "Print a shell completion script for bash, zsh or fish");
    auto shell = std::make_shared<std::string>();
    set_choices(sub->add_option("SHELL", *shell, "bash, zsh or fish")->required(),
                {"bash", "zsh", "fish"});
    set_examples(
        *sub,
        {{"source <(kiln completions bash)", "complete kiln in this bash session"},
         {"kiln completions zsh > ~/.zfunc/_kiln", "install for zsh (with ~/.zfunc in $fpath)"},
         {"kiln completions fish > ~/.config/fish/completions/kiln.fish", "install for fish"}});
    sub->callback([&app, shell, &exit_code] {
        std::vector<CommandSpec> specs = describe_commands(app);
        std::string script;
        if (*shell == "bash")
            script = bash_script(specs);
        else if (*shell == "zsh")
            script = zsh_script(specs);
        else if (*shell == "fish")
            script = fish_script(specs);
        else {
            print_error(fmt::format("completions: unknown shell '{}' (bash, zsh or fish)", *shell));
            exit_code = exit_usage;
            return;
        }
        std::fputs(script.c_str(), stdout);
        exit_code = exit_ok;
    });
}

} // namespace kiln::tool
