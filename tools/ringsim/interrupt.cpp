// Signal handling for partial output files; see interrupt.hpp. Everything
// the handler touches is a fixed-size buffer or a lock-free atomic, and it
// calls only async-signal-safe functions (write, unlink, signal, raise).
#include "tools/ringsim/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace ringsim::cli {

namespace {

constexpr int kMaxTracked = 4;
constexpr std::size_t kMaxPath = 4096;
enum State : int { kIdle, kWriting, kDying };
enum FileState : int { kEmpty, kHoldsPoints, kCommitted };

std::atomic<int> g_state{kIdle};
std::atomic<int> g_pending{0};  // a signal that came during a write
std::atomic<int> g_tracked{0};
std::atomic<int> g_file_state[kMaxTracked];
char g_paths[kMaxTracked][kMaxPath];
struct sigaction g_old_int, g_old_term;
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

void say(const char* text) {
  for (std::size_t left = std::strlen(text); left > 0;) {
    const ssize_t n = ::write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

[[noreturn]] void die(int sig) {
  say(sig == SIGINT ? "\nringsim: interrupted (SIGINT)" : "\nringsim: terminated (SIGTERM)");
  for (int i = 0; i < g_tracked.load(); ++i) {
    const int state = g_file_state[i].load();
    if (state == kCommitted) continue;
    if (state == kHoldsPoints) {
      say("; finished points kept in ");
    } else {
      ::unlink(g_paths[i]);
      say("; no point finished, removed ");
    }
    say(g_paths[i]);
  }
  say("\n");
  // Die of the signal itself (a handler runs with its signal blocked).
  ::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);
}

void on_signal(int sig) {
  int idle = kIdle;
  if (g_state.compare_exchange_strong(idle, kDying)) die(sig);
  if (idle == kWriting) g_pending.store(sig);  // the WriteSection acts on it when it ends
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_tracked.store(0);
  g_pending.store(0);
  g_state.store(kIdle);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  g_tracked.store(0);
}

int InterruptGuard::track(const std::string& partial_path) {
  const int slot = g_tracked.load();
  if (slot >= kMaxTracked || partial_path.size() >= kMaxPath)
    throw std::logic_error("InterruptGuard: too many files or too long a path");
  std::memcpy(g_paths[slot], partial_path.c_str(), partial_path.size() + 1);
  g_file_state[slot].store(kEmpty);
  g_tracked.store(slot + 1);  // published after the path is written
  return slot;
}

void InterruptGuard::holds_points(int slot) { g_file_state[slot].store(kHoldsPoints); }
void InterruptGuard::committed(int slot) { g_file_state[slot].store(kCommitted); }

namespace {
thread_local int t_write_depth = 0;  // sections nest (a commit flushes)
}  // namespace

WriteSection::WriteSection() {
  if (t_write_depth++ > 0) return;
  int idle = kIdle;
  // Dying already (the handler runs on another thread): let it finish.
  while (!g_state.compare_exchange_weak(idle, kWriting)) {
    if (idle == kDying) ::pause();
    idle = kIdle;
  }
}

WriteSection::~WriteSection() {
  if (--t_write_depth > 0) return;
  g_state.store(kIdle);
  if (const int sig = g_pending.exchange(0); sig != 0) on_signal(sig);
}

}  // namespace ringsim::cli
