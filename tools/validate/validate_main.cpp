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
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "models/overrides.hpp"
#include "sim/schedule.hpp"
#include "tools/common/cli_errors.hpp"
#include "tools/validate/validate.hpp"
#include "tools/validate/validate_point.hpp"
#include "tools/validate/validate_report.hpp"
#include "tools/validate/validate_steps.hpp"

namespace ringsim {

namespace {

struct Args {
  std::vector<std::string> scenarios;
  std::vector<std::string> sets;  // --set KEY=VALUE (models/overrides.hpp), every scenario
  validate::Options opt;
};

// Throws CLI::ParseError (help and version included) for validate_main.
Args parse(CLI::App& app, int argc, char** argv) {
  Args a;
  ringsim::cli::house_style(app);
  app.add_option("SCENARIO", a.scenarios, "Scenario YAML files (scenarios/validate-*.yaml)")->required()->type_name("FILE");
  CLI::Option* profile =
      app.add_option("--profile", a.opt.profile,
                     "Also simulate with this stored profile (shipped name or path), never recalibrated: "
                     "out-of-sample errors beside the self-calibrated ones; links from the scenario's cluster")
          ->type_name("NAME");
  CLI::Option* transport =
      app.add_option("--transport", a.opt.transport,
                     "With --profile: links from this stored transport profile (models/profiles/links, or a path)")
          ->type_name("NAME")
          ->needs(profile);
  app.add_option("--all-to-all", a.opt.all_to_all,
                 "With --transport: the stored all-to-all transport (e.g. nccl-all-to-all-h200) for Ulysses' and "
                 "pass-q's all-to-alls")
      ->type_name("NAME")
      ->needs(transport);
  app.add_option("--repeats", a.opt.repeats, "Timed runs per point, median reported")
      ->check(CLI::Range(1, 1000000))->type_name("N")->capture_default_str();
  app.add_option("--block-repeats", a.opt.block_repeats, "Timed repeats per calibrated block shape")
      ->check(CLI::Range(1, 1000000))->type_name("N")->capture_default_str();
  app.add_option("--trace-prefix", a.opt.trace_prefix,
                 "Write P<scenario>-<schedule>-P<ring>-r<ranks/gpu>-chunk<tokens>.json per point: measured and "
                 "simulated timelines")
      ->type_name("P");
  app.add_option("--format", a.opt.format, "Output format")
      ->check(CLI::IsMember({"table", "csv", "json"}).description(""))->type_name("table|csv|json")->capture_default_str();
  app.add_flag_callback("--no-interference", [&a] { a.opt.interference = false; },
                        "Do not measure or model transfers slowing compute (profile shares 0)");
  app.add_flag_callback("--no-step-costs", [&a] { a.opt.step_costs = false; },
                        "Do not measure or model per-step costs (profile step_overhead, link_under_compute: launch "
                        "gaps and event waits of each ring step, a transfer's rate beside a running kernel)");
  app.add_option("--save-profile", a.opt.save_profile,
                 "Write the run's self-calibrated profile (every block, merge, interference and step-cost sample "
                 "it measured) to F, for a later run's --profile F (out of sample)")
      ->type_name("F");
  app.add_option("--set", a.sets, "Change a value of every scenario (repeatable), e.g. --set attention.pass=training")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  app.footer("Runs each scenario point's schedule (pass-kv, pass-q, all-gather, ulysses, usp, double-ring) on this\n"
             "machine's GPUs (1-4), checks its output against an fp64 reference, simulates the same point with a\n"
             "profile calibrated here and the measured links, and prints both times. Training points\n"
             "(attention.pass: training) run the forward, then the backward with the forward's O and LSE, each\n"
             "timed apart (backward blocks calibrated here too), dQ and dK/dV checked against fp64. A point's\n"
             "faults.stragglers slow those devices for real (each compute held to slowdown x its GPU time);\n"
             "other faults are refused.\n"
             "Examples:\n"
             "  ringsim validate scenarios/validate-4gpu-passq.yaml\n"
             "  ringsim validate scenarios/validate-2gpu-*.yaml --profile h200-sxm --transport nccl-send-recv-h200\n"
             "  ringsim validate scenarios/validate-2gpu-*.yaml --repeats 10 --format csv\n"
             "  ringsim validate scenarios/validate-1gpu-training.yaml --format json --save-profile here.yaml\n"
             "  ringsim validate scenarios/validate-4gpu-straggler.yaml\n"
             "  ringsim validate scenarios/validate-1gpu-zigzag.yaml --trace-prefix traces/");
  app.parse(argc, argv);
  return a;
}

int run(const Args& a) {
  std::vector<Scenario> scenarios;
  std::vector<std::vector<std::unique_ptr<ring::ExecPlan>>> plans;  // per scenario and point
  std::vector<std::vector<std::unique_ptr<ring::ExecPlan>>> backward;  // the same, training points (else null)
  int gpus_needed = 1;
  for (const std::string& path : a.scenarios) {
    std::vector<Override> overrides;
    for (const std::string& text : a.sets) overrides.push_back(parse_override(text));
    scenarios.push_back(load_scenario(path, overrides));
    plans.emplace_back();
    backward.emplace_back();
    try {
      check_schedules(scenarios.back());
      for (const Point& pt : scenarios.back().points) {
        plans.back().push_back(validate::exec_plan(scenarios.back(), pt));  // bad input: exit 2 before any GPU work
        backward.back().push_back(validate::backward_plan(scenarios.back(), pt));
        gpus_needed = std::max(gpus_needed, plans.back().back()->gpus());
      }
    } catch (const InputError& e) {  // a key set with --set: name the command line
      if (auto aimed = from_command_line(e, scenarios.back().overrides)) throw *aimed;
      throw;
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
  CLI::App app{"Compares the simulator with real runs of the same ring on this machine's GPUs", "ringsim validate"};
  Args args;
  try {
    args = parse(app, argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli::parse_error(app, "ringsim validate", e, std::cout, std::cerr);
  }
  try {
    return run(args);
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
