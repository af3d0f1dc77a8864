// The command line's shared machinery: the help layout, each command's examples and the
// choices of its options (which --help, the completion scripts and the man page all read from
// the CLI11 definitions), "did you mean" suggestions and readable usage errors.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tool {

/// One example of a command: the command line and what it does.
struct Example {
    std::string command;
    std::string what;
};

/// Sets a command's examples; they end its --help and its part of the man page.
void set_examples(CLI::App& command, std::vector<Example> examples);

/// The examples of a command (empty when it has none).
const std::vector<Example>& examples_of(const CLI::App& command);

/// Records the values an option takes, for completion scripts; the command checks them.
CLI::Option* set_choices(CLI::Option* option, std::vector<std::string> choices);

/// The values recorded by set_choices, or null.
const std::vector<std::string>* choices_of(const CLI::Option& option);

/// Value names that tell completion scripts what to offer: a file or a directory.
inline constexpr const char* file_value = "FILE";
inline constexpr const char* dir_value = "DIR";

/// Checks a whole number in [min, max], with an error that states the range in words:
/// "--loop: "0" is not a count from 1 to 4,294,967,295". Name the value with type_name("N").
CLI::Validator count_in_range(uint64_t min, uint64_t max);

/// The help layout of every command: defaults after the description, as "(default: X)".
std::shared_ptr<CLI::Formatter> make_formatter();

/// One flag or argument of a command, as completion scripts and the man page describe it.
struct ArgSpec {
    enum class Completes { nothing, files, directories, choices };
    std::vector<std::string> longs;  ///< "--input" (none for an argument)
    std::vector<std::string> shorts; ///< "-i"
    std::string value;               ///< the argument's or the value's name: FILE, N, ...
    std::string description;
    std::string default_value; ///< empty when none is stated
    bool takes_value = false;  ///< a flag followed by a value (arguments always are values)
    bool repeats = false;      ///< given several times (flags) or several values (arguments)
    std::vector<std::string> choices;
    Completes completes = Completes::nothing;
};

/// A command's flags and arguments, in the order they were defined.
struct CommandSpec {
    const CLI::App* app;
    std::string name; ///< empty for kiln itself; "plugin list" for a command of a command
    std::string description;
    std::vector<ArgSpec> flags, arguments;
    std::vector<std::string> subcommands; ///< a command of commands (kiln plugin): their names
};

/// The spec of `app` itself (the global flags) and then of each of its commands, each command
/// of commands followed by its own commands ("plugin", "plugin list", "plugin info", ...).
std::vector<CommandSpec> describe_commands(const CLI::App& app);

/// The candidate closest to `word` by edit distance (transpositions count as one edit), when it
/// is close enough to be a typo of it.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

/// The app's commands, in the order they were added.
std::vector<const CLI::App*> commands_of(const CLI::App& app);

/// The names of the app's commands, in the order they were added.
std::vector<std::string> command_names(const CLI::App& app);

/// Prints a parse error as one line on stderr, with a suggestion for a mistyped flag and the
/// help to read: "kiln: MESSAGE (see kiln COMMAND --help)"; returns the usage exit code.
/// `command` is the command being parsed, null for the app itself.
int report_parse_error(const CLI::App& app, const CLI::App* command, const CLI::ParseError& error);

/// Prints "kiln: unknown command 'X'; did you mean 'Y'?" for a word that names no command;
/// returns the usage exit code.
int report_unknown_command(std::string_view word, const std::vector<std::string>& names);

} // namespace kiln::tool
