// The symbolic walk of backward programs: rounds, messages, the Ulysses
// members' local copies, and the final check; see backward_walk.hpp.
#include <algorithm>

#include "backward_walk.hpp"

namespace ringsim::test {

void BackwardWalk::local_copies(long long d) {
  if (copied_[static_cast<std::size_t>(d)]) return;
  copied_[static_cast<std::size_t>(d)] = true;
  const long long u = s_.ulysses_placement == UlyssesPlacement::kInsideNode ? d % u_ : d / r_;
  const int model_kvh = s_.shape.kv_heads, kvh = std::max(1, model_kvh / static_cast<int>(u_));
  const long long rep = u_ > model_kvh ? u_ / model_kvh : 1;
  const long long kv_head = model_kvh >= u_ ? u * kvh : u / rep;
  BufferId dq = table_.find("grad_q_heads");
  if (dq == kNoBuffer) dq = table_.find("dq_acc");
  const BufferId grad_q = table_.find("grad_q"), home = table_.find("grad_kv_heads");
  const double q_in = row_bytes(Tensor::kGradQ, heads_, grad_q), kv_in = row_bytes(Tensor::kGradKv, kvh, home);
  rows_copy(d, Slice{dq, u * rows_, rows_}, Slice{grad_q, 0, rows_, static_cast<double>(u * rows_) * q_in}, rows_,
            row_bytes(Tensor::kGradQ, heads_, dq), q_in, false);
  const BufferId target = rep > 1 ? table_.find("recv_dkv") : table_.find("grad_kv");
  const long long slot = rep > 1 ? (u % rep) * model_kvh + kv_head : kv_head / kvh;
  rows_copy(d, Slice{home, u * rows_, rows_}, Slice{target, 0, rows_, static_cast<double>(slot * rows_) * kv_in}, rows_,
            kv_in, kv_in, false);
}

void BackwardWalk::deliver(const std::vector<Message>& sends, const std::vector<Message>& recvs) {
  for (std::size_t i = 0; i < recvs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {  // receives of one round never land on the same bytes
      const Message& a = recvs[i];
      const Message& b = recvs[j];
      CHECK_FALSE((a.dst == b.dst && a.buffer == b.buffer && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes));
    }
  for (const Message& r : recvs) {
    const auto it = std::find_if(sends.begin(), sends.end(), [&](const Message& m) {
      return m.src == r.src && m.dst == r.dst && m.tag == r.tag;
    });
    REQUIRE(it != sends.end());
    CHECK(it->bytes == r.bytes);
    Buffer& buf = mem_[static_cast<std::size_t>(r.dst)][r.buffer];
    for (const auto& [rel, c] : it->cells) put(buf, r.offset + rel, c);
  }
  CHECK(sends.size() == recvs.size());
}

void BackwardWalk::run() {
  std::vector<ProgramCursor> cursor(static_cast<std::size_t>(p_));
  std::vector<bool> done(static_cast<std::size_t>(p_), false);
  std::vector<std::map<BufferId, int>> live(static_cast<std::size_t>(p_));
  for (int round = 0; std::count(done.begin(), done.end(), false) > 0; ++round) {
    REQUIRE(round < 100000);
    std::vector<Message> sends, recvs;
    std::vector<std::pair<long long, ComputeWork>> computes;
    for (long long d = 0; d < p_; ++d) {
      for (ProgramCursor& c = cursor[static_cast<std::size_t>(d)]; !done[static_cast<std::size_t>(d)];) {
        const Op op = program_.next(d, c);
        if (op.kind == Op::kDone) {
          done[static_cast<std::size_t>(d)] = true;
          if (usp_ && u_ == 1) local_copies(d);
        }
        if (op.kind == Op::kWaitAll || op.kind == Op::kDone) break;
        if (op.kind == Op::kAlloc) ++live[static_cast<std::size_t>(d)][op.buffer];
        if (op.kind == Op::kFree) CHECK(--live[static_cast<std::size_t>(d)][op.buffer] == 0);
        if (op.kind == Op::kSend && usp_ && (op.tag & 0xff) == 6) local_copies(d);  // before the all-to-all back
        if (op.kind == Op::kSend)
          sends.push_back({d, op.peer, op.tag, op.buffer, op.offset_bytes, op.bytes,
                           take(mem_[static_cast<std::size_t>(d)][op.buffer], op.offset_bytes, op.offset_bytes + op.bytes)});
        if (op.kind == Op::kRecv) recvs.push_back({op.peer, d, op.tag, op.buffer, op.offset_bytes, op.bytes, {}});
        if (op.kind == Op::kCompute) computes.emplace_back(d, program_.work(d, c));
      }
    }
    for (const auto& [d, w] : computes) compute(d, w, sends, recvs);
    deliver(sends, recvs);
  }
  for (const auto& per_device : live)
    for (const auto& [buffer, n] : per_device) CHECK(n == 0);
}

void BackwardWalk::check_pairs(const Pairs& got, const std::vector<long long>& qs, const std::vector<long long>& ks) const {
  Pairs want;
  for (long long q : qs)
    for (long long k : ks)
      if (visible(q, k))
        for (int h = 0; h < s_.shape.q_heads; ++h) want[{q, k, h}] = 1;
  CHECK(got.size() == want.size());
  CHECK(got == want);
}

void BackwardWalk::check_home() const {
  std::vector<long long> all_q, all_k;
  for (long long x = 0; x < g_.tokens(); ++x) all_q.push_back(x);
  for (long long x = -g_.cached_tokens(); x < g_.tokens(); ++x) all_k.push_back(x);
  const std::string& name = s_.schedule;
  for (long long d = 0; d < p_; ++d) {
    CAPTURE(d);
    const long long g = usp_ ? (s_.ulysses_placement == UlyssesPlacement::kInsideNode ? d / u_ : d % r_) : d;
    const long long u = usp_ ? (s_.ulysses_placement == UlyssesPlacement::kInsideNode ? d % u_ : d / r_) : 0;
    std::vector<long long> qs, ks;
    for (long long r = usp_ ? u * rows_ : 0; r < (usp_ ? (u + 1) * rows_ : g_.part_tokens()); ++r)
      qs.push_back(q_position(g, r));
    if (usp_) ks = qs;
    else for (long long r = 0; r < g_.kv_rows(); ++r) ks.push_back(kv_position(d, r));
    const auto sum = [&](const char* buffer, double lo, double hi) {
      Pairs all;
      const auto& mine = mem_[static_cast<std::size_t>(d)];
      const auto it = mine.find(table_.find(buffer));
      REQUIRE(it != mine.end());
      for (const auto& [at, c] : it->second)
        if (at >= lo && at < hi)
          for (const auto& [pair, n] : c.pairs) all[pair] += n;
      return all;
    };
    const bool q_home = name == "pass-q" || usp_;
    check_pairs(sum(q_home ? "grad_q" : "dq_acc", 0, 1e300), qs, all_k);
    if (gathered_) {
      const BufferId b = table_.find("gathered_dkv");
      const double chunk = table_.bytes(b) / static_cast<double>(p_);
      check_pairs(sum("gathered_dkv", chunk * d, chunk * (d + 1)), all_q, ks);
    } else {
      check_pairs(sum(name == "pass-q" ? "dkv_acc" : "grad_kv", 0, 1e300), all_q, ks);
    }
  }
}

}  // namespace ringsim::test

namespace ringsim::test {

void BackwardWalk::check_inputs() const {
  for (long long d = 0; d < p_; ++d) {
    CAPTURE(d);
    std::map<BufferId, std::map<double, int>> placed;  // cell starts the placements name
    for (const Placement& p : program_.inputs(d)) {
      const Tensor t = placement_role(p.tensor);
      REQUIRE((t != Tensor::kGradQ && t != Tensor::kGradKv));
      const double rb = row_bytes(t, p.heads, p.buffer);
      CHECK(p.offset_bytes + rb * static_cast<double>(p.rows) <= table_.bytes(p.buffer));
      const Buffer& buf = mem_[static_cast<std::size_t>(d)].at(p.buffer);
      for (long long r = 0; r < p.rows; ++r) {
        const double at = p.offset_bytes + rb * static_cast<double>(r);
        ++placed[p.buffer][at];
        const auto it = buf.find(at);
        REQUIRE(it != buf.end());
        const Label& l = it->second.label;
        CHECK((l.tensor == t && l.part == p.part && l.row == p.row + r && it->second.size == rb));
        if (t != Tensor::kKv) CHECK(l.head == p.head_first);
      }
    }
    for (const auto& [b, buf] : mem_[static_cast<std::size_t>(d)])
      for (const auto& [at, c] : buf) {
        CAPTURE(table_.name(b));
        CHECK(placed[b][at] == 1);  // every row init() put, once
      }
  }
}

void BackwardWalk::check_outputs() const {
  const int group = s_.shape.q_heads / s_.shape.kv_heads;
  std::map<std::pair<long long, int>, int> dq_seen, dkv_seen;  // (position, head) -> placements
  for (long long d = 0; d < p_; ++d) {
    CAPTURE(d);
    for (const Placement& p : program_.outputs(d)) {
      const bool kv = p.tensor == Placement::kGradKeysValues;
      REQUIRE((kv || p.tensor == Placement::kGradQueries));
      const double rb = row_bytes(kv ? Tensor::kGradKv : Tensor::kGradQ, p.heads, p.buffer);
      CHECK(p.offset_bytes + rb * static_cast<double>(p.rows) <= table_.bytes(p.buffer));
      const int h0 = kv ? p.head_first * group : p.head_first, h1 = kv ? (p.head_first + p.heads) * group : h0 + p.heads;
      for (long long r = 0; r < p.rows; ++r) {
        const long long pos = kv ? kv_position(p.part, p.row + r) : q_position(p.part, p.row + r);
        Pairs got, want;
        const double lo = p.offset_bytes + rb * static_cast<double>(r);
        for (const auto& [rel, c] : take(mem_[static_cast<std::size_t>(d)].at(p.buffer), lo, lo + rb))
          for (const auto& [pair, n] : c.pairs) got[pair] += n;
        for (long long x = -g_.cached_tokens(); x < g_.tokens(); ++x)
          for (int h = h0; h < h1; ++h) {
            if (!kv && visible(pos, x)) want[{pos, x, h}] = 1;
            if (kv && x >= 0 && visible(x, pos)) want[{x, pos, h}] = 1;
          }
        CHECK(got == want);
        for (int h = p.head_first; h < p.head_first + p.heads; ++h) ++(kv ? dkv_seen : dq_seen)[{pos, h}];
      }
    }
  }
  for (const auto& [at, n] : dq_seen) CHECK(n == 1);
  for (const auto& [at, n] : dkv_seen) CHECK(n == 1);
  CHECK(static_cast<long long>(dq_seen.size()) == g_.tokens() * s_.shape.q_heads);
  CHECK(static_cast<long long>(dkv_seen.size()) == (g_.tokens() + g_.cached_tokens()) * s_.shape.kv_heads);
}

}  // namespace ringsim::test
