// What every ringsim program (ringsim, ringsim-simbench, ringsim-calibrate,
// ringsim-validate) does with a CLI11 parse error: --help and --version
// print and exit 0; anything else prints the error, the closest option name
// when one was misspelled, the usage line and where the help is, and exits 2.
#pragma once
#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

namespace ringsim::cli {

// The house style of every program's help (set before adding subcommands):
// "usage:" as Unix tools write it, wide option column.
void house_style(CLI::App& app);

// `app` is the (sub)command whose options the words were meant for;
// `command` how a user types it ("ringsim run", "ringsim-simbench").
int parse_error(const CLI::App& app, const std::string& command, const CLI::ParseError& e, std::ostream& out,
                std::ostream& err);

// " (did you mean --threads?)" for "--thread", or "".
std::string misspelling_hint(const CLI::App& app, const std::string& word);

// Help of `app` as `command --help` prints it.
std::string help_of(const CLI::App& app, const std::string& command);

// The usage line and where the help is, after a message of the caller's.
int usage_error(const CLI::App& app, const std::string& command, const std::string& message, std::ostream& err);

}  // namespace ringsim::cli
