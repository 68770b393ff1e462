// ringsim calibrate: measures the fused chunk-attention kernel and the merge on
// the local GPU over a grid of block shapes and writes a measured profile
// (format: models/profile.hpp).
//
//   ringsim-calibrate --grid quick --out models/profiles/h100-sxm.yaml
//
// Grid (full): q, kv in 512 .. 16384 (powers of two), heads 32 and 8 (MHA),
// head_dim 64 and 128, bf16 and fp16; full mask on every (q, kv), causal and
// zigzag_diagonal on q == kv. quick: q, kv in {1024, 4096, 16384}, heads 32.
// Each sample: 2 warm-up runs, then --runs (default 10, quick 5) timed runs,
// each a separate launch with L2 flushed, interleaved: run r times every
// sample once (in reverse order on odd rounds), so a drift of clocks or
// temperature spreads over all samples instead of biasing one. The profile
// keeps each sample's median and spread ((max - min) / median), flags samples
// that break FLOPs monotonicity (models/sample_check.hpp: `suspect`, with the
// reason), and records the kernel, its CTA tile and the card's SM count.
// --step-costs adds the per-step costs of the real ring (step_costs_grid.hpp).
// Then the cuBLAS GEMM grid of model.layers (gemm_grid.hpp).
// About 4 s of GPU time for the full grid on an H100 (2026-11-26), plus ~10 s
// with --step-costs.
#include <cuda_runtime.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/gpu_timing.hpp"
#include "models/profile_writer.hpp"
#include "models/sample_check.hpp"
#include "tools/calibrate/backward_samples.hpp"
#include "tools/calibrate/calibrate.hpp"
#include "tools/calibrate/device_rates.hpp"
#include "tools/calibrate/gemm_grid.hpp"
#include "tools/calibrate/profile_check.hpp"
#include "tools/common/cli_errors.hpp"
#if RINGSIM_HAVE_RING
#include "tools/calibrate/step_costs_grid.hpp"
#endif

namespace ringsim {
namespace {

using namespace kernels;

constexpr long long kMaxTokens = 16384;
constexpr int kMaxHeads = 32, kMaxHeadDim = 128;

struct Options {
  std::string out = "-", name, grid = "full";
  int runs = 0;             // timed runs per sample; 0: 10 (full) or 5 (quick)
  bool step_costs = false;  // also measure the real ring's per-step costs
  std::string check;        // a profile to flag (no GPU work)
};

// 0: parsed; 1: --help printed; 2: bad flag (message printed).
int parse(int argc, char** argv, Options& o) {
  CLI::App app{"Times the chunk-attention kernels on GPU 0 and writes a measured device profile", "ringsim calibrate"};
  ringsim::cli::house_style(app);
  app.add_option("-o,--out", o.out, "Profile YAML to write (-: standard output)")->type_name("FILE")->capture_default_str();
  app.add_option("--name", o.name, "Profile name (default: from the card, e.g. h100-sxm)");
  app.add_option("--grid", o.grid, "full: q, kv 512..16384, heads 32 and 8; quick: q, kv 1K/4K/16K, heads 32")
      ->check(CLI::IsMember({"full", "quick"}).description(""))
      ->type_name("full|quick")
      ->capture_default_str();
  app.add_option("--runs", o.runs, "Timed runs per sample, interleaved over the grid (default 10, quick 5)")
      ->check(CLI::Range(3, 1000))
      ->type_name("N");
  app.add_flag("--step-costs", o.step_costs,
               "Also time what a ring step costs beyond its block and merge (copy on GPU 0, NCCL between GPUs 0 "
               "and 1 when there are two): step_overhead, link_under_compute");
  app.add_option("--check", o.check,
                 "No timing: flag FILE's samples that break FLOPs monotonicity (suspect: true and a reason; "
                 "models/sample_check.hpp) and rewrite it, e.g. after tools/calibrate/sdpa_calibrate.py")
      ->type_name("FILE");
  app.footer("Examples:\n"
             "  ringsim calibrate --grid full --runs 10 --step-costs --out models/profiles/h100-sxm.yaml\n"
             "  ringsim calibrate --grid quick --name my-card -o my-card.yaml\n"
             "  ringsim calibrate --check my-card.yaml");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli::parse_error(app, "ringsim calibrate", e, std::cout, std::cerr) == 0 ? 1 : 2;
  }
#if !RINGSIM_HAVE_RING
  if (o.step_costs) {
    std::fprintf(stderr, "ringsim calibrate: --step-costs needs the ring executor (NCCL), not built here\n");
    return 2;
  }
#endif
  if (o.runs == 0) o.runs = o.grid == "quick" ? 5 : 10;
  return 0;
}

std::string default_name(const std::string& card) {
  if (card.find("H200") != std::string::npos) return "h200-sxm";
  if (card.find("H100") != std::string::npos && card.find("HBM3") != std::string::npos) return "h100-sxm";
  std::string n;
  for (char c : card) n += std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(c)) : '-';
  return n;
}

struct Buffers {  // sized for the largest sample, reused by all
  void *q = nullptr, *k = nullptr, *v = nullptr;
  float *o = nullptr, *lse = nullptr, *acc_o = nullptr, *acc_lse = nullptr;
  bool alloc() {
    const std::size_t in = kMaxTokens * kMaxHeads * kMaxHeadDim * 2, out = in * 2;
    return cudaMalloc(&q, in) == cudaSuccess && cudaMalloc(&k, in) == cudaSuccess &&
           cudaMalloc(&v, in) == cudaSuccess && cudaMalloc(&o, out) == cudaSuccess &&
           cudaMalloc(&acc_o, out) == cudaSuccess && cudaMalloc(&lse, kMaxTokens * kMaxHeads * 4) == cudaSuccess &&
           cudaMalloc(&acc_lse, kMaxTokens * kMaxHeads * 4) == cudaSuccess;
  }
  ~Buffers() {
    for (void* p : {q, k, v, static_cast<void*>(o), static_cast<void*>(lse), static_cast<void*>(acc_o),
                    static_cast<void*>(acc_lse)})
      cudaFree(p);
  }
};

struct Sample {
  ChunkAttentionArgs args;
  double seconds = 0, spread = 0;  // median and (max - min) / median over the runs
  std::vector<double> runs;
};

std::vector<Sample> attention_grid(const Options& opt, Buffers& b) {
  std::vector<long long> sizes;
  if (opt.grid == "quick") sizes = {1024, 4096, 16384};
  else for (long long n = 512; n <= kMaxTokens; n *= 2) sizes.push_back(n);
  const std::vector<int> heads = opt.grid == "quick" ? std::vector<int>{32} : std::vector<int>{32, 8};
  std::vector<Sample> out;
  for (Dtype dt : {Dtype::kBf16, Dtype::kFp16})
    for (int h : heads)
      for (int d : {64, 128})
        for (Mask mask : {Mask::kFull, Mask::kCausal, Mask::kZigzag})
          for (long long q : sizes)
            for (long long kv : sizes)
              if (mask == Mask::kFull || q == kv) {
                Sample smp;
                smp.args = {dt, mask, d, h, h, q, kv, b.q, b.k, b.v, b.o, b.lse};
                out.push_back(smp);
              }
  return out;
}

bool fill_inputs(Buffers& b, Dtype dt, std::string& error) {
  const std::size_t n = kMaxTokens * kMaxHeads * kMaxHeadDim;
  for (auto [p, seed] : {std::pair{b.q, 1}, {b.k, 2}, {b.v, 3}}) {
    const Status st = fill_random_device(p, n, dt, seed, nullptr);
    if (!st.ok()) { error = describe(st); return false; }
  }
  return true;
}

// Times sample i once (warmup extra runs first); false on a CUDA error.
bool time_once(GpuTimer& timer, Sample& smp, int warmup, std::string& error) {
  Status st;
  const double s = timer.median_seconds(
      [&] { return chunk_attention_forward(smp.args, AttentionVariant::kFused, nullptr, 0, nullptr, nullptr); },
      warmup, 1, &st);
  if (!st.ok()) { error = describe(st); return false; }
  smp.runs.push_back(s);
  return true;
}

// Interleaved rounds (see the file comment). Inputs are refilled when the
// dtype changes, so each dtype's samples run back to back within a round.
bool measure_attention(const Options& opt, Buffers& b, GpuTimer& timer, std::vector<Sample>& out,
                       std::string& error) {
  out = attention_grid(opt, b);
  for (int round = -1; round < opt.runs; ++round) {  // round -1: warm-up
    const auto t0 = std::chrono::steady_clock::now();
    for (Dtype dt : {Dtype::kBf16, Dtype::kFp16}) {
      if (!fill_inputs(b, dt, error)) return false;
      for (std::size_t k = 0; k < out.size(); ++k) {
        Sample& smp = out[round % 2 == 0 ? k : out.size() - 1 - k];
        if (smp.args.dtype != dt) continue;
        if (!time_once(timer, smp, round < 0 ? 1 : 0, error)) return false;
        if (round < 0) smp.runs.clear();
      }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "  attention: %s %d of %d (%zu samples, %.1f s)\n", round < 0 ? "warm-up" : "round",
                 round + 1, opt.runs, out.size(), wall);
  }
  for (Sample& smp : out) {
    std::vector<double> r = smp.runs;
    std::sort(r.begin(), r.end());
    smp.seconds = r.size() % 2 ? r[r.size() / 2] : 0.5 * (r[r.size() / 2 - 1] + r[r.size() / 2]);
    smp.spread = (r.back() - r.front()) / smp.seconds;
  }
  return true;
}

// The samples as the profile's AttentionSamples, flagged by the FLOPs check.
std::vector<AttentionSample> profile_samples(const std::vector<Sample>& attn) {
  std::vector<AttentionSample> out;
  for (const Sample& s : attn) {
    const ChunkAttentionArgs& a = s.args;
    AttentionSample p{a.dtype == Dtype::kBf16 ? DType::kBf16 : DType::kFp16, a.head_dim, a.q_heads, a.kv_heads,
                      a.mask == Mask::kFull ? MaskKind::kFull
                                            : (a.mask == Mask::kCausal ? MaskKind::kCausalDiagonal : MaskKind::kZigzagDiagonal),
                      a.q_tokens, a.kv_tokens, s.seconds};
    p.spread = s.spread;
    out.push_back(p);
  }
  const std::size_t flagged = flag_suspect_samples(out);
  std::fprintf(stderr, "  %zu sample(s) flagged suspect by the FLOPs monotonicity check\n", flagged);
  return out;
}

// The kernel's CTA tile: block_m and block_n of the d128 full-mask launch,
// and the fewest CTAs per SM over head dims and masks (the waves the
// compute model counts should not be optimistic).
bool kernel_tile(Buffers& b, KernelTileInfo& out, std::string& error) {
  for (int d : {128, 64})
    for (Mask mask : {Mask::kFull, Mask::kCausal}) {
      KernelTileInfo t;
      const ChunkAttentionArgs a{Dtype::kBf16, mask, d, 32, 32, 4096, 4096, b.q, b.k, b.v, b.o, b.lse};
      const Status st = chunk_attention_tile(a, &t);
      if (!st.ok()) { error = describe(st); return false; }
      if (out.block_m == 0) out = t;
      out.ctas_per_sm = std::min(out.ctas_per_sm, t.ctas_per_sm);
    }
  return true;
}

struct MergeSampleRow {
  long long tokens;
  int heads, head_dim;
  double seconds;
};

bool measure_merge(Buffers& b, GpuTimer& timer, std::vector<MergeSampleRow>& out, std::string& error) {
  // Real-looking accumulator: one fused block's output, merged repeatedly.
  for (long long q = 512; q <= kMaxTokens; q *= 2)
    for (int d : {64, 128}) {
      MergeArgs m{q, kMaxHeads, d, b.acc_o, b.acc_lse, b.o, b.lse};
      Status st = cuda_status(cudaMemset(b.acc_o, 0, q * kMaxHeads * d * 4), "cudaMemset");
      if (st.ok()) st = cuda_status(cudaMemset(b.acc_lse, 0, q * kMaxHeads * 4), "cudaMemset");
      double s = 0;
      if (st.ok()) s = timer.median_seconds([&] { return attention_merge(m, nullptr); }, 2, 10, &st);
      if (!st.ok()) { error = describe(st); return false; }
      out.push_back({q, kMaxHeads, d, s});
    }
  return true;
}

std::string today_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

// What a calibration measured, as the profile it writes.
struct Measured {
  calibrate::DeviceFacts facts;
  calibrate::DeviceRates rates;
  std::vector<Sample> attn;
  std::vector<MergeSampleRow> merges;
  std::vector<calibrate::BackwardSample> backward;
  KernelTileInfo tile;
  std::vector<StepOverheadSample> step_overhead;
  std::vector<LinkUnderComputeSample> link_under_compute;
  std::vector<GemmSample> gemm;  // tools/calibrate/gemm_grid.hpp
  std::string step_note;
};

DeviceProfile profile_of(const Options& opt, const Measured& m) {
  DeviceProfile p;
  p.name = opt.name.empty() ? default_name(m.facts.card) : opt.name;
  p.card = m.facts.card;
  p.measured = true;
  p.calibration = {{"date", today_utc()}, {"driver", m.facts.driver}, {"cuda", m.facts.cuda},
                   {"tool", "ringsim-calibrate"}, {"runs", std::to_string(opt.runs)}};
  p.kernel = m.tile.kernel;
  p.sm_count = m.facts.sm_count;
  p.tile = {m.tile.block_m, m.tile.block_n, m.tile.ctas_per_sm};
  p.memory_bytes = m.facts.memory_bytes;
  p.hbm_bytes_per_s = m.facts.hbm_bytes_per_s > 0 ? m.facts.hbm_bytes_per_s : m.rates.copy_bytes_per_s;
  p.copy_bytes_per_s = m.rates.copy_bytes_per_s;
  p.flops_per_s = {{DType::kBf16, m.rates.bf16_flops}, {DType::kFp16, m.rates.fp16_flops}, {DType::kFp32, m.rates.fp32_flops}};
  p.launch_overhead_s = m.rates.launch_s;
  p.reserved_memory_bytes = m.facts.reserved_bytes;
  p.attention = profile_samples(m.attn);
  for (const MergeSampleRow& r : m.merges) p.merge.push_back({r.tokens, r.heads, r.head_dim, r.seconds});
  for (const calibrate::BackwardSample& b : m.backward) {
    const kernels::ChunkAttentionBackwardArgs& a = b.args;
    p.backward.push_back({a.dtype == Dtype::kBf16 ? DType::kBf16 : DType::kFp16, a.head_dim, a.q_heads, a.kv_heads,
                          a.mask == Mask::kFull ? MaskKind::kFull
                                                : (a.mask == Mask::kCausal ? MaskKind::kCausalDiagonal
                                                                           : MaskKind::kZigzagDiagonal),
                          a.q_tokens, a.kv_tokens, b.seconds});
  }
  flag_suspect_samples(p.backward);  // the same FLOPs check (a constant 2.5x flops factor changes no rate order)
  p.step_overhead = m.step_overhead;
  p.link_under_compute = m.link_under_compute;
  p.gemm = m.gemm;
  return p;
}

std::vector<std::string> comments(const Options& opt, const Measured& m) {
  std::vector<std::string> c = {
      "Measured by ringsim-calibrate (--grid " + opt.grid + ", --runs " + std::to_string(opt.runs) + ") on " +
          m.facts.card + ", " + today_utc() + ".",
      "copy_bandwidth: cudaMemcpy device-to-device of 1 GiB, counting bytes read + written.",
      std::string("hbm_bandwidth: ") + (m.facts.hbm_bytes_per_s > 0 ? "datasheet figure of the detected card"
                                                                     : "no datasheet known: the measured copy rate"),
      "tflops: cuBLAS GEMM 8192^3 (fp32: no tensor cores); launch_overhead: empty-kernel launch rate;",
      "reserved_memory: total - free after context creation.",
      "attention: the fused kernel, L2 flushed, median of --runs separate launches interleaved over the grid;",
      "  spread: (max - min) / median; suspect: breaks FLOPs monotonicity (models/sample_check.hpp), left out.",
      "kernel, tile: the kernel calibrated and its CTA tile (cudaOccupancyMaxActiveBlocksPerMultiprocessor:",
      "  the fewest CTAs per SM over head_dim 64/128 and full/diagonal masks); sm_count: cudaDeviceProp.",
      "backward: fused backward of one block as a ring step runs it (D given, accumulating); tflops counts",
      "  2.5x the forward's flops, halved on diagonals (tools/calibrate/backward_samples.hpp).",
      "gemm: cuBLAS bf16 row-major C = A B (fp32 accumulation, bf16 out), L2 flushed, median of --runs",
      "  (tools/calibrate/gemm_grid.hpp; model.layers' GEMMs, models/gemm_model.hpp)."};
  if (!m.step_note.empty())
    c.push_back("step_overhead, link_under_compute: kernels/ring/step_costs.hpp, " + m.step_note + ".");
  return c;
}

bool measure_steps(const Options& opt, Measured& m, std::string& error) {
  if (!opt.step_costs) return true;
#if RINGSIM_HAVE_RING
  calibrate::StepCostSamples steps;
  if (!calibrate::measure_step_costs(opt.grid == "quick", steps, error)) return false;
  m.step_overhead = steps.overhead;
  m.link_under_compute = steps.link;
  m.step_note = steps.note;
#endif
  return true;
}

}  // namespace

int calibrate_main(int argc, char** argv) {
  Options opt;
  if (const int rc = parse(argc, argv, opt); rc != 0) return rc == 1 ? 0 : 2;
  if (!opt.check.empty()) return calibrate::check_profile(opt.check);
  const auto start = std::chrono::steady_clock::now();
  const calibrate::DeviceFacts facts = calibrate::read_device_facts();
  if (facts.card.empty()) {
    std::fprintf(stderr, "ringsim calibrate: no CUDA device could be opened\n");
    return 1;
  }
  std::fprintf(stderr, "ringsim calibrate: times below are measured on %s (%d SMs), grid %s\n", facts.card.c_str(), facts.sm_count, opt.grid.c_str());
  std::string error;
  Measured m;
  m.facts = facts;
  {
    GpuTimer timer(nullptr);
    Buffers buffers;
    if (!buffers.alloc()) error = "cudaMalloc of the sample buffers failed";
    if (error.empty()) calibrate::measure_rates(timer, m.rates, error);
    if (error.empty()) kernel_tile(buffers, m.tile, error);
    if (error.empty()) measure_attention(opt, buffers, timer, m.attn, error);
    if (error.empty()) measure_merge(buffers, timer, m.merges, error);
    if (error.empty()) calibrate::measure_backward(opt.grid, timer, m.backward, error);
  }
  if (error.empty()) {  // its own timer and buffers: the attention buffers are freed first
    GpuTimer timer(nullptr);
    calibrate::measure_gemm_grid(timer, opt.grid == "quick", opt.runs, m.gemm, error);
  }
  if (error.empty()) measure_steps(opt, m, error);
  if (!error.empty()) {
    std::fprintf(stderr, "ringsim calibrate: %s\n", error.c_str());
    return 1;
  }
  std::ostringstream text;
  write_profile_yaml(text, profile_of(opt, m), comments(opt, m));
  if (opt.out == "-") {
    std::fputs(text.str().c_str(), stdout);
  } else {
    // Written beside the target and renamed, so a failed run never leaves half a profile.
    const std::string partial = opt.out + ".partial";
    std::ofstream f(partial);
    f << text.str();
    f.close();
    if (!f || std::rename(partial.c_str(), opt.out.c_str()) != 0) {
      std::fprintf(stderr, "ringsim calibrate: cannot write %s\n", opt.out.c_str());
      return 2;
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "ringsim calibrate: %zu attention + %zu merge + %zu step + %zu GEMM samples in %.1f s -> %s\n",
               m.attn.size(), m.merges.size(), m.step_overhead.size(), m.gemm.size(), wall, opt.out.c_str());
  return 0;
}

}  // namespace ringsim
