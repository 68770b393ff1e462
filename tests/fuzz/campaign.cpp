// Fuzz campaigns; see campaign.hpp.
#include "tests/fuzz/campaign.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <mutex>
#include <random>
#include <thread>

namespace ringsim::fuzz {

Summary run_campaign(const CampaignOptions& o, std::ostream& log) {
  const Mutator mutator(o.scenario_dir, o.profile_dir);
  std::filesystem::remove_all(o.runner.work_dir);
  std::filesystem::create_directories(o.runner.work_dir);
  Summary s;
  std::mutex mutex;
  std::atomic<std::uint64_t> next{0};
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  auto worker = [&] {
    for (std::uint64_t i = next++; i < o.cases && elapsed() < o.budget_s; i = next++) {
      std::mt19937_64 rng(o.seed * 0x9e3779b97f4a7c15ULL + i);  // case i depends on (seed, i) only
      const FuzzCase c = mutator.make(rng, i);
      const Verdict v = run_case(c, o.runner, i);
      std::lock_guard lock(mutex);
      ++s.run;
      ++s.by_exit[v.exit_code];
      const std::string line = fmt::format("case {} ({}, exit {}, {:.2f} s): {}", i, c.name, v.exit_code, v.seconds, v.why);
      switch (v.outcome) {
        case Outcome::kPass: ++s.passed; break;
        case Outcome::kFail: ++s.failed; s.failures.push_back(line); break;
        case Outcome::kSlow: ++s.slow; s.slows.push_back(line); break;
        case Outcome::kKnown: ++s.known; s.knowns.push_back(line); break;
      }
      if (o.verbose || v.outcome == Outcome::kFail) fmt::print(log, "{}\n", line);
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < std::max(1, o.jobs); ++j) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  s.seconds = elapsed();
  return s;
}

void print_summary(const Summary& s, std::ostream& out) {
  fmt::print(out, "fuzz: {} cases in {:.1f} s: {} passed, {} failed, {} slow (progress printed, stopped at the limit), "
                  "{} known issues owned elsewhere\n", s.run, s.seconds, s.passed, s.failed, s.slow, s.known);
  for (const auto& [code, n] : s.by_exit) fmt::print(out, "  exit {}: {} cases\n", code, n);
  for (const auto* list : {&s.failures, &s.slows, &s.knowns})
    for (const std::string& line : *list) fmt::print(out, "  {}\n", line);
}

}  // namespace ringsim::fuzz
