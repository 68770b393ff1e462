// `ringsim validate SCENARIO... [--repeats N] [--trace-prefix PATH]
//                  [--format table|csv|json]`
// Checks the simulator against real runs of the same ring on this machine's
// GPUs. Per run: measure the links (d2d copy; NCCL and peer copy with 2
// cards). Per point: time the block shapes it needs (fused kernel + merge)
// into a measured profile, run the real ring (warm-up, median of repeats),
// check its output against an fp64 reference, simulate the point (event
// mode) with that profile and the measured links, and print measured vs
// simulated time with the error. Exit 0: every output passed; 1: a check
// failed or a CUDA/NCCL call failed; 2: bad input or no GPU.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "tools/common/cli_errors.hpp"
#include "tools/validate/validate.hpp"
#include "tools/validate/validate_point.hpp"
#include "tools/validate/validate_report.hpp"

namespace ringsim {

namespace {

struct Args {
  std::vector<std::string> scenarios;
  validate::Options opt;
};

// Throws CLI::ParseError (help and version included) for validate_main.
Args parse(CLI::App& app, int argc, char** argv) {
  Args a;
  ringsim::cli::house_style(app);
  app.add_option("SCENARIO", a.scenarios, "Scenario YAML files (scenarios/validate-*.yaml)")->required()->type_name("FILE");
  app.add_option("--repeats", a.opt.repeats, "Timed ring runs per point, median reported")
      ->check(CLI::Range(1, 1000000))->type_name("N")->capture_default_str();
  app.add_option("--block-repeats", a.opt.block_repeats, "Timed repeats per calibrated block shape")
      ->check(CLI::Range(1, 1000000))->type_name("N")->capture_default_str();
  app.add_option("--trace-prefix", a.opt.trace_prefix,
                 "Write P<scenario>-P<ring>-chunk<tokens>.json per point: measured and simulated timelines")
      ->type_name("P");
  app.add_option("--format", a.opt.format, "Output format")
      ->check(CLI::IsMember({"table", "csv", "json"}).description(""))->type_name("table|csv|json")->capture_default_str();
  app.add_flag_callback("--no-interference", [&a] { a.opt.interference = false; },
                        "Do not measure or model transfers slowing compute (profile shares 0)");
  app.footer("Runs each scenario point as a real ring on this machine's GPUs (1 or 2), checks its output against an\n"
             "fp64 reference, simulates the same point with a profile calibrated here and the measured links, and\n"
             "prints both times.\n"
             "Examples:\n"
             "  ringsim validate scenarios/validate-1gpu-causal.yaml\n"
             "  ringsim validate scenarios/validate-2gpu-*.yaml --repeats 10 --format csv\n"
             "  ringsim validate scenarios/validate-1gpu-zigzag.yaml --trace-prefix traces/");
  app.parse(argc, argv);
  return a;
}

int run(const Args& a) {
  std::vector<Scenario> scenarios;
  int gpus_needed = 1;
  for (const std::string& path : a.scenarios) {
    scenarios.push_back(load_scenario(path));
    for (const Point& pt : scenarios.back().points)
      gpus_needed = std::max(gpus_needed, validate::ring_config(scenarios.back(), pt).gpus());
  }
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
  validate::Report report(a.opt.format, card, gpus_needed, ring::cuda_versions());
  const validate::Links links = validate::measure_links(&ctx, a.opt);
  report.links(links);
  validate::Calibration calibration(0);
  validate::InterferenceCalibration interference;
  std::random_device rd;
  bool all_passed = true;
  for (const Scenario& scn : scenarios) {
    for (const Point& pt : scn.points) {
      const ring::RingConfig cfg = validate::ring_config(scn, pt);
      calibration.ensure(cfg, a.opt.block_repeats);
      const validate::PointShares shares = interference.ensure(cfg, ctx, links, a.opt);
      report.shares(cfg, shares);
      const DeviceProfile profile = calibration.profile(scn.profile, card, links, shares);
      const std::uint64_t seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
      const validate::Outcome o =
          validate::validate_point(scn, pt, ctx, profile, links, card, a.opt, seed);
      report.point(o, seed);
      all_passed = all_passed && o.passed;
    }
  }
  report.finish();
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
