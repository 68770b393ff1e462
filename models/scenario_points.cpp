// Scenario points: sequence and sweep (tokens, ring_size | chunk_tokens,
// ranks_per_gpu, and per-point overrides of schedule, layout, degrees and
// cached tokens), packed documents, and the checks every point passes before
// anything runs. Format: models/scenario.hpp.
#include <algorithm>
#include <charconv>
#include <optional>

#include "models/scenario_points.hpp"

namespace ringsim {

using namespace yaml;

namespace {

// Fields of sequence or of one sweep point; what a sweep point leaves out
// comes from `base` (the sequence).
struct PointSpec {
  long long tokens = 0;
  std::optional<long long> ring_size, chunk_tokens;
  Point overrides;  // ranks_per_gpu, schedule, layout, degrees, cached_tokens
};

void read_overrides(const Map& m, Point& p) {
  if (m.find("ranks_per_gpu")) p.ranks_per_gpu = read_int(m, "ranks_per_gpu", kMaxGpusPerNode);  // > 0
  if (m.find("schedule")) {
    p.schedule = scalar_text(m, "schedule", "a schedule name");
    if (p.schedule.empty()) throw InputError(m.file(), m.line("schedule"), m.sub("schedule"), "must not be empty");
  }
  if (m.find("layout")) p.layout = read_layout(m, "layout");
  if (m.find("ulysses_degree")) p.ulysses_degree = read_int(m, "ulysses_degree", kMaxRingSize);
  if (m.find("inner_ring")) p.inner_ring = read_int(m, "inner_ring", kMaxRingSize);
  if (m.find("cached_tokens")) p.cached_tokens = read_int(m, "cached_tokens", kMaxTokens, 0);
  if (m.find("pass")) p.pass = read_pass_name(m, "pass");
}

PointSpec read_point_spec(const Map& m, const PointSpec* base) {
  PointSpec spec = base ? *base : PointSpec{};
  if (m.find("tokens") || !base) spec.tokens = read_int(m, "tokens", kMaxTokens);
  const bool has_ring = m.find("ring_size") != nullptr, has_chunk = m.find("chunk_tokens") != nullptr;
  if (has_ring && has_chunk)
    throw InputError(m.file(), m.line("chunk_tokens"), m.sub("chunk_tokens"), "give ring_size or chunk_tokens, not both");
  if (!has_ring && !has_chunk && !base)
    throw InputError(m.file(), m.line(), m.sub("ring_size"), "missing (required): ring_size or chunk_tokens");
  if (has_ring) spec.ring_size = read_int(m, "ring_size", kMaxRingSize), spec.chunk_tokens.reset();
  if (has_chunk) spec.chunk_tokens = read_int(m, "chunk_tokens", kMaxTokens), spec.ring_size.reset();
  if (base) {
    spec.overrides = Point{};  // overrides belong to their sweep point only
    read_overrides(m, spec.overrides);
  }
  return spec;
}

Point resolve_point(const Scenario& s, const Map& m, const PointSpec& spec) {
  Point p = spec.overrides;
  p.tokens = spec.tokens;
  p.ring_size = spec.ring_size.value_or(0);
  p.where = m.path();
  p.line = m.line();
  if (spec.chunk_tokens) {
    const long long chunk = *spec.chunk_tokens;
    if (spec.tokens % chunk != 0)
      throw InputError(m.file(), m.line("chunk_tokens"), m.sub("chunk_tokens"),
                       fmt::format("chunk_tokens {} does not divide tokens {}", chunk, spec.tokens));
    p.ring_size = spec.tokens / chunk;
    if (p.ring_size > kMaxRingSize)
      throw InputError(m.file(), m.line("chunk_tokens"), m.sub("chunk_tokens"),
                       fmt::format("gives ring_size {} (tokens / chunk_tokens), larger than the maximum {}",
                                   p.ring_size, kMaxRingSize));
  }
  check_point(s, p, m.path(), m.line());
  return p;
}

// sequence.documents: a list of lengths, or {count, distribution, sigma, seed}.
DocumentSpec read_documents(const Map& seq) {
  const YAML::Node& node = seq.need("documents");
  const int line = seq.line("documents");
  DocumentSpec d;
  if (node.IsSequence()) {
    if (node.size() == 0) throw InputError(seq.file(), line, "sequence.documents", "is empty");
    for (std::size_t i = 0; i < node.size(); ++i) {
      long long v = 0;
      const std::string& text = node[i].IsScalar() ? node[i].Scalar() : std::string();
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (!node[i].IsScalar() || ec != std::errc() || end != text.data() + text.size() || v <= 0)
        throw InputError(seq.file(), line_of(node[i], line), fmt::format("sequence.documents[{}]", i),
                         fmt::format("expected a positive integer length, got '{}'", text));
      d.lengths.push_back(v);
    }
    return d;
  }
  if (!node.IsMap())
    throw InputError(seq.file(), line, "sequence.documents",
                     fmt::format("expected a list of lengths or a map {{count, distribution, seed}}, got {}",
                                 kind_name(node)));
  Map m(node, "sequence.documents", seq.file(), line, {"count", "distribution", "sigma", "seed"});
  d.count = read_int(m, "count", kMaxTokens);
  if (m.find("distribution")) {
    const std::string& text = scalar_text(m, "distribution", "equal, uniform, exponential or lognormal");
    const auto dist = parse_distribution(text);
    if (!dist)
      throw InputError(m.file(), m.line("distribution"), m.sub("distribution"),
                       fmt::format("unknown distribution '{}' (equal, uniform, exponential or lognormal)", text));
    d.distribution = *dist;
  }
  if (m.find("sigma")) {
    if (d.distribution != LengthDistribution::kLognormal)
      throw InputError(m.file(), m.line("sigma"), m.sub("sigma"), "only the lognormal distribution takes sigma");
    d.sigma = read_quantity(m, "sigma", Dimension::kCount, false);
  }
  if (m.find("seed")) d.seed = static_cast<std::uint64_t>(read_int(m, "seed", kMaxTokens, 0));
  return d;
}

void read_sequence_workload(const Map& seq, Scenario& s) {
  if (seq.find("cached_tokens")) {
    s.cached_tokens = read_int(seq, "cached_tokens", kMaxTokens, 0);
    s.key_lines["sequence.cached_tokens"] = seq.line("cached_tokens");
  }
  if (seq.find("documents")) {
    s.documents = read_documents(seq);
    s.key_lines["sequence.documents"] = seq.line("documents");
  }
}

}  // namespace

Layout read_layout(const Map& m, std::string_view key) {
  const std::string& text = scalar_text(m, key, "contiguous, zigzag or striped");
  const auto layout = parse_layout(text);
  if (!layout)
    throw InputError(m.file(), m.line(key), m.sub(key),
                     fmt::format("unknown layout '{}' (contiguous, zigzag or striped)", text));
  return *layout;
}

Pass read_pass_name(const Map& m, std::string_view key) {
  const std::string& text = scalar_text(m, key, "forward, backward or training");
  const auto pass = parse_pass(text);
  if (!pass)
    throw InputError(m.file(), m.line(key), m.sub(key),
                     fmt::format("unknown pass '{}' (forward, backward or training)", text));
  return *pass;
}

void read_points(const Map& root, Scenario& s) {
  Map seq(root.need("sequence"), "sequence", root.file(), root.line("sequence"),
          {"tokens", "ring_size", "chunk_tokens", "cached_tokens", "documents"});
  read_sequence_workload(seq, s);
  const PointSpec base = read_point_spec(seq, nullptr);
  Point sequence_point = resolve_point(s, seq, base);  // checked even when a sweep replaces it
  const YAML::Node* sweep = root.find("sweep");
  if (!sweep) {
    s.points.push_back(sequence_point);
    return;
  }
  if (!sweep->IsSequence() || sweep->size() == 0)
    throw InputError(s.path, root.line("sweep"), "sweep",
                     sweep->IsSequence() ? "is empty" : fmt::format("expected a list, got {}", kind_name(*sweep)));
  for (std::size_t i = 0; i < sweep->size(); ++i) {
    Map point((*sweep)[i], fmt::format("sweep[{}]", i), s.path, root.line("sweep"),
              {"tokens", "ring_size", "chunk_tokens", "ranks_per_gpu", "schedule", "layout", "ulysses_degree",
               "inner_ring", "cached_tokens", "pass", "faults"});
    s.points.push_back(resolve_point(s, point, read_point_spec(point, &base)));
    if (point.find("faults")) s.points.back().faults = std::make_shared<const FaultSpec>(read_fault_section(point, s.path));
  }
}

void check_point(const Scenario& s, const Point& p, const std::string& where, int line) {
  auto key = [&](const char* k) { return where.empty() ? std::string(k) : fmt::format("{}.{}", where, k); };
  auto fail = [&](const char* k, const std::string& why) { return InputError(s.path, line, key(k), why); };
  if (p.tokens <= 0) throw fail("tokens", fmt::format("must be positive, got {}", p.tokens));
  if (p.tokens > kMaxTokens) throw fail("tokens", fmt::format("{} is larger than the maximum {}", p.tokens, kMaxTokens));
  if (p.ring_size <= 0) throw fail("ring_size", fmt::format("must be positive, got {}", p.ring_size));
  if (p.ring_size > kMaxRingSize)
    throw fail("ring_size", fmt::format("{} is larger than the maximum {}", p.ring_size, kMaxRingSize));
  const PointAttention att = attention_of(s, p);
  const long long parts = layout_parts(att.layout, p.ring_size);
  if (p.tokens % parts != 0)
    throw fail("ring_size", att.layout == Layout::kZigzag
                                ? fmt::format("tokens {} is not divisible by 2 * ring_size = {} (zigzag splits the "
                                              "sequence into 2 * ring_size chunks)", p.tokens, parts)
                                : fmt::format("tokens {} is not divisible by ring_size {}", p.tokens, parts));
  if (p.ranks_per_gpu < 0) throw fail("ranks_per_gpu", fmt::format("must be positive, got {}", p.ranks_per_gpu));
  const long long rpg = ranks_per_gpu(s, p);
  if (rpg > 1 && s.parallel.tensor > 1)
    throw fail("ranks_per_gpu", fmt::format("ranks sharing a GPU with parallel.tensor {} are not modelled",
                                            s.parallel.tensor));
  if (p.ring_size % rpg != 0) {
    // A point without its own ranks_per_gpu takes the cluster's: name that key.
    const std::string owner = p.ranks_per_gpu > 0 ? key("ranks_per_gpu") : "cluster.ranks_per_gpu";
    throw InputError(s.path, line, owner,
                     fmt::format("ring_size {}{} is not a multiple of ranks_per_gpu {} (every GPU holds the "
                                 "same number of ranks)", p.ring_size, where.empty() ? "" : " of " + where, rpg));
  }
  if (p.ring_size > kMaxFullRing && (rpg > 1 || has_interference(s.profile)))
    throw fail("ring_size", fmt::format("{} devices run only in modes folded and walk (above {} the event engine "
                                        "and recurrence are out of reach), which do not model {}",
                                        p.ring_size, kMaxFullRing,
                                        rpg > 1 ? fmt::format("ranks sharing a GPU (ranks_per_gpu {})", rpg)
                                                : fmt::format("the interference samples of profile '{}'", s.profile.name)));
  if (att.documents) {
    try {
      document_lengths(*att.documents, p.tokens);
    } catch (const std::invalid_argument& e) {
      throw InputError(s.path, att.documents_at.line, att.documents_at.key,
                       fmt::format("{} ({} {})", e.what(), where.empty() ? "point" : where, "tokens"));
    }
  }
  // The largest buffer over the whole sequence, in bytes, must fit in int64.
  const long long heads = std::max(s.shape.q_heads, s.shape.kv_heads);
  long long kv_tokens = 0, bytes = 0;
  if (__builtin_add_overflow(p.tokens, att.cached_tokens, &kv_tokens) ||
      __builtin_mul_overflow(kv_tokens, heads * s.shape.head_dim * 8LL, &bytes))
    throw fail("tokens", fmt::format("{} tokens x {} heads x head_dim {} overflows 64-bit byte counts",
                                     kv_tokens, heads, s.shape.head_dim));
  // A lower bound on one device's compute time (all its flops at the peak
  // rate, halved for causal masks) must fit in int64 nanoseconds.
  auto rate = s.profile.flops_per_s.find(s.shape.dtype);
  if (rate != s.profile.flops_per_s.end() && rate->second > 0) {
    // The backward counts 2.5x the forward's flops (README: FLOP convention).
    const double passes = att.pass == Pass::kForward ? 1.0 : att.pass == Pass::kBackward ? 2.5 : 3.5;
    double flops = 4.0 * static_cast<double>(p.chunk_tokens()) * static_cast<double>(kv_tokens) *
                   s.shape.head_dim * s.shape.q_heads * (s.causal ? 0.5 : 1.0) * passes;
    if (flops / rate->second * kNsPerSecond > kMaxSimulatedNs)
      throw fail("tokens", fmt::format("one device would compute for at least {:.3g} years, past the 292 "
                                       "years int64 nanoseconds hold", flops / rate->second / 3.156e7));
  }
}

long long ranks_per_gpu(const Scenario& s, const Point& p) {
  return p.ranks_per_gpu > 0 ? p.ranks_per_gpu : s.ranks_per_gpu;
}

PointAttention attention_of(const Scenario& s, const Point& p) {
  PointAttention a;
  const auto place = [&](const char* point_key, bool on_point, const char* scenario_key, const char* section) {
    if (on_point) return KeyPlace{p.where.empty() ? point_key : fmt::format("{}.{}", p.where, point_key), p.line};
    const auto it = s.key_lines.find(scenario_key);
    const auto sec = s.key_lines.find(section);
    return KeyPlace{scenario_key, it != s.key_lines.end() ? it->second : sec != s.key_lines.end() ? sec->second : 0};
  };
  a.causal = s.causal;
  a.schedule = p.schedule.empty() ? s.schedule : p.schedule;
  a.schedule_at = place("schedule", !p.schedule.empty(), "attention.schedule", "attention");
  a.layout = p.layout.value_or(s.layout);
  a.layout_at = place("layout", p.layout.has_value(), "attention.layout", "attention");
  a.ulysses_on_point = p.ulysses_degree > 0;
  a.ulysses_degree = a.ulysses_on_point ? p.ulysses_degree : s.ulysses_degree;
  a.ulysses_at = place("ulysses_degree", a.ulysses_on_point, "attention.ulysses_degree", "attention");
  a.inner_on_point = p.inner_ring > 0;
  a.inner_ring = a.inner_on_point ? p.inner_ring : s.inner_ring;
  a.inner_at = place("inner_ring", a.inner_on_point, "attention.inner_ring", "attention");
  a.ulysses_placement = s.ulysses_placement;
  a.cached_tokens = p.cached_tokens.value_or(s.cached_tokens);
  a.cached_at = place("cached_tokens", p.cached_tokens.has_value(), "sequence.cached_tokens", "sequence");
  a.documents = s.documents.empty() ? nullptr : &s.documents;
  a.documents_at = place("documents", false, "sequence.documents", "sequence");
  a.ring_at = KeyPlace{p.where.empty() ? "ring_size" : fmt::format("{}.ring_size", p.where), p.line};
  a.pass = p.pass.value_or(s.pass);
  a.pass_at = place("pass", p.pass.has_value(), "attention.pass", "attention");
  a.grad_dtype = s.grad_dtype;
  return a;
}

}  // namespace ringsim
