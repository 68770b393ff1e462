// SIGINT and SIGTERM while ringsim writes output files.
//
// The handler leaves each partial file that holds finished points (they are
// whole: a flush in progress completes first), removes those that hold none,
// says which on stderr, and then dies of the signal as it would have (the
// shell sees 128 + signal). FILE itself only ever appears by commit().
//
// Writes and the handler meet through one atomic state (idle / writing /
// dying), so a signal delivered to any thread during a flush is only marked
// pending and acted on when the flush ends.
#pragma once
#include <string>

namespace ringsim::cli {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers
  ~InterruptGuard();  // restores the previous ones; forgets tracked files
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // Returns a slot for a partial file (at most 4 per run).
  int track(const std::string& partial_path);
  void holds_points(int slot);  // the file now holds a finished point: keep it
  void committed(int slot);     // renamed to its final name: nothing to do
};

// Around every write of an output file and the renames that commit them: a
// signal that comes meanwhile is acted on when the (outermost) section ends.
class WriteSection {
 public:
  WriteSection();
  ~WriteSection();
  WriteSection(const WriteSection&) = delete;
  WriteSection& operator=(const WriteSection&) = delete;
};

}  // namespace ringsim::cli
