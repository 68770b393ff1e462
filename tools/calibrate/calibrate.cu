// ringsim calibrate: measures the fused chunk-attention kernel and the merge on
// the local GPU over a grid of block shapes and writes a measured profile
// (format: models/profile.hpp).
//
//   ringsim-calibrate --grid quick --out models/profiles/h100-sxm.yaml
//
// Grid (full): q, kv in 512 .. 16384 (powers of two), heads 32 and 8 (MHA),
// head_dim 64 and 128, bf16 and fp16; full mask on every (q, kv), causal and
// zigzag_diagonal on q == kv. quick: q, kv in {1024, 4096, 16384}, heads 32.
// Each sample: 2 warm-up runs, L2 flushed, median of 10 (quick: 5) runs.
// About 2 s of GPU time for the full grid on an H100 (2026-11-26).
#include <cuda_runtime.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/gpu_timing.hpp"
#include "tools/calibrate/calibrate.hpp"
#include "tools/calibrate/device_rates.hpp"
#include "tools/common/cli_errors.hpp"

namespace ringsim {
namespace {

using namespace kernels;

constexpr long long kMaxTokens = 16384;
constexpr int kMaxHeads = 32, kMaxHeadDim = 128;

struct Options {
  std::string out = "-", name, grid = "full";
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
  app.footer("Examples:\n"
             "  ringsim calibrate --out models/profiles/h100-sxm.yaml\n"
             "  ringsim calibrate --grid quick --name my-card -o my-card.yaml");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli::parse_error(app, "ringsim calibrate", e, std::cout, std::cerr) == 0 ? 1 : 2;
  }
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
  double seconds;
};

bool measure_attention(const Options& opt, Buffers& b, GpuTimer& timer, std::vector<Sample>& out,
                       std::string& error) {
  std::vector<long long> sizes;
  if (opt.grid == "quick") sizes = {1024, 4096, 16384};
  else for (long long n = 512; n <= kMaxTokens; n *= 2) sizes.push_back(n);
  const std::vector<int> heads = opt.grid == "quick" ? std::vector<int>{32} : std::vector<int>{32, 8};
  const int reps = opt.grid == "quick" ? 5 : 10;
  for (Dtype dt : {Dtype::kBf16, Dtype::kFp16}) {
    const std::size_t n = kMaxTokens * kMaxHeads * kMaxHeadDim;
    for (auto [p, seed] : {std::pair{b.q, 1}, {b.k, 2}, {b.v, 3}}) {
      const Status st = fill_random_device(p, n, dt, seed, nullptr);
      if (!st.ok()) { error = describe(st); return false; }
    }
    for (int h : heads)
      for (int d : {64, 128})
        for (Mask mask : {Mask::kFull, Mask::kCausal, Mask::kZigzag})
          for (long long q : sizes)
            for (long long kv : sizes) {
              if (mask != Mask::kFull && q != kv) continue;
              ChunkAttentionArgs a{dt, mask, d, h, h, q, kv, b.q, b.k, b.v, b.o, b.lse};
              Status st;
              const double s = timer.median_seconds(
                  [&] { return chunk_attention_forward(a, AttentionVariant::kFused, nullptr, 0, nullptr, nullptr); },
                  2, reps, &st);
              if (!st.ok()) { error = describe(st); return false; }
              out.push_back({a, s});
              std::fprintf(stderr, "  %s d%d h%d %s q%lld kv%lld: %.3f ms, %.1f TFLOP/s\n", dtype_name(dt), d, h,
                           mask_name(mask), q, kv, s * 1e3, chunk_attention_flops(a) / s * 1e-12);
            }
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

void write_profile(std::FILE* f, const Options& opt, const calibrate::DeviceFacts& facts,
                   const calibrate::DeviceRates& rates, const std::vector<Sample>& attn,
                   const std::vector<MergeSampleRow>& merges) {
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  const std::string name = opt.name.empty() ? default_name(facts.card) : opt.name;
  std::fprintf(f, "# Measured by ringsim-calibrate (--grid %s) on %s, %s.\n", opt.grid.c_str(), facts.card.c_str(),
               today_utc().c_str());
  std::fprintf(f, "# copy_bandwidth: cudaMemcpy device-to-device of 1 GiB, counting bytes read + written.\n");
  std::fprintf(f, "# hbm_bandwidth: %s\n", facts.hbm_bytes_per_s > 0 ? "datasheet figure of the detected card"
                                                                      : "no datasheet known: the measured copy rate");
  std::fprintf(f, "# tflops: cuBLAS GEMM 8192^3 (fp32: no tensor cores); launch_overhead: empty-kernel launch rate;\n");
  std::fprintf(f, "# reserved_memory: total - free after context creation. Samples: fused kernel, median of runs, L2 flushed.\n");
  std::fprintf(f, "name: %s\ncard: %s\nsource: measured\n", name.c_str(), facts.card.c_str());
  std::fprintf(f, "calibration: {date: %s, driver: \"%s\", cuda: \"%s\", tool: ringsim-calibrate}\n",
               today_utc().c_str(), facts.driver.c_str(), facts.cuda.c_str());
  std::fprintf(f, "memory: \"%.2f GiB\"\n", facts.memory_bytes / kGiB);
  const double hbm = facts.hbm_bytes_per_s > 0 ? facts.hbm_bytes_per_s : rates.copy_bytes_per_s;
  std::fprintf(f, "hbm_bandwidth: \"%.3g TB/s\"\n", hbm * 1e-12);
  std::fprintf(f, "copy_bandwidth: \"%.3g TB/s\"\n", rates.copy_bytes_per_s * 1e-12);
  std::fprintf(f, "tflops: {bf16: %.1f, fp16: %.1f, fp32: %.1f}\n", rates.bf16_flops * 1e-12,
               rates.fp16_flops * 1e-12, rates.fp32_flops * 1e-12);
  std::fprintf(f, "launch_overhead: \"%.3g us\"\n", rates.launch_s * 1e6);
  std::fprintf(f, "reserved_memory: \"%.3g GiB\"\n", facts.reserved_bytes / kGiB);
  std::fprintf(f, "attention:\n");
  for (const Sample& s : attn)
    std::fprintf(f,
                 "  - {dtype: %s, head_dim: %d, q_heads: %d, kv_heads: %d, mask: %s, q_tokens: %lld, "
                 "kv_tokens: %lld, seconds: %.6g, tflops: %.1f}\n",
                 dtype_name(s.args.dtype), s.args.head_dim, s.args.q_heads, s.args.kv_heads,
                 mask_name(s.args.mask), s.args.q_tokens, s.args.kv_tokens, s.seconds,
                 chunk_attention_flops(s.args) / s.seconds * 1e-12);
  std::fprintf(f, "merge:\n");
  for (const MergeSampleRow& m : merges)
    std::fprintf(f, "  - {q_tokens: %lld, q_heads: %d, head_dim: %d, seconds: %.6g}\n", m.tokens, m.heads,
                 m.head_dim, m.seconds);
}

}  // namespace

int calibrate_main(int argc, char** argv) {
  Options opt;
  if (const int rc = parse(argc, argv, opt); rc != 0) return rc == 1 ? 0 : 2;
  const auto start = std::chrono::steady_clock::now();
  const calibrate::DeviceFacts facts = calibrate::read_device_facts();
  if (facts.card.empty()) {
    std::fprintf(stderr, "ringsim calibrate: no CUDA device could be opened\n");
    return 1;
  }
  std::fprintf(stderr, "ringsim calibrate: times below are measured on %s (%d SMs), grid %s\n", facts.card.c_str(), facts.sm_count, opt.grid.c_str());
  std::string error;
  calibrate::DeviceRates rates;
  std::vector<Sample> attn;
  std::vector<MergeSampleRow> merges;
  {
    GpuTimer timer(nullptr);
    Buffers buffers;
    if (!buffers.alloc()) error = "cudaMalloc of the sample buffers failed";
    if (error.empty()) calibrate::measure_rates(timer, rates, error);
    if (error.empty()) measure_attention(opt, buffers, timer, attn, error);
    if (error.empty()) measure_merge(buffers, timer, merges, error);
  }
  if (!error.empty()) {
    std::fprintf(stderr, "ringsim calibrate: %s\n", error.c_str());
    return 1;
  }
  std::FILE* f = opt.out == "-" ? stdout : std::fopen(opt.out.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "ringsim calibrate: cannot write %s\n", opt.out.c_str());
    return 2;
  }
  write_profile(f, opt, facts, rates, attn, merges);
  if (f != stdout) std::fclose(f);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "ringsim calibrate: %zu attention + %zu merge samples in %.1f s -> %s\n", attn.size(),
               merges.size(), wall, opt.out.c_str());
  return 0;
}

}  // namespace ringsim
