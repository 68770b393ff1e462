// Device profiles: what a virtual device can do, from a datasheet or from a
// calibration run on a real card (tools/calibrate writes them).
//
// A profile is YAML (models/profiles/*.yaml are shipped):
//   name: h100-sxm
//   card: NVIDIA H100 80GB HBM3        # card measured, or the datasheet's card
//   source: measured                   # measured | datasheet
//   calibration: {date: 2026-11-26, driver: 580.159.04, cuda: "13.0", tool: ringsim-calibrate}
//   kernel: ringsim-fused-fa2          # the attention kernel the samples time (optional):
//                                      # ringsim-fused-fa2 | ringsim-sm90 | pytorch-sdpa-flash |
//                                      # pytorch-sdpa-cudnn | another name
//   sm_count: 132                      # streaming multiprocessors of the card (optional)
//   tile: {block_m: 128, block_n: 64, ctas_per_sm: 2}   # the kernel's CTA tile (optional):
//                                      # query rows and keys per step of one CTA, CTAs resident per SM
//   attention_efficiency: 0.34         # roofline only: fraction of `tflops` attention reaches
//                                      # (datasheet profiles; default 1); the YAML says where from
//   memory: "80 GiB"                   # capacity
//   hbm_bandwidth: "3.35 TB/s"
//   copy_bandwidth: "2.99 TB/s"        # measured device-to-device copy (optional)
//   copy_latency: "5 us"               # its latency (optional, default 0)
//   copy_compute_share: 0.3            # compute rate an in-flight copy takes (optional, 0)
//   link_compute_share: 0.25           # same, each end of an inter-GPU transfer (optional, 0)
//   tflops: {bf16: 989, fp16: 989, fp32: 67}   # or one number for every dtype
//   launch_overhead: "4 us"            # per kernel launch (optional, default 0)
//   reserved_memory: "1 GiB"           # context + framework (optional, default 0)
//   attention:                         # measured blocks (optional)
//     - {dtype: bf16, head_dim: 128, q_heads: 32, kv_heads: 32, mask: full,
//        q_tokens: 4096, kv_tokens: 4096, seconds: 0.000398, tflops: 345.1,
//        spread: 0.012,                # optional: (max - min) / median over the runs
//        suspect: true, reason: "..."} # optional: flagged by the calibration's FLOPs
//                                      # monotonicity check; the compute model ignores it
//   backward:                          # measured block backwards (optional; fields as
//     - {dtype: bf16, ...}             #   attention:, tflops at 2.5x the forward's flops)
//   merge:                             # measured merges of a block into the accumulator
//     - {q_tokens: 4096, q_heads: 32, head_dim: 128, seconds: 0.00002}
//   interference:                      # measured shares per block shape (optional;
//     - {kind: link, dtype: bf16, head_dim: 128, q_heads: 32, kv_heads: 8,
//        mask: full, q_tokens: 2048, kv_tokens: 2048, bytes: "8 MiB", share: 0.5}
//                                      # kind: link | copy; bytes: the K/V message;
//                                      # no sample of a kind for a block: the scalar)
//   step_overhead:                     # measured per ring step beyond block and merge
//     - {transport: nccl, messages: 2, bytes: "8 MiB", dtype: bf16, head_dim: 128, q_heads: 32,
//        kv_heads: 8, mask: full, q_tokens: 4096, kv_tokens: 4096, seconds: 6.1e-6}
//                                      # transport: nccl | copy; messages: K and V as 1 or 2
//   link_under_compute:                # transfer rate while a block runs / rate alone
//     - {transport: nccl, bytes: "8 MiB", dtype: bf16, head_dim: 128, q_heads: 32, kv_heads: 8,
//        mask: full, q_tokens: 4096, kv_tokens: 4096, factor: 0.85}
//   (both measured by ringsim calibrate --step-costs, kernels/ring/step_costs.hpp;
//    queried through ComputeModel::step_overhead and ::link_rate_factor)
//   gemm_efficiency: 0.79              # GEMMs without `gemm` samples: fraction of `tflops`
//                                      # they reach (optional, default 1); the YAML says where from
//   gemm:                              # measured dense GEMMs C[m x n] = A[m x k] B[k x n]
//     - {dtype: bf16, m: 4096, n: 4096, k: 4096, seconds: 0.000187, tflops: 735.0}
//                                      # (ringsim calibrate --gemm, cuBLAS; the model layers'
//                                      # projections and MLP: models/gemm_model.hpp)
#pragma once
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <string>
#include <vector>

#include "models/input_error.hpp"

namespace YAML { class Node; }

namespace ringsim {

enum class DType { kBf16, kFp16, kFp32 };
int dtype_bytes(DType);
const char* dtype_name(DType);
std::optional<DType> parse_dtype(std::string_view);

// Which part of a q x kv block is computed.
//   kFull: every pair; kCausalDiagonal: query i sees keys j <= i (half the
//   pairs); kZigzagDiagonal: the 2c x 2c block of a zigzag rank against its own
//   chunks (c x c diagonal, c x c full, c x c diagonal, c x c masked: half).
//   A fully masked block costs nothing and is never asked for.
enum class MaskKind { kFull, kCausalDiagonal, kZigzagDiagonal };
const char* mask_name(MaskKind);
std::optional<MaskKind> parse_mask(std::string_view);

struct AttentionSample {  // one measured block
  DType dtype;
  int head_dim, q_heads, kv_heads;
  MaskKind mask;
  long long q_tokens, kv_tokens;
  double seconds;            // median of the runs
  double spread = 0;         // (max - min) / median over the runs; 0 when not recorded
  bool suspect = false;      // breaks FLOPs monotonicity (models/sample_check.hpp); not used
  std::string reason = {};   // why it is suspect
  bool operator==(const AttentionSample&) const = default;  // the profile cache's round-trip test
};

// The attention kernel's CTA tile: a q x kv block with H query heads runs
// ceil(q / block_m) * H CTAs, each over ceil(kv / block_n) key steps, and
// ctas_per_sm of them share one SM. 0: unknown.
struct KernelTile {
  int block_m = 0, block_n = 0, ctas_per_sm = 0;
  bool operator==(const KernelTile&) const = default;  // the profile cache's round-trip test
};

// How a ring step's K/V block moves: NCCL send/recv between cards, or a
// device-to-device copy between ranks sharing a card.
enum class StepTransport { kNccl, kCopy };
const char* step_transport_name(StepTransport);
std::optional<StepTransport> parse_step_transport(std::string_view);

// What a real ring step costs beyond its block and merge timed alone (the
// transfer's NCCL kernels slowing the block, launch gaps, stream and event
// waits, the K/V messages' fixed costs), measured at one block shape and one
// K/V size (kernels/ring/step_costs.hpp). A step charged it takes no
// interference share: the slowdown is inside it.
struct StepOverheadSample {
  StepTransport transport;
  int messages;              // K and V as one message (1) or two (2)
  double bytes;              // K/V bytes per step, all messages together
  DType dtype;
  int head_dim, q_heads, kv_heads;
  MaskKind mask;
  long long q_tokens, kv_tokens;
  double seconds;            // per step
  bool operator==(const StepOverheadSample&) const = default;  // the profile cache's round-trip test
};

// A transfer's rate while a block of this shape runs beside it, as a
// fraction of its rate alone (NCCL's kernels share the SMs), in (0, 1].
struct LinkUnderComputeSample {
  StepTransport transport;
  double bytes;
  DType dtype;
  int head_dim, q_heads, kv_heads;
  MaskKind mask;
  long long q_tokens, kv_tokens;
  double factor;
  bool operator==(const LinkUnderComputeSample&) const = default;  // the profile cache's round-trip test
};

// The share of a GPU's compute rate one in-flight transfer takes while a block
// of this shape runs (kernels/ring/interference.hpp says how it is measured).
enum class TransferKind { kLink, kCopy };
const char* transfer_kind_name(TransferKind);
std::optional<TransferKind> parse_transfer_kind(std::string_view);

struct InterferenceSample {
  TransferKind kind;
  DType dtype;
  int head_dim, q_heads, kv_heads;
  MaskKind mask;
  long long q_tokens, kv_tokens;
  double bytes;  // message size of the transfers measured
  double share;  // in [0, 1]
  bool operator==(const InterferenceSample&) const = default;  // the profile cache's round-trip test
};

struct GemmSample {  // one measured dense GEMM: C[m x n] = A[m x k] B[k x n]
  DType dtype;
  long long m, n, k;
  double seconds;    // median of the runs
  bool operator==(const GemmSample&) const = default;  // the profile cache's round-trip test
};

struct MergeSample {  // one measured merge
  long long q_tokens;
  int q_heads, head_dim;
  double seconds;
  bool operator==(const MergeSample&) const = default;  // the profile cache's round-trip test
};

struct DeviceProfile {
  std::string name;        // "h100-sxm"
  std::string card;        // "NVIDIA H100 80GB HBM3"
  bool measured = false;   // source: measured (true) or datasheet (false)
  std::map<std::string, std::string> calibration;  // date, driver, cuda, tool
  std::string kernel;      // attention kernel the samples time ("ringsim-fused-fa2"); "" unknown
  int sm_count = 0;        // 0: unknown
  KernelTile tile;         // of `kernel`
  double attention_efficiency = 1;  // roofline: fraction of flops_per_s attention reaches
  double memory_bytes = 0;
  double hbm_bytes_per_s = 0;
  double copy_bytes_per_s = 0;       // 0 when not measured; counts bytes read + written
  double copy_latency_s = 0;         // of one device-to-device copy
  // Interference, measured by ringsim validate: the fraction of a GPU's
  // compute rate one in-flight copy (between ranks sharing the GPU) or one
  // end of an inter-GPU transfer (NCCL kernels on the SMs) takes. 0: none.
  // Per block shape in `interference` (ComputeModel::transfer_share); these
  // scalars where no sample of the kind matches the block.
  double copy_compute_share = 0, link_compute_share = 0;
  std::map<DType, double> flops_per_s;  // dense rate per dtype
  double launch_overhead_s = 0;
  double reserved_memory_bytes = 0;
  std::vector<AttentionSample> attention;
  std::vector<MergeSample> merge;
  std::vector<AttentionSample> backward;  // one block's backward as a ring step runs it
  std::vector<InterferenceSample> interference;
  std::vector<StepOverheadSample> step_overhead;
  std::vector<LinkUnderComputeSample> link_under_compute;
  std::vector<GemmSample> gemm;        // dense GEMMs (models/gemm_model.hpp)
  double gemm_efficiency = 1;          // without gemm samples: fraction of flops_per_s GEMMs reach
  std::string origin;      // file it came from, or "inline"
  bool operator==(const DeviceProfile&) const = default;  // the profile cache's round-trip test
};

// Whether transfers and compute slow each other (a scalar share or an
// interference sample above 0, or an NCCL link_under_compute factor below 1):
// then only the event engine models the point.
bool has_interference(const DeviceProfile&);

// A profile name ("h100-sxm", "gtx-1080": see profile_dirs) or a path to a
// YAML file, looked up relative to `base_dir` first. Throws InputError naming file, line and key.
DeviceProfile load_profile(const std::string& name_or_path, const std::string& base_dir);
// From an inline map (a scenario's cluster.device); `where` names the file and
// `key_prefix` ("cluster.device") is put before every key an error names.
DeviceProfile profile_from_yaml(const YAML::Node& node, const std::string& where,
                                const std::string& key_prefix = "");
// Where profile names ("h100-sxm") are looked up, in this order; a name
// resolves in the first directory that has NAME.yaml:
//   1. --profile-dir DIR (the CLI calls set_profile_dir_flag): an explicit flag wins;
//   2. the environment variable RINGSIM_PROFILE_DIR;
//   3. ../share/ringsim/profiles next to the running executable (an installed
//      ringsim; the path follows meson's bindir and datadir);
//   4. the source tree's models/profiles (a ringsim run from its build tree).
struct ProfileDir {
  std::string path;    // empty when the source is not set
  std::string source;  // "--profile-dir", "RINGSIM_PROFILE_DIR", "next to the executable", "source tree"
  bool exists = false;
};
std::vector<ProfileDir> profile_dirs();
void set_profile_dir_flag(const std::string& dir);
std::vector<std::string> profile_names_in(const std::string& dir);  // NAME of every NAME.yaml, sorted
std::vector<std::string> shipped_profile_names();  // over every existing directory, sorted, unique
// Directory of the running program (Linux /proc/self/exe); "" if unknown.
// Profile lookup and `ringsim calibrate`'s hand-over look next to it.
std::string executable_dir();

}  // namespace ringsim
