#include "help.hpp"

#include "cli_common.hpp"
#include "commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <map>

namespace kiln::tool {

namespace {

// Commands and options live for the whole process, so their extra descriptions are kept here,
// keyed by the CLI11 object they describe.
std::map<const CLI::App*, std::vector<Example>>& examples_table() {
    static std::map<const CLI::App*, std::vector<Example>> table;
    return table;
}

std::map<const CLI::Option*, std::vector<std::string>>& choices_table() {
    static std::map<const CLI::Option*, std::vector<std::string>> table;
    return table;
}

std::string examples_footer(const std::vector<Example>& examples) {
    std::string text = "Examples:";
    for (const Example& e : examples)
        text += fmt::format("\n  {}\n      {}", e.command, e.what);
    return text;
}

// "4294967295" -> "4,294,967,295": a bound a person reads at a glance.
std::string group_digits(uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

class Formatter : public CLI::Formatter {
public:
    Formatter() { column_width(34); }

    // The value's name (an argument is its own) and whether it repeats; the default goes after
    // the description.
    std::string make_option_opts(const CLI::Option* opt) const override {
        std::string out;
        if (opt->get_type_size() != 0) {
            if (!opt->get_positional() && !opt->get_type_name().empty())
                out += " " + opt->get_type_name();
            if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
        }
        return out;
    }

    std::string make_option_desc(const CLI::Option* opt) const override {
        std::string desc = opt->get_description();
        if (!opt->get_default_str().empty())
            desc += fmt::format(" (default: {})", opt->get_default_str());
        return desc;
    }
};

// Edit distance with adjacent transpositions counted as one edit ("inptu" is one from "input").
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i)
        d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j)
        d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// A token the user meant as a flag: "-x" or "--xyz", not a negative number or a lone "-".
bool looks_like_flag(std::string_view arg) {
    if (arg.size() < 2 || arg[0] != '-') return false;
    char c = arg[1];
    return !(std::isdigit(static_cast<unsigned char>(c)) || c == '.');
}

std::vector<std::string> flag_names(const CLI::App& command) {
    std::vector<std::string> names;
    for (const CLI::Option* opt : command.get_options()) {
        for (const std::string& l : opt->get_lnames())
            names.push_back("--" + l);
        for (const std::string& s : opt->get_snames())
            names.push_back("-" + s);
    }
    return names;
}

std::string help_hint(const CLI::App* command) {
    return command ? fmt::format("(see kiln {} --help)", command->get_name()) : "(see kiln --help)";
}

} // namespace

void set_examples(CLI::App& command, std::vector<Example> examples) {
    command.footer(examples_footer(examples));
    examples_table()[&command] = std::move(examples);
}

const std::vector<Example>& examples_of(const CLI::App& command) {
    static const std::vector<Example> none;
    auto it = examples_table().find(&command);
    return it == examples_table().end() ? none : it->second;
}

CLI::Option* set_choices(CLI::Option* option, std::vector<std::string> choices) {
    choices_table()[option] = std::move(choices);
    return option;
}

const std::vector<std::string>* choices_of(const CLI::Option& option) {
    auto it = choices_table().find(&option);
    return it == choices_table().end() ? nullptr : &it->second;
}

CLI::Validator count_in_range(uint64_t min, uint64_t max) {
    return CLI::Validator(
        [min, max](std::string& text) -> std::string {
            uint64_t n = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
            bool whole = !text.empty() && ec != std::errc::invalid_argument &&
                         end == text.data() + text.size();
            if (whole && ec == std::errc{} && n >= min && n <= max) return {};
            return fmt::format("\"{}\" is not a count from {} to {}", text, group_digits(min),
                               group_digits(max));
        },
        ""); // no description: it would be appended to the value's name
}

std::shared_ptr<CLI::Formatter> make_formatter() {
    return std::make_shared<Formatter>();
}

namespace {

CommandSpec describe(const CLI::App& command, std::string name) {
    CommandSpec spec{&command, std::move(name), command.get_description(), {}, {}};
    for (const CLI::Option* opt : command.get_options()) {
        ArgSpec arg;
        for (const std::string& l : opt->get_lnames())
            arg.longs.push_back("--" + l);
        for (const std::string& s : opt->get_snames())
            arg.shorts.push_back("-" + s);
        arg.description = opt->get_description();
        arg.default_value = opt->get_default_str();
        arg.takes_value = opt->get_items_expected_max() != 0;
        arg.repeats = opt->get_expected_max() > 1;
        arg.value = opt->get_positional() ? opt->get_name(true, false) : opt->get_type_name();
        if (const auto* choices = choices_of(*opt)) {
            arg.choices = *choices;
            arg.completes = ArgSpec::Completes::choices;
        } else if (opt->get_type_name() == file_value) {
            arg.completes = ArgSpec::Completes::files;
        } else if (opt->get_type_name() == dir_value) {
            arg.completes = ArgSpec::Completes::directories;
        }
        (opt->get_positional() ? spec.arguments : spec.flags).push_back(std::move(arg));
    }
    // A prefix command (kiln run) leaves everything after its flags to what it runs.
    if (command.get_prefix_command()) {
        ArgSpec rest;
        rest.value = file_value;
        rest.description = "what the command runs, then its arguments, passed on unparsed";
        rest.repeats = true;
        rest.completes = ArgSpec::Completes::files;
        spec.arguments.push_back(std::move(rest));
    }
    return spec;
}

} // namespace

std::vector<CommandSpec> describe_commands(const CLI::App& app) {
    std::vector<CommandSpec> specs{describe(app, "")};
    for (const CLI::App* c : commands_of(app)) {
        CommandSpec parent = describe(*c, c->get_name());
        std::vector<CommandSpec> children;
        for (const CLI::App* sub : commands_of(*c)) {
            parent.subcommands.push_back(sub->get_name());
            children.push_back(describe(*sub, c->get_name() + " " + sub->get_name()));
        }
        specs.push_back(std::move(parent));
        for (CommandSpec& child : children)
            specs.push_back(std::move(child));
    }
    return specs;
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
    std::optional<std::string> best;
    size_t best_distance = SIZE_MAX;
    for (const std::string& c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    // Two edits turn most short words into one another; allow them only in longer words.
    std::string_view bare = word.substr(std::min(word.find_first_not_of('-'), word.size()));
    size_t allowed = bare.size() >= 6 ? 2 : bare.size() >= 3 ? 1 : 0;
    if (best && best_distance > 0 && best_distance <= allowed) return best;
    return std::nullopt;
}

std::vector<const CLI::App*> commands_of(const CLI::App& app) {
    return app.get_subcommands([](const CLI::App*) { return true; });
}

std::vector<std::string> command_names(const CLI::App& app) {
    std::vector<std::string> names;
    for (const CLI::App* c : commands_of(app))
        names.push_back(c->get_name());
    return names;
}

int report_parse_error(const CLI::App& app, const CLI::App* command, const CLI::ParseError& error) {
    std::string where = command ? command->get_name() + ": " : "";
    // Words CLI11 could not place explain most errors, even one it reports as something else
    // ("A subcommand is required" for `kiln --verison`). A prefix command (kiln run) leaves its
    // program's words there on purpose.
    const CLI::App& parsed = command ? *command : app;
    if (!parsed.get_prefix_command())
        for (const std::string& arg : parsed.remaining()) {
            if (!looks_like_flag(arg)) {
                print_error(
                    fmt::format("{}unexpected argument '{}' {}", where, arg, help_hint(command)));
                return exit_usage;
            }
            std::string name = arg.substr(0, arg.find('='));
            auto suggestion = closest_match(name, flag_names(parsed));
            print_error(
                fmt::format("{}unknown flag {}{} {}", where, name,
                            suggestion ? fmt::format("; did you mean {}?", *suggestion) : "",
                            help_hint(command)));
            return exit_usage;
        }
    // CLI11's own report adds a second "Run with --help" line; one line is easier to grep.
    print_error(fmt::format("{}{} {}", where, error.what(), help_hint(command)));
    return exit_usage;
}

int report_unknown_command(std::string_view word, const std::vector<std::string>& names) {
    auto suggestion = closest_match(word, names);
    print_error(fmt::format("unknown command '{}'{} (see kiln --help)", word,
                            suggestion ? fmt::format("; did you mean '{}'?", *suggestion) : ""));
    return exit_usage;
}

void add_help_command(CLI::App& app, int& exit_code) {
    auto* sub = app.add_subcommand("help", "Print the help of kiln or of one command");
    auto topic = std::make_shared<std::string>();
    set_choices(sub->add_option("COMMAND", *topic, "the command to describe"), command_names(app));
    set_examples(*sub, {{"kiln help", "the commands and global flags"},
                        {"kiln help call", "the flags of kiln call, as kiln call --help"}});
    sub->callback([&app, topic, &exit_code] {
        auto formatter = app.get_formatter();
        if (topic->empty()) {
            std::fputs(formatter->make_help(&app, "kiln", CLI::AppFormatMode::Normal).c_str(),
                       stdout);
            exit_code = exit_ok;
            return;
        }
        const CLI::App* command = nullptr;
        for (const CLI::App* c : commands_of(app))
            if (c->get_name() == *topic) command = c;
        if (!command) {
            exit_code = report_unknown_command(*topic, command_names(app));
            return;
        }
        std::fputs(
            formatter->make_help(command, "kiln " + *topic, CLI::AppFormatMode::Normal).c_str(),
            stdout);
        exit_code = exit_ok;
    });
}

} // namespace kiln::tool
