// kiln man: the manual page kiln(1) in roff, written from the commands' CLI11 definitions and
// examples (help.hpp's CommandSpec); the build installs its output as share/man/man1/kiln.1.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace kiln::tool {

namespace {

// Text safe in roff: backslashes escaped, hyphens as \- (so they copy and search as ASCII
// hyphens), and a line never starting with a control character.
std::string roff(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\')
            out += "\\e";
        else if (c == '-')
            out += "\\-";
        else
            out += c;
    }
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
    return out;
}

std::string synopsis(const CommandSpec& c) {
    std::string out = ".B kiln " + roff(c.name) + "\n";
    if (!c.flags.empty()) out += "[\\fIFLAGS\\fR]\n";
    for (size_t a = 0; a < c.arguments.size(); ++a) {
        const ArgSpec& arg = c.arguments[a];
        std::string name = "\\fI" + roff(arg.value) + "\\fR" + (arg.repeats ? "..." : "");
        out += (a == 0 || !arg.repeats ? name : "[" + name + "]") + "\n";
    }
    return out;
}

std::string flag_entry(const ArgSpec& f) {
    std::string names;
    for (const std::string& n : f.shorts)
        names += (names.empty() ? "" : ", ") + ("\\fB" + roff(n) + "\\fR");
    for (const std::string& n : f.longs)
        names += (names.empty() ? "" : ", ") + ("\\fB" + roff(n) + "\\fR");
    if (f.takes_value) names += " \\fI" + roff(f.value) + "\\fR";
    std::string text = roff(f.description);
    if (!f.default_value.empty()) text += " (default: " + roff(f.default_value) + ")";
    if (f.repeats) text += "; may be repeated";
    return ".TP\n" + names + "\n" + text + "\n";
}

std::string man_page(const std::vector<CommandSpec>& specs) {
    std::string out = fmt::format(".TH KILN 1 \"\" \"{}\" \"User Commands\"\n", version_string());
    out += ".SH NAME\nkiln \\- run WebAssembly modules, WASI programs and Extism plugins\n";
    out += ".SH SYNOPSIS\n.B kiln\n\\fICOMMAND\\fR [\\fIFLAGS\\fR] [\\fIARGUMENTS\\fR]\n";
    out += ".br\n.B kiln\n[\\fB\\-h\\fR | \\fB\\-V\\fR]\n";
    out += ".SH DESCRIPTION\n" + roff(specs.front().description) +
           ". Each command has its own flags; \\fBkiln help\\fR \\fICOMMAND\\fR or \\fBkiln\\fR "
           "\\fICOMMAND\\fR \\fB\\-\\-help\\fR prints them.\n";
    out += ".SH OPTIONS\nThese go before the command; \\fB\\-h\\fR, \\fB\\-\\-help\\fR also after "
           "it, for the command's help.\n";
    for (const ArgSpec& f : specs.front().flags)
        out += flag_entry(f);
    out += ".SH COMMANDS\n";
    for (size_t i = 1; i < specs.size(); ++i) {
        const CommandSpec& c = specs[i];
        out += ".SS \"kiln " + roff(c.name) + "\"\n" + synopsis(c) + ".PP\n" + roff(c.description) +
               ".\n";
        for (const ArgSpec& arg : c.arguments) {
            std::string text = roff(arg.description);
            if (!arg.choices.empty())
                text += " (one of: " + roff(fmt::format("{}", fmt::join(arg.choices, ", "))) + ")";
            out += ".TP\n\\fI" + roff(arg.value) + "\\fR\n" + text + "\n";
        }
        // Every command has -h, --help; the page says so once, under OPTIONS.
        for (const ArgSpec& f : c.flags)
            if (f.longs != std::vector<std::string>{"--help"}) out += flag_entry(f);
        const std::vector<Example>& examples = examples_of(*c.app);
        if (!examples.empty()) {
            out += ".PP\nExamples:\n";
            for (const Example& e : examples)
                out += ".TP\n.B " + roff(e.command) + "\n" + roff(e.what) + "\n";
        }
    }
    out += ".SH EXIT STATUS\n"
           ".TP\n0\nsuccess\n"
           ".TP\n1\nthe input failed: an unreadable, malformed, invalid or unlinkable module, "
           "a trap, a failed call or assertion\n"
           ".TP\n2\nthe command line cannot be carried out: an unknown command or flag, a "
           "missing or malformed argument, an unknown export\n"
           ".PP\n\\fBkiln run\\fR exits with the program's own exit code, and 134 on a trap.\n";
    out += ".SH SEE ALSO\n"
           "docs/cli.md (the commands and their JSON output) and docs/plugins.md (manifests "
           "and the plugin runtime) in Kiln's source tree\n";
    return out;
}

} // namespace

void add_man_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("man", "Print kiln's manual page (roff)");
    set_examples(*sub, {{"kiln man | man -l -", "read the manual page"},
                        {"kiln man > kiln.1", "write it for installing"}});
    sub->callback([&app, &exit_code] {
        std::fputs(man_page(describe_commands(app)).c_str(), stdout);
        exit_code = exit_ok;
    });
}

} // namespace kiln::tool
