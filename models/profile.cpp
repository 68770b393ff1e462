// Device profiles: YAML reading and validation (format in profile.hpp).
// Every error is an InputError naming file, 1-based line and key path
// ("cluster.device.tflops", "attention[3].seconds").
#include "models/profile.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>

#include "models/step_costs.hpp"
#include "models/units.hpp"
#include "models/yaml_reader.hpp"

#include "models/input_file.hpp"
#include "models/profile_cache.hpp"

// The source tree's models/profiles (a ringsim run from its build tree) and
// the path from the installed binary to its data (meson's bindir, datadir).
#ifndef RINGSIM_SOURCE_PROFILE_DIR
#define RINGSIM_SOURCE_PROFILE_DIR "models/profiles"
#endif
#ifndef RINGSIM_DATA_FROM_BINDIR
#define RINGSIM_DATA_FROM_BINDIR "../share/ringsim"
#endif

namespace ringsim {

int dtype_bytes(DType t) { return t == DType::kFp32 ? 4 : 2; }

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kBf16: return "bf16";
    case DType::kFp16: return "fp16";
    case DType::kFp32: return "fp32";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view s) {
  for (DType t : {DType::kBf16, DType::kFp16, DType::kFp32}) {
    if (s == dtype_name(t)) return t;
  }
  return std::nullopt;
}

const char* mask_name(MaskKind m) {
  switch (m) {
    case MaskKind::kFull: return "full";
    case MaskKind::kCausalDiagonal: return "causal";
    case MaskKind::kZigzagDiagonal: return "zigzag_diagonal";
  }
  return "?";
}

std::optional<MaskKind> parse_mask(std::string_view s) {
  for (MaskKind m : {MaskKind::kFull, MaskKind::kCausalDiagonal, MaskKind::kZigzagDiagonal}) {
    if (s == mask_name(m)) return m;
  }
  return std::nullopt;
}

const char* transfer_kind_name(TransferKind k) { return k == TransferKind::kLink ? "link" : "copy"; }

std::optional<TransferKind> parse_transfer_kind(std::string_view s) {
  for (TransferKind k : {TransferKind::kLink, TransferKind::kCopy}) {
    if (s == transfer_kind_name(k)) return k;
  }
  return std::nullopt;
}

bool has_interference(const DeviceProfile& p) {
  return p.copy_compute_share > 0 || p.link_compute_share > 0 ||
         std::any_of(p.interference.begin(), p.interference.end(),
                     [](const InterferenceSample& s) { return s.share > 0; }) ||
         std::any_of(p.link_under_compute.begin(), p.link_under_compute.end(),
                     [](const LinkUnderComputeSample& s) {
                       // Copies run only between ranks sharing a card, which the event engine always takes.
                       return s.transport == StepTransport::kNccl && s.factor < 1;
                     });
}

namespace {

namespace fs = std::filesystem;

using Reader = YamlMapReader;

constexpr long long kMaxHeads = 1 << 20;
constexpr long long kMaxTokens = 1LL << 50;

double tflops_value(const Reader& r, const YAML::Node& n, const std::string& k) {
  if (!n.IsScalar()) r.fail(n, k, "expected a rate in TFLOP/s or a string such as \"989 TFLOP/s\"");
  double v = 0;
  try {
    v = parse_quantity(n.Scalar(), Dimension::kFlopsPerSecond);
    // A bare number under `tflops` is in TFLOP/s, the unit the key names.
    if (n.Scalar().find_first_of("Ff") == std::string::npos) v *= 1e12;
  } catch (const QuantityError& e) {
    r.fail(n, k, e.what());
  }
  if (!(v > 0)) r.fail(n, k, fmt::format("must be positive, got \"{}\"", n.Scalar()));
  return v;
}

void read_tflops(const Reader& r, DeviceProfile& p) {
  const YAML::Node n = r.get("tflops");
  if (n.IsScalar()) {
    const double v = tflops_value(r, n, "tflops");
    for (DType t : {DType::kBf16, DType::kFp16, DType::kFp32}) p.flops_per_s[t] = v;
    return;
  }
  if (!n.IsMap()) r.fail(n, "tflops", "expected a number or a map {bf16, fp16, fp32}");
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    const auto t = parse_dtype(k);
    if (!t) r.fail(kv.first, "tflops." + k, "unknown dtype; expected bf16, fp16 or fp32");
    if (p.flops_per_s.count(*t)) r.fail(kv.first, "tflops." + k, "duplicate key");
    p.flops_per_s[*t] = tflops_value(r, kv.second, "tflops." + k);
  }
  if (p.flops_per_s.empty()) r.fail(n, "tflops", "needs at least one dtype");
}

void read_calibration(const Reader& r, DeviceProfile& p) {
  const YAML::Node n = r.get("calibration");
  if (!n.IsMap()) r.fail(n, "calibration", "expected a map of strings");
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    if (!kv.second.IsScalar()) r.fail(kv.second, "calibration." + k, "expected a string");
    if (!p.calibration.emplace(k, kv.second.Scalar()).second) r.fail(kv.first, "calibration." + k, "duplicate key");
  }
}

AttentionSample read_attention(const Reader& s) {
  s.require_map({"dtype", "head_dim", "q_heads", "kv_heads", "mask", "q_tokens", "kv_tokens", "seconds", "tflops",
                 "spread", "suspect", "reason"});
  AttentionSample a{};
  a.dtype = s.choice<DType>("dtype", parse_dtype, "bf16, fp16 or fp32");
  a.mask = s.choice<MaskKind>("mask", parse_mask, "full, causal or zigzag_diagonal");
  a.head_dim = static_cast<int>(s.positive_int("head_dim", kMaxHeads));
  a.q_heads = static_cast<int>(s.positive_int("q_heads", kMaxHeads));
  a.kv_heads = static_cast<int>(s.positive_int("kv_heads", kMaxHeads));
  a.q_tokens = s.positive_int("q_tokens", kMaxTokens);
  a.kv_tokens = s.positive_int("kv_tokens", kMaxTokens);
  a.seconds = s.quantity("seconds", Dimension::kSeconds, true);
  if (s.has("tflops")) s.quantity("tflops", Dimension::kCount, true);  // derived, for readers: only checked
  if (s.has("spread")) a.spread = s.quantity("spread", Dimension::kCount, false);
  if (s.has("suspect")) a.suspect = s.boolean("suspect");
  if (s.has("reason")) a.reason = s.scalar("reason");
  if (a.suspect && a.reason.empty()) s.fail(s.get("suspect"), "reason", "a suspect sample needs a reason");
  return a;
}

GemmSample read_gemm(const Reader& s) {
  s.require_map({"dtype", "m", "n", "k", "seconds", "tflops"});
  GemmSample g{};
  g.dtype = s.choice<DType>("dtype", parse_dtype, "bf16, fp16 or fp32");
  g.m = s.positive_int("m", kMaxTokens);
  g.n = s.positive_int("n", kMaxTokens);
  g.k = s.positive_int("k", kMaxTokens);
  g.seconds = s.quantity("seconds", Dimension::kSeconds, true);
  return g;  // `tflops` is derived, written for readers; ignored here
}

MergeSample read_merge(const Reader& s) {
  s.require_map({"q_tokens", "q_heads", "head_dim", "seconds"});
  MergeSample m{};
  m.q_tokens = s.positive_int("q_tokens", kMaxTokens);
  m.q_heads = static_cast<int>(s.positive_int("q_heads", kMaxHeads));
  m.head_dim = static_cast<int>(s.positive_int("head_dim", kMaxHeads));
  m.seconds = s.quantity("seconds", Dimension::kSeconds, true);
  return m;
}

InterferenceSample read_interference(const Reader& s) {
  s.require_map({"kind", "dtype", "head_dim", "q_heads", "kv_heads", "mask", "q_tokens", "kv_tokens", "bytes", "share"});
  InterferenceSample a{};
  a.kind = s.choice<TransferKind>("kind", parse_transfer_kind, "link or copy");
  a.dtype = s.choice<DType>("dtype", parse_dtype, "bf16, fp16 or fp32");
  a.mask = s.choice<MaskKind>("mask", parse_mask, "full, causal or zigzag_diagonal");
  a.head_dim = static_cast<int>(s.positive_int("head_dim", kMaxHeads));
  a.q_heads = static_cast<int>(s.positive_int("q_heads", kMaxHeads));
  a.kv_heads = static_cast<int>(s.positive_int("kv_heads", kMaxHeads));
  a.q_tokens = s.positive_int("q_tokens", kMaxTokens);
  a.kv_tokens = s.positive_int("kv_tokens", kMaxTokens);
  a.bytes = s.quantity("bytes", Dimension::kBytes, true);
  a.share = s.quantity("share", Dimension::kCount, false);
  if (a.share < 0 || a.share > 1)
    s.fail(s.get("share"), "share", fmt::format("is a fraction of the compute rate, 0 to 1, got {}", a.share));
  return a;
}

void read_kernel_facts(const Reader& r, const std::string& prefix, DeviceProfile& p) {
  if (r.has("kernel")) p.kernel = r.scalar("kernel");
  if (r.has("sm_count")) p.sm_count = static_cast<int>(r.positive_int("sm_count", 1 << 16));
  if (r.has("tile")) {
    const Reader t(r.get("tile"), r.file(), prefix.empty() ? "tile" : prefix + ".tile");
    t.require_map({"block_m", "block_n", "ctas_per_sm"});
    p.tile.block_m = static_cast<int>(t.positive_int("block_m", 1 << 16));
    p.tile.block_n = static_cast<int>(t.positive_int("block_n", 1 << 16));
    p.tile.ctas_per_sm = static_cast<int>(t.positive_int("ctas_per_sm", 1 << 10));
  }
  if (r.has("attention_efficiency")) {
    p.attention_efficiency = r.number_in("attention_efficiency", 0, 1);
    if (!(p.attention_efficiency > 0)) r.fail(r.get("attention_efficiency"), "attention_efficiency", "must be above 0");
  }
}

void read_optional(const Reader& r, const std::string& prefix, DeviceProfile& p) {
  if (r.has("card")) p.card = r.scalar("card");
  if (r.has("source")) {
    const std::string s = r.scalar("source");
    if (s != "measured" && s != "datasheet") r.fail(r.get("source"), "source", fmt::format("expected measured or datasheet, got \"{}\"", s));
    p.measured = s == "measured";
  }
  if (r.has("calibration")) read_calibration(r, p);
  if (r.has("copy_bandwidth")) p.copy_bytes_per_s = r.quantity("copy_bandwidth", Dimension::kBytesPerSecond, true);
  if (r.has("copy_latency")) p.copy_latency_s = r.quantity("copy_latency", Dimension::kSeconds, false);
  for (const auto& [key, field] : {std::pair{"copy_compute_share", &p.copy_compute_share},
                                   std::pair{"link_compute_share", &p.link_compute_share}}) {
    if (!r.has(key)) continue;
    *field = r.quantity(key, Dimension::kCount, false);
    if (*field > 1) r.fail(r.get(key), key, fmt::format("is a fraction of the compute rate, at most 1, got {}", *field));
  }
  if (r.has("launch_overhead")) p.launch_overhead_s = r.quantity("launch_overhead", Dimension::kSeconds, false);
  if (r.has("reserved_memory")) p.reserved_memory_bytes = r.quantity("reserved_memory", Dimension::kBytes, false);
  if (r.has("attention")) read_yaml_samples(r, prefix, "attention", read_attention, p.attention);
  if (r.has("merge")) read_yaml_samples(r, prefix, "merge", read_merge, p.merge);
  if (r.has("interference")) read_yaml_samples(r, prefix, "interference", read_interference, p.interference);
  if (r.has("backward")) read_yaml_samples(r, prefix, "backward", read_attention, p.backward);
  if (r.has("gemm")) read_yaml_samples(r, prefix, "gemm", read_gemm, p.gemm);
  if (r.has("gemm_efficiency")) {
    p.gemm_efficiency = r.number_in("gemm_efficiency", 0, 1);
    if (!(p.gemm_efficiency > 0)) r.fail(r.get("gemm_efficiency"), "gemm_efficiency", "must be above 0");
  }
  read_kernel_facts(r, prefix, p);
  read_step_cost_samples(r, prefix, p);
}

bool looks_like_name(const std::string& s) {
  const fs::path p(s);
  return s.find('/') == std::string::npos && p.extension() != ".yaml" && p.extension() != ".yml";
}

}  // namespace

DeviceProfile profile_from_yaml(const YAML::Node& node, const std::string& where, const std::string& key_prefix) {
  const Reader r(node, where, key_prefix);
  r.require_map({"name", "card", "source", "calibration", "memory", "hbm_bandwidth", "copy_bandwidth", "copy_latency",
                 "copy_compute_share", "link_compute_share", "tflops",
                 "launch_overhead", "reserved_memory", "attention", "merge", "interference",
                 "backward", "kernel", "sm_count", "tile", "attention_efficiency", "step_overhead", "link_under_compute",
                 "gemm", "gemm_efficiency"});
  DeviceProfile p;
  p.name = r.scalar("name");
  if (p.name.empty()) r.fail(r.get("name"), "name", "must not be empty");
  p.memory_bytes = r.quantity("memory", Dimension::kBytes, true);
  p.hbm_bytes_per_s = r.quantity("hbm_bandwidth", Dimension::kBytesPerSecond, true);
  read_tflops(r, p);
  read_optional(r, key_prefix, p);
  if (p.reserved_memory_bytes >= p.memory_bytes) {
    r.fail(r.get("reserved_memory"), "reserved_memory", "must be less than memory");
  }
  p.origin = key_prefix.empty() ? where : "inline";
  return p;
}

namespace {

std::string& profile_dir_flag() {
  static std::string dir;
  return dir;
}

}  // namespace

std::string executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

void set_profile_dir_flag(const std::string& dir) { profile_dir_flag() = dir; }

std::vector<ProfileDir> profile_dirs() {
  std::vector<ProfileDir> dirs;
  auto add = [&](std::string path, const char* source) {
    std::error_code ec;
    const bool exists = !path.empty() && fs::is_directory(path, ec);
    dirs.push_back({std::move(path), source, exists});
  };
  add(profile_dir_flag(), "--profile-dir");
  const char* env = std::getenv("RINGSIM_PROFILE_DIR");
  add(env ? env : "", "RINGSIM_PROFILE_DIR");
  const std::string exe_dir = executable_dir();
  add(exe_dir.empty() ? "" : (fs::path(exe_dir) / RINGSIM_DATA_FROM_BINDIR / "profiles").lexically_normal().string(),
      "next to the executable");
  add(RINGSIM_SOURCE_PROFILE_DIR, "source tree");
  return dirs;
}

std::vector<std::string> profile_names_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".yaml" && e.is_regular_file(ec)) names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> shipped_profile_names() {
  std::vector<std::string> names;
  for (const ProfileDir& d : profile_dirs()) {
    if (!d.exists) continue;
    for (std::string& n : profile_names_in(d.path)) names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

DeviceProfile load_profile(const std::string& name_or_path, const std::string& base_dir) {
  std::error_code ec;
  std::vector<fs::path> candidates;
  const std::vector<ProfileDir> dirs = profile_dirs();
  if (looks_like_name(name_or_path)) {
    for (const ProfileDir& d : dirs)
      if (d.exists) candidates.push_back(fs::path(d.path) / (name_or_path + ".yaml"));
  }
  const fs::path given(name_or_path);
  if (given.is_relative() && !base_dir.empty()) candidates.push_back(fs::path(base_dir) / given);
  candidates.push_back(given);
  const auto found = std::find_if(candidates.begin(), candidates.end(),
                                  [&](const fs::path& c) { return fs::exists(c, ec); });
  if (found == candidates.end()) {
    if (looks_like_name(name_or_path)) {
      std::vector<std::string> searched;
      for (const ProfileDir& d : dirs)
        if (d.exists) searched.push_back(d.path);
      throw InputError(name_or_path, 0, "", fmt::format("unknown device profile \"{}\"; known profiles: {} (in {}; "
                                                        "see ringsim profiles)", name_or_path,
                                                        fmt::join(shipped_profile_names(), ", "),
                                                        fmt::join(searched, ", ")));
    }
    throw InputError(name_or_path, 0, "", "profile file not found");
  }
  const std::string file = found->string();
  const std::string text = read_input_file(file, "profile");
  if (std::optional<DeviceProfile> kept = cached_profile(text)) {  // models/profile_cache.hpp: the same bytes parsed before
    kept->origin = file;
    return std::move(*kept);
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, "", e.msg);
  }
  DeviceProfile p = profile_from_yaml(root, file);
  cache_profile(text, p);
  return p;
}

}  // namespace ringsim
