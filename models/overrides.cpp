// --set KEY=VALUE on a scenario's YAML; see overrides.hpp. Tests:
// tests/models/test_overrides.cpp.
#include "models/overrides.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>

namespace ringsim {

namespace {

InputError command_line(const std::string& what, const std::string& key, const std::string& message) {
  return InputError(fmt::format("command line (--set {})", what), 0, key, message);
}

// "sweep[2].ring_size" -> {"sweep", 2}, {"ring_size"}; a segment is a map key or a list index.
struct Segment {
  std::string key;
  long long index = -1;  // >= 0: a list index after the key
};

std::vector<Segment> split_key(const Override& o) {
  std::vector<Segment> out;
  std::size_t at = 0;
  while (at <= o.key.size()) {
    const std::size_t dot = o.key.find('.', at);
    std::string part = o.key.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
    Segment s;
    const std::size_t open = part.find('[');
    if (open != std::string::npos) {
      const std::string digits = part.substr(open + 1, part.size() - open - 2);
      if (part.back() != ']' || digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
          digits.size() > 9)
        throw command_line(o.text(), o.key, fmt::format("'{}' is not a key or key[index]", part));
      s.index = std::stoll(digits);
      part.resize(open);
    }
    if (part.empty()) throw command_line(o.text(), o.key, "empty key segment (a key path is a.b.c or a[2].b)");
    s.key = part;
    out.push_back(s);
    if (dot == std::string::npos) break;
    at = dot + 1;
  }
  return out;
}

YAML::Node parse_value(const Override& o) {
  try {
    YAML::Node v = YAML::Load(o.value);
    if (v.IsNull()) throw command_line(o.text(), o.key, "no value (write KEY=VALUE)");
    return v;
  } catch (const YAML::Exception& e) {
    throw command_line(o.text(), o.key, fmt::format("the value is not valid YAML: {}", e.msg));
  }
}

}  // namespace

Override parse_override(const std::string& text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw command_line(text, "", "expected KEY=VALUE, e.g. --set parallel.tensor=8");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

void apply_overrides(YAML::Node& root, const std::vector<Override>& overrides) {
  for (const Override& o : overrides) {
    const std::vector<Segment> path = split_key(o);
    YAML::Node node;
    node.reset(root);
    std::string walked;
    for (std::size_t i = 0; i < path.size(); ++i) {
      const Segment& s = path[i];
      if (!node.IsMap() && !node.IsNull())
        throw command_line(o.text(), o.key, fmt::format("cannot set {} inside {}: it is not a map", s.key, walked));
      walked += (walked.empty() ? "" : ".") + s.key;
      const bool last = i + 1 == path.size();
      if (s.index < 0 && last) {
        node[s.key] = parse_value(o);
        break;
      }
      YAML::Node child = node[s.key];
      if (s.index < 0) {
        if (!child.IsDefined() || child.IsNull()) node[s.key] = YAML::Node(YAML::NodeType::Map);
        node.reset(node[s.key]);  // reset: operator= would overwrite the node walked from
        continue;
      }
      if (!child.IsSequence() || s.index >= static_cast<long long>(child.size()))
        throw command_line(o.text(), o.key, fmt::format("{} has no element {}", walked, s.index));
      walked += fmt::format("[{}]", s.index);
      if (last) {
        child[static_cast<std::size_t>(s.index)] = parse_value(o);
        break;
      }
      node.reset(child[static_cast<std::size_t>(s.index)]);
    }
  }
}

std::optional<InputError> from_command_line(const InputError& e, const std::vector<Override>& overrides) {
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {  // the last one set wins
    const std::string& k = it->key;
    const bool inside = e.key == k || (e.key.size() > k.size() && e.key.compare(0, k.size(), k) == 0 &&
                                       (e.key[k.size()] == '.' || e.key[k.size()] == '['));
    if (!inside) continue;
    const std::string prefix = InputError(e.file, e.line, e.key, "").what();
    const std::string message = std::string(e.what()).substr(prefix.size());
    return command_line(it->text(), e.key, message);
  }
  return std::nullopt;
}

}  // namespace ringsim
