// Progress of a sweep on stderr: points done/total, device-steps/s, elapsed
// and time left (from device-steps, the unit of simulation work: a point of
// ring size n is n^2 device-steps). On a TTY one line rewritten in place
// (\r); otherwise at most one line every 2 s, so logs stay short and quick
// runs print nothing.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>

namespace ringsim::cli {

class Progress {
 public:
  Progress(std::ostream& err, bool enabled, bool tty, std::uint64_t total_steps, std::size_t total_points);
  // For SimOptions::progress of the next point; may be called from sim threads.
  std::function<void(std::uint64_t, std::uint64_t)> callback();
  void point_done(std::uint64_t steps);
  void finish();  // ends the TTY line

 private:
  using Clock = std::chrono::steady_clock;
  void print_locked();
  std::ostream& err_;
  bool enabled_, tty_, printed_ = false;
  std::uint64_t total_steps_, steps_before_point_ = 0, steps_in_point_ = 0;
  std::size_t total_points_, points_done_ = 0;
  Clock::time_point start_ = Clock::now(), last_print_ = start_;
  std::mutex mutex_;
};

}  // namespace ringsim::cli
