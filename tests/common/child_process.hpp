// A program run as a child process (posix_spawn), for tests that need the
// real binary: exit codes and deaths by signal, standard output to a file or
// captured, standard error captured, a wall-clock limit and a limit on
// silence (no output on stderr for so long: a hang without progress).
// Used by tests/tools/test_process.cpp and the scenario fuzzer.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace ringsim::test {

struct ChildOptions {
  std::vector<std::string> set_env;    // "NAME=value", added or replacing
  std::vector<std::string> unset_env;  // NAME
  std::string stdout_path;             // empty: captured in ChildResult::out
  double timeout_s = 120;              // then SIGKILL (timed_out)
  double silence_s = 0;                // > 0: SIGKILL after this long with nothing on stderr (silent)
};

struct ChildResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false, silent = false;
  std::string out, err;
  double seconds = 0;
};

class Child {
 public:
  Child(const std::vector<std::string>& argv, const ChildOptions& options) : options_(options) {
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (options.stdout_path.empty()) posix_spawn_file_actions_adddup2(&fa, out_pipe[1], STDOUT_FILENO);
    else posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, options.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], STDERR_FILENO);
    std::vector<std::string> env = environment();
    std::vector<char*> envp, args;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> words = argv;
    for (std::string& w : words) args.push_back(w.data());
    args.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    start_ = last_err_ = Clock::now();
  }
  ~Child() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {out_fd_, err_fd_})
      if (fd >= 0) ::close(fd);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void signal(int sig) { ::kill(pid_, sig); }
  const std::string& err_so_far() const { return result_.err; }

  // Reads its output until `until()` holds, it ends, or a limit passes;
  // true when `until()` held.
  bool wait_until(const std::function<bool()>& until) {
    while (!done_) {
      if (until && until()) return true;
      pump(50);
      reap(WNOHANG);
      const double now_s = seconds_since(start_), silent_s = seconds_since(last_err_);
      if (!done_ && now_s > options_.timeout_s) kill_for(result_.timed_out);
      if (!done_ && options_.silence_s > 0 && silent_s > options_.silence_s) kill_for(result_.silent);
    }
    while (pump(0)) {
    }
    return until && until();
  }
  ChildResult wait() {
    wait_until({});
    result_.seconds = seconds_since(start_);
    return result_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

  std::vector<std::string> environment() const {
    std::vector<std::string> env;
    auto overridden = [&](const std::string& entry) {
      const std::string name = entry.substr(0, entry.find('='));
      for (const std::string& u : options_.unset_env)
        if (u == name) return true;
      for (const std::string& s : options_.set_env)
        if (s.substr(0, s.find('=')) == name) return true;
      return false;
    };
    for (char** e = environ; *e; ++e)
      if (!overridden(*e)) env.emplace_back(*e);
    env.insert(env.end(), options_.set_env.begin(), options_.set_env.end());
    return env;
  }
  // Reads what is ready on the pipes; false when nothing came.
  bool pump(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};  // a closed pipe is -1: skipped
    if (out_fd_ < 0 && err_fd_ < 0) {
      if (timeout_ms > 0) ::usleep(static_cast<useconds_t>(timeout_ms) * 1000);
      return false;
    }
    if (::poll(fds, 2, timeout_ms) <= 0) return false;
    bool got = false;
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {  // end of file: stop polling it
        ::close(fds[i].fd);
        (i == 0 ? out_fd_ : err_fd_) = -1;
        continue;
      }
      got = true;
      (i == 0 ? result_.out : result_.err).append(buf, static_cast<std::size_t>(n));
      if (i == 1) last_err_ = Clock::now();
    }
    return got;
  }
  void reap(int flags) {
    int status = 0;
    if (::waitpid(pid_, &status, flags) != pid_) return;
    done_ = true;
    if (WIFEXITED(status)) result_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_.signal = WTERMSIG(status);
  }
  void kill_for(bool& reason) {
    reason = true;
    ::kill(pid_, SIGKILL);
    reap(0);
  }

  ChildOptions options_;
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  bool done_ = false;
  ChildResult result_;
  Clock::time_point start_, last_err_;
};

inline ChildResult run_child(const std::vector<std::string>& argv, const ChildOptions& options = {}) {
  return Child(argv, options).wait();
}

}  // namespace ringsim::test
