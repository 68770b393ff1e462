// The schedule registry and the scenario check; see sim/schedule.hpp.
#include "sim/schedule.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace ringsim {

namespace {

// Function-local: filled by static initialisers of other files, in any order.
std::map<std::string, ScheduleInfo, std::less<>>& registry() {
  static std::map<std::string, ScheduleInfo, std::less<>> r;
  return r;
}

}  // namespace

bool register_schedule(const char* name, const char* description, std::unique_ptr<Schedule> schedule) {
  auto [it, fresh] = registry().try_emplace(name, ScheduleInfo{name, description, std::move(schedule)});
  if (!fresh) throw std::logic_error(fmt::format("schedule '{}' registered twice", name));
  return true;
}

const ScheduleInfo* find_schedule(std::string_view name) {
  const auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<const ScheduleInfo*> registered_schedules() {
  std::vector<const ScheduleInfo*> out;
  for (const auto& [name, info] : registry()) out.push_back(&info);
  return out;
}

void Schedule::check_periodic(const Scenario& s, const Point&, const PointAttention& a, const std::string& asked) const {
  throw InputError(s.path, a.schedule_at.line, a.schedule_at.key,
                   fmt::format("{}: only schedules that lower whole to one ring with no tail run there (pass-kv), "
                               "and schedule {} does not", asked, a.schedule));
}

const Schedule& checked_schedule(const Scenario& s, const Point& p) {
  const PointAttention att = attention_of(s, p);
  const ScheduleInfo* info = find_schedule(att.schedule);
  if (!info) {
    std::vector<std::string> names;
    for (const ScheduleInfo* i : registered_schedules()) names.push_back(i->name);
    throw InputError(s.path, att.schedule_at.line, att.schedule_at.key,
                     fmt::format("unknown schedule '{}' (known: {})", att.schedule, fmt::join(names, ", ")));
  }
  info->schedule->check(s, p, att);
  if (p.ring_size > kMaxFullRing) {
    info->schedule->check_periodic(
        s, p, att, fmt::format("ring_size {} is above {} devices, where only modes folded and walk run", p.ring_size,
                               kMaxFullRing));
  }
  return *info->schedule;
}

void check_schedules(const Scenario& s) {
  for (const Point& p : s.points) checked_schedule(s, p);
}

}  // namespace ringsim
