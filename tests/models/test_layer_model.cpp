// The model around attention: parameter counts against published figures,
// a small model's memory breakdown worked out by hand, the breakdown summing
// to its total, tensor-parallel collectives against the ring closed form, and
// the GEMM model against samples made from a known rate.
#include <doctest/doctest.h>

#include <cmath>

#include "models/collectives.hpp"
#include "models/gemm_model.hpp"
#include "models/layer_model.hpp"

namespace ringsim {

namespace {

AttentionShape llama8b_attention() { return {32, 8, 128, DType::kBf16}; }

// q 4 / kv 2 heads of 8, hidden 32, ffn 64, vocab 100, 2 layers, bf16.
AttentionShape tiny_attention() { return {4, 2, 8, DType::kBf16}; }
ModelSize tiny_size() { return {2, 32, 64, 100}; }

MemoryInputs tiny_inputs(bool training) {
  MemoryInputs in;
  in.tokens = 16;
  in.sharding_group = 4;
  in.attention_bytes = 1000;
  in.reserved_bytes = 500;
  in.training = training;
  return in;
}

}  // namespace

TEST_CASE("parameter counts match the published Llama-3 sizes") {
  // Meta's model cards: Llama-3-8B 8,030,261,248 and Llama-3-70B 70,553,706,496 parameters.
  CHECK(model_params(llama8b_attention(), {32, 4096, 14336, 128256}) == 8030261248.0);
  CHECK(model_params({64, 8, 128, DType::kBf16}, {80, 8192, 28672, 128256}) == 70553706496.0);
}

TEST_CASE("memory breakdown of a small model, by hand") {
  // Per layer: 32*(4+4)*8 + 4*8*32 + 3*32*64 + 2*32 = 9280; model 2*9280 + 2*100*32 + 32 = 24992;
  // per GPU (tensor 2) 12496 parameters. Activations per token per layer:
  // (4*32 + (8+4)*8 + 3*64) * 2 bytes + 4*4 = 848, / 2 = 424.
  Parallelism par{2, 1, false};
  const MemoryBreakdown m = model_memory(tiny_attention(), tiny_size(), par, tiny_inputs(true));
  CHECK(m.of("weights") == 24992);         // 2 bytes x 12496
  CHECK(m.of("gradients") == 24992);       // 2 bytes x 12496, not sharded at zero 1
  CHECK(m.of("optimizer") == 37488);       // 12 bytes x 12496 / 4 ranks
  CHECK(m.of("activations") == 13568);     // 2 layers x 16 tokens x 424
  CHECK(m.of("logits") == 3200);           // 16 tokens x 50 vocab columns x 4 bytes
  CHECK(m.of("kv_cache") == 0);            // training keeps K and V as activations
  CHECK(m.of("attention") == 1000);
  CHECK(m.of("reserved") == 500);
  CHECK(m.total() == 105740);              // the sum of the hand figures above

  SUBCASE("activation checkpointing keeps layer inputs and one layer") {
    par.activation_checkpointing = true;
    const MemoryBreakdown c = model_memory(tiny_attention(), tiny_size(), par, tiny_inputs(true));
    CHECK(c.of("activations") == 2 * 16 * 32 * 2 / 2 + 16 * 424);  // 1024 + 6784
  }
  SUBCASE("zero 2 shards gradients and optimizer, not weights") {
    par.zero = 2;
    const MemoryBreakdown z = model_memory(tiny_attention(), tiny_size(), par, tiny_inputs(true));
    CHECK(z.of("weights") == 24992);
    CHECK(z.of("gradients") == 24992 / 4);
  }
  SUBCASE("zero 3 shards weights, gradients and optimizer over the ring") {
    par.zero = 3;
    const MemoryBreakdown z = model_memory(tiny_attention(), tiny_size(), par, tiny_inputs(true));
    CHECK(z.of("weights") == 24992 / 4);
    CHECK(z.of("gradients") == 24992 / 4);
    CHECK(z.of("optimizer") == 37488);
  }
  SUBCASE("a forward (prefill) holds the KV cache and one layer's activations") {
    const MemoryBreakdown f = model_memory(tiny_attention(), tiny_size(), par, tiny_inputs(false));
    CHECK(f.of("gradients") == 0);
    CHECK(f.of("optimizer") == 0);
    CHECK(f.of("activations") == 16 * 424);
    CHECK(f.of("kv_cache") == 2 * 16 * (2 * 2 * 8 * 2) / 2);  // layers x tokens x K,V of 2 heads x 8 x 2 bytes / t
    CHECK(f.total() == 24992 + 6784 + 1024 + 1000 + 500);
  }
}

TEST_CASE("the verdict names what overflows, largest first, and adds up") {
  const MemoryBreakdown m = model_memory(tiny_attention(), tiny_size(), {2, 1, false}, tiny_inputs(true));
  const MemoryVerdict v = breakdown_verdict(m, 100000);
  CHECK_FALSE(v.fits);
  CHECK(v.peak_bytes == 105740);
  CHECK(v.reason.find("optimizer") < v.reason.find("weights"));
  CHECK(v.reason.find("weights") < v.reason.find("activations"));
  CHECK(breakdown_verdict(m, 105740).fits);
}

TEST_CASE("tensor-parallel collectives: ring steps on an idle node") {
  ClusterSpec c;
  c.gpus_per_node = 8;
  c.intra_node = {100e9, 2000};  // 100 GB/s, 2 us
  c.inter_node = {50e9, 5000};
  // 4 members, 8 MB: each step moves 2 MB at 100 GB/s = 20 us after 2 us of latency.
  CHECK(collective_seconds(c, 4, 8e6, Collective::kAllGather) == doctest::Approx(3 * 22e-6).epsilon(1e-9));
  CHECK(collective_seconds(c, 4, 8e6, Collective::kReduceScatter) == doctest::Approx(3 * 22e-6).epsilon(1e-9));
  CHECK(collective_seconds(c, 4, 8e6, Collective::kAllReduce) == doctest::Approx(6 * 22e-6).epsilon(1e-9));
  CHECK(collective_seconds(c, 1, 8e6, Collective::kAllReduce) == 0);
  CHECK_THROWS(collective_seconds(c, 16, 8e6, Collective::kAllGather));
}

namespace {

// Samples whose seconds per flop is linear in log m and log n (a made-up rate law),
// so trilinear interpolation in log space is exact between them.
double spf_law(double m, double n, double k) { return 1e-15 * (3.0 - 0.1 * std::log2(m) - 0.05 * std::log2(n) + 0 * k); }

DeviceProfile gemm_profile() {
  DeviceProfile p;
  p.name = "gemm-test";
  p.hbm_bytes_per_s = 3e12;
  p.flops_per_s[DType::kBf16] = 1000e12;
  p.gemm_efficiency = 0.5;
  for (long long m : {1024, 4096})
    for (long long n : {1024, 4096})
      for (long long k : {1024, 4096})
        p.gemm.push_back({DType::kBf16, m, n, k, GemmShape{m, n, k}.flops() * spf_law(m, n, k)});
  return p;
}

}  // namespace

TEST_CASE("GEMM model: samples, interpolation in log space, pieces along m, roofline") {
  const DeviceProfile p = gemm_profile();
  const GemmModel g(p, DType::kBf16);
  const GemmShape at{4096, 1024, 4096}, mid{2048, 2048, 2048}, twice{8192, 1024, 1024};
  CHECK(g.cost(at).seconds == doctest::Approx(at.flops() * spf_law(4096, 1024, 4096)));
  CHECK(g.cost(at).calibrated);
  CHECK(g.cost(mid).seconds == doctest::Approx(mid.flops() * spf_law(2048, 2048, 2048)));
  CHECK(g.cost(mid).calibrated);
  // m 8192 beyond the grid: two pieces of m 4096, each inside it.
  const GemmCost split = g.cost(twice);
  CHECK(split.seconds == doctest::Approx(2 * GemmShape{4096, 1024, 1024}.flops() * spf_law(4096, 1024, 1024)));
  CHECK(split.calibrated);
  CHECK(split.reason.find("2 pieces") != std::string::npos);
  // n beyond the grid: the nearest sample's rate, estimated.
  const GemmCost off = g.cost({1024, 16384, 1024});
  CHECK_FALSE(off.calibrated);
  CHECK(off.seconds == doctest::Approx(GemmShape{1024, 16384, 1024}.flops() * spf_law(1024, 4096, 1024)));
  // No bf16 samples: the roofline at gemm_efficiency of the peak, estimated.
  const GemmModel none(p, DType::kFp16);
  DeviceProfile fp16 = p;
  fp16.flops_per_s[DType::kFp16] = 1000e12;
  const GemmModel roof(fp16, DType::kFp16);
  const GemmCost r = roof.cost({8192, 8192, 8192});
  CHECK_FALSE(r.calibrated);
  CHECK(r.seconds == doctest::Approx(2.0 * 8192 * 8192 * 8192 / 500e12));
  CHECK_FALSE(none.has_samples());
}

}  // namespace ringsim
