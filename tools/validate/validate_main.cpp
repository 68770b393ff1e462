// `ringsim validate SCENARIO... [--profile NAME [--transport NAME]] [options]`
// Checks the simulator against real runs of the same schedule on this
// machine's GPUs. Per run: measure the links (d2d copy; NCCL and peer copy
// with 2+ cards). Per point: time the block shapes its program computes
// (fused kernel + merge) into a measured profile, run the point's program on
// the real executor (kernels/ring; warm-up, median of repeats), check its
// output against an fp64 reference, simulate the point (event mode) with
// that profile and the measured links (self-calibrated) and, with --profile,
// with a stored profile that is never recalibrated (out of sample), and
// print measured vs simulated times with their errors. Exit 0: every output
// passed; 1: a check failed or a CUDA/NCCL call failed; 2: bad input or no GPU.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sim/schedule.hpp"
#include "tools/validate/validate.hpp"
#include "tools/validate/validate_point.hpp"
#include "tools/validate/validate_report.hpp"
#include "tools/validate/validate_steps.hpp"

namespace ringsim {

namespace {

constexpr const char* kUsage =
    "usage: ringsim validate SCENARIO... [--profile NAME [--transport NAME]] [--repeats N]\n"
    "                        [--block-repeats N] [--trace-prefix PATH] [--format table|csv|json]\n"
    "  Runs each scenario point's schedule (pass-kv, pass-q, all-gather, ulysses, usp,\n"
    "  double-ring) on this machine's GPUs (1-4), checks its output against an fp64\n"
    "  reference, simulates the same point with a profile calibrated here and the\n"
    "  measured links, and prints both times. Training points (attention.pass: training)\n"
    "  run the forward, then the backward with the forward's O and LSE, each timed apart\n"
    "  (backward blocks calibrated here too), dQ and dK/dV checked against fp64.\n"
    "  --profile NAME     also simulate with this stored profile (shipped name or path),\n"
    "                     never recalibrated: out-of-sample errors beside the\n"
    "                     self-calibrated ones; links from the scenario's cluster figures\n"
    "  --transport NAME   with --profile: links from this stored transport profile\n"
    "                     (models/profiles/links, or a path) instead\n"
    "  --all-to-all NAME  with --transport: the stored all-to-all transport (e.g.\n"
    "                     nccl-all-to-all-h200) for Ulysses' and pass-q's all-to-alls\n"
    "  --repeats N        timed runs per point, median reported (default 5)\n"
    "  --block-repeats N  timed repeats per calibrated block shape (default 10)\n"
    "  --trace-prefix P   write P<scenario>-<schedule>-P<ring>-r<ranks/gpu>-chunk<tokens>.json\n"
    "                     per point: measured and simulated timelines (Chrome/Perfetto)\n"
    "  --format F         table (default), csv or json\n"
    "  --no-interference  do not measure or model transfers slowing compute\n"
    "                     (profile copy_compute_share = link_compute_share = 0)\n"
    "  --no-step-costs    do not measure or model per-step costs (profile step_overhead,\n"
    "                     link_under_compute: launch gaps and event waits of each ring step,\n"
    "                     a transfer's rate beside a running kernel)\n"
    "  --save-profile F   write the run's self-calibrated profile (every block, merge,\n"
    "                     interference and step-cost sample it measured) to F, for a later\n"
    "                     run's --profile F (out of sample)\n"
    "examples:\n"
    "  ringsim validate scenarios/validate-4gpu-passq.yaml\n"
    "  ringsim validate scenarios/validate-1gpu-training.yaml --format json\n"
    "  ringsim validate scenarios/validate-2gpu-*.yaml --profile h200-sxm --transport nccl-send-recv-h200\n";

struct Args {
  std::vector<std::string> scenarios;
  validate::Options opt;
};

int positive_int(const std::string& flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 1 || v > 1000000)
    throw InputError("command line", 0, flag, fmt::format("'{}' is not a positive integer", text));
  return static_cast<int>(v);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string w = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw InputError("command line", 0, w, "needs a value");
      return argv[++i];
    };
    if (w == "--repeats") a.opt.repeats = positive_int(w, value());
    else if (w == "--block-repeats") a.opt.block_repeats = positive_int(w, value());
    else if (w == "--trace-prefix") a.opt.trace_prefix = value();
    else if (w == "--no-interference") a.opt.interference = false;
    else if (w == "--no-step-costs") a.opt.step_costs = false;
    else if (w == "--save-profile") a.opt.save_profile = value();
    else if (w == "--profile") a.opt.profile = value();
    else if (w == "--transport") a.opt.transport = value();
    else if (w == "--all-to-all") a.opt.all_to_all = value();
    else if (w == "--format") {
      a.opt.format = value();
      if (a.opt.format != "table" && a.opt.format != "csv" && a.opt.format != "json")
        throw InputError("command line", 0, w, "expected table, csv or json, got '" + a.opt.format + "'");
    } else if (!w.empty() && w[0] == '-') {
      throw InputError("command line", 0, w, "unknown option (see ringsim validate --help)");
    } else {
      a.scenarios.push_back(w);
    }
  }
  if (a.scenarios.empty()) throw InputError("command line", 0, "", "no scenario given");
  if (!a.opt.all_to_all.empty() && a.opt.transport.empty())
    throw InputError("command line", 0, "--all-to-all", "needs --transport (it sets the out-of-sample links)");
  if (!a.opt.transport.empty() && a.opt.profile.empty())
    throw InputError("command line", 0, "--transport", "needs --profile (it sets the out-of-sample links)");
  return a;
}

int run(const Args& a) {
  std::vector<Scenario> scenarios;
  std::vector<std::vector<std::unique_ptr<ring::ExecPlan>>> plans;  // per scenario and point
  std::vector<std::vector<std::unique_ptr<ring::ExecPlan>>> backward;  // the same, training points (else null)
  int gpus_needed = 1;
  for (const std::string& path : a.scenarios) {
    scenarios.push_back(load_scenario(path));
    check_schedules(scenarios.back());
    plans.emplace_back();
    backward.emplace_back();
    for (const Point& pt : scenarios.back().points) {
      plans.back().push_back(validate::exec_plan(scenarios.back(), pt));  // bad input: exit 2 before any GPU work
      backward.back().push_back(validate::backward_plan(scenarios.back(), pt));
      gpus_needed = std::max(gpus_needed, plans.back().back()->gpus());
    }
  }
  std::optional<validate::StoredModel> stored;
  if (!a.opt.profile.empty()) stored = validate::load_stored(a.opt);
  const int gpus_here = ring::cuda_device_count();
  if (gpus_here == 0) {
    std::fprintf(stderr, "ringsim validate: no CUDA GPU on this machine: nothing can be measured, "
                         "so nothing is validated\n");
    return 2;
  }
  if (gpus_needed > gpus_here) {
    std::fprintf(stderr, "ringsim validate: the scenarios need %d GPUs (ring_size / ranks_per_gpu); "
                         "this machine has %d\n", gpus_needed, gpus_here);
    return 2;
  }
  const std::string card = ring::cuda_device_name(0);
  ring::RingContext ctx(gpus_needed);
  validate::Report report(a.opt.format, card, gpus_needed, ring::cuda_versions(), stored ? &*stored : nullptr);
  const validate::Links links = validate::measure_links(&ctx, a.opt);
  report.links(links);
  validate::Calibration calibration(0);
  validate::InterferenceCalibration interference;
  validate::StepCalibration steps;
  validate::PointShares run_shares;  // every point's, for --save-profile
  validate::PointSteps run_steps;
  std::random_device rd;
  bool all_passed = true;
  for (std::size_t si = 0; si < scenarios.size(); ++si) {
    const Scenario& scn = scenarios[si];
    for (std::size_t pi = 0; pi < scn.points.size(); ++pi) {
      const Point& pt = scn.points[pi];
      const ring::ExecPlan& plan = *plans[si][pi];
      const ring::ExecPlan* bplan = backward[si][pi].get();
      try {  // a failed point is reported and the others still run (a sticky CUDA error fails them too)
        calibration.ensure(plan, a.opt.block_repeats);
        if (bplan) calibration.ensure(*bplan, a.opt.block_repeats);
        const validate::PointShares shares = interference.ensure(plan, ctx, links, a.opt);
        report.shares(pt, shares);
        const validate::PointSteps point_steps = steps.ensure(plan, ctx, links, a.opt);
        report.steps(pt, point_steps);
        DeviceProfile profile = calibration.profile(scn.profile, card, links, shares);
        validate::add_step_samples(profile, point_steps);
        validate::keep_new(run_shares, shares, run_steps, point_steps);
        const std::uint64_t seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
        const validate::Outcome o = validate::validate_point(scn, pt, plan, bplan, ctx, profile, links,
                                                             stored ? &*stored : nullptr, card, a.opt, seed);
        report.point(o, seed);
        all_passed = all_passed && o.passed;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ringsim validate: %s point %zu (%s, ring %lld, %lld tokens) failed: %s\n",
                     scn.name.c_str(), pi + 1, plan.schedule.c_str(), pt.ring_size, pt.tokens, e.what());
        report.failed();
        all_passed = false;
      }
    }
  }
  report.finish();
  if (!a.opt.save_profile.empty() && !scenarios.empty()) {
    DeviceProfile p = calibration.profile(scenarios.front().profile, card, links, run_shares);
    validate::add_step_samples(p, run_steps);
    validate::save_profile(a.opt.save_profile, p, a.scenarios);
  }
  return all_passed ? 0 : 1;
}

}  // namespace

int validate_main(int argc, char** argv) {
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string w = argv[i];
      if (w == "--help" || w == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      }
    }
    return run(parse(argc, argv));
  } catch (const InputError& e) {
    std::fprintf(stderr, "ringsim validate: %s\n", e.what());
    return 2;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "ringsim validate: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ringsim validate: failed: %s\n", e.what());
    return 1;
  }
}

}  // namespace ringsim
