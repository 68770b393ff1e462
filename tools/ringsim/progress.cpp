// Sweep progress on stderr; see progress.hpp.
#include "tools/ringsim/progress.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "models/units.hpp"

namespace ringsim::cli {

namespace {
constexpr double kTtyPeriodS = 0.2;   // redraw often enough to look alive
constexpr double kLogPeriodS = 2.0;   // but keep logs to a line every 2 s
}  // namespace

Progress::Progress(std::ostream& err, bool enabled, bool tty, std::uint64_t total_steps, std::size_t total_points)
    : err_(err), enabled_(enabled), tty_(tty), total_steps_(total_steps), total_points_(total_points) {}

std::function<void(std::uint64_t, std::uint64_t)> Progress::callback() {
  if (!enabled_) return {};
  return [this](std::uint64_t done, std::uint64_t) {
    std::lock_guard lock(mutex_);
    steps_in_point_ = done;
    print_locked();
  };
}

void Progress::point_done(std::uint64_t steps) {
  std::lock_guard lock(mutex_);
  steps_before_point_ += steps;
  steps_in_point_ = 0;
  ++points_done_;
  if (enabled_) print_locked();
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (enabled_ && tty_ && printed_) err_ << '\n' << std::flush;
}

void Progress::print_locked() {
  auto now = Clock::now();
  double since_print = std::chrono::duration<double>(now - last_print_).count();
  if (since_print < (tty_ ? kTtyPeriodS : kLogPeriodS)) return;
  last_print_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double done = static_cast<double>(steps_before_point_ + steps_in_point_);
  double rate = elapsed > 0 ? done / elapsed : 0;
  double total = static_cast<double>(total_steps_);
  std::string left = rate > 0 ? format_seconds((total - done) / rate) : "?";
  std::string line = fmt::format("ringsim: {}/{} points, {:.3g} M device-steps/s, elapsed {}, left ~{} [measured]",
                                 points_done_, total_points_, rate / 1e6, format_seconds(elapsed), left);
  if (tty_) fmt::print(err_, "\r{:<100}", line);
  else fmt::print(err_, "{}\n", line);
  err_.flush();
  printed_ = true;
}

}  // namespace ringsim::cli
