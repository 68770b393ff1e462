// CLI11 parse errors handled alike by every ringsim program; see cli_errors.hpp.
#include "tools/common/cli_errors.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "models/suggest.hpp"

namespace ringsim::cli {

void house_style(CLI::App& app) {
  app.get_formatter()->label("Usage", "usage");
  app.get_formatter()->column_width(34);
}

std::string misspelling_hint(const CLI::App& app, const std::string& word) {
  std::vector<std::string> known;
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& n : opt->get_lnames()) known.push_back("--" + n);
    for (const std::string& n : opt->get_snames()) known.push_back("-" + n);
  }
  const auto best = closest_name(word.substr(0, word.find('=')), known);
  return best ? fmt::format(" (did you mean {}?)", *best) : "";
}

std::string help_of(const CLI::App& app, const std::string& command) {
  // CLI11 names a subcommand alone in its usage line: give it the program's name.
  const auto space = command.rfind(' ');
  return app.get_parent() && space != std::string::npos ? app.help(command.substr(0, space)) : app.help();
}

int usage_error(const CLI::App& app, const std::string& command, const std::string& message, std::ostream& err) {
  const std::string help = help_of(app, command);
  const auto at = help.find("sage:");  // "Usage:" or "usage:"
  const auto start = at == std::string::npos ? at : at - 1;
  const std::string line = start == std::string::npos ? "" : help.substr(start, help.find('\n', start) - start);
  fmt::print(err, "{}: {}\n{}\nRun '{} --help' for options and examples.\n", command, message, line, command);
  return 2;
}

int parse_error(const CLI::App& app, const std::string& command, const CLI::ParseError& e, std::ostream& out,
                std::ostream& err) {
  if (dynamic_cast<const CLI::CallForHelp*>(&e) || dynamic_cast<const CLI::CallForAllHelp*>(&e)) {
    out << help_of(app, command);
    return 0;
  }
  if (dynamic_cast<const CLI::CallForVersion*>(&e)) {
    out << e.what() << '\n';
    return 0;
  }
  std::string message = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e))
    for (const std::string& word : app.remaining())
      if (!word.empty() && word[0] == '-') message += misspelling_hint(app, word);
  return usage_error(app, command, message, err);
}

}  // namespace ringsim::cli
