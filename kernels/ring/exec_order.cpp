// The host's enqueue order of a run: see exec_order.hpp.
#include "kernels/ring/exec_order.hpp"

#include <map>
#include <set>
#include <string>

namespace ringsim::ring {

namespace {

class Walk {
 public:
  explicit Walk(const ExecPlan& p) : p_(p), n_(static_cast<std::size_t>(p.devices)), round_(n_, 0), start_(n_),
      done_(n_), left_(n_), sent_(p.transfers.size(), 0), cast_(n_), fifo_(static_cast<std::size_t>(p.gpus())),
      next_(fifo_.size(), 0) {
    for (std::size_t d = 0; d < n_; ++d) {
      start_[d] = {OpRef{OpRef::kGate, static_cast<int>(d), 0}};
      for (const ExecRound& r : p_.programs[d].rounds)
        left_[d].push_back(static_cast<int>(r.computes.size() + r.sends.size() + r.recvs.size()) + !r.casts.empty());
      cast_[d].assign(left_[d].size(), 0);
    }
    for (int g = 0; g < p_.gpus(); ++g) fifo_[static_cast<std::size_t>(g)] = p_.fifo(g);
  }

  std::vector<EnqueueStep> run() {
    for (;;) {
      bool progress = false;
      for (std::size_t d = 0; d < n_; ++d) progress |= casts(d);
      progress |= transfers();
      for (std::size_t g = 0; g < fifo_.size(); ++g) progress |= computes(g);
      for (std::size_t d = 0; d < n_; ++d) progress |= advance(d);
      if (progress) continue;
      for (std::size_t d = 0; d < n_; ++d)
        if (live(d))
          throw std::logic_error("exec order: the programs wait on each other forever (device " + std::to_string(d) +
                                 ", round " + std::to_string(round_[d]) + ")");
      return std::move(steps_);
    }
  }

 private:
  bool live(std::size_t d) const { return round_[d] < static_cast<int>(left_[d].size()); }
  const ExecRound& current(std::size_t d) const { return p_.programs[d].rounds[static_cast<std::size_t>(round_[d])]; }
  void issued(std::size_t d, int round, OpRef done) {
    --left_[d][static_cast<std::size_t>(round)];
    done_[d].push_back(done);
  }

  bool casts(std::size_t d) {
    if (!live(d) || current(d).casts.empty() || cast_[d][static_cast<std::size_t>(round_[d])]) return false;
    cast_[d][static_cast<std::size_t>(round_[d])] = 1;
    EnqueueStep s;
    s.kind = EnqueueStep::kCast;
    s.device = static_cast<long long>(d);
    s.round = round_[d];
    s.waits = {start_[d]};
    steps_.push_back(std::move(s));
    const OpRef done{OpRef::kCast, static_cast<int>(d), round_[d]};
    start_[d].push_back(done);  // the rest of the round waits on the casts
    issued(d, round_[d], done);
    return true;
  }

  bool computes(std::size_t g) {
    bool any = false;
    for (std::size_t& k = next_[g]; k < fifo_[g].size(); ++k) {
      const int ci = fifo_[g][k];
      const ExecCompute& c = p_.computes[static_cast<std::size_t>(ci)];
      const auto d = static_cast<std::size_t>(c.device);
      if (round_[d] != c.round) break;  // the card's next compute is not posted yet
      EnqueueStep s;
      s.kind = EnqueueStep::kCompute;
      s.device = c.device;
      s.compute = ci;
      s.waits = {start_[d]};
      steps_.push_back(std::move(s));
      issued(d, c.round, OpRef{OpRef::kCompute, ci, 0});
      any = true;
    }
    return any;
  }

  bool advance(std::size_t d) {
    if (!live(d) || left_[d][static_cast<std::size_t>(round_[d])] > 0) return false;
    if (!done_[d].empty()) start_[d].swap(done_[d]);  // an empty round: the next starts when it did
    done_[d].clear();
    ++round_[d];
    return true;
  }

  bool transfers();
  void group(std::vector<int> ts, TransferPath path) {
    EnqueueStep s;
    s.kind = EnqueueStep::kTransfers;
    s.path = path;
    for (int t : ts) {
      const ExecTransfer& x = p_.transfers[static_cast<std::size_t>(t)];
      std::vector<OpRef> w = start_[static_cast<std::size_t>(x.src)];
      for (const OpRef& r : start_[static_cast<std::size_t>(x.dst)]) w.push_back(r);
      s.waits.push_back(std::move(w));
    }
    for (int t : ts) {
      const ExecTransfer& x = p_.transfers[static_cast<std::size_t>(t)];
      issued(static_cast<std::size_t>(x.src), x.src_round, OpRef{OpRef::kTransferAtSrc, t, 0});
      issued(static_cast<std::size_t>(x.dst), x.dst_round, OpRef{OpRef::kTransferAtDst, t, 0});
    }
    s.transfers = std::move(ts);
    steps_.push_back(std::move(s));
  }
  int gpu(long long device) const { return static_cast<int>(device / p_.ranks_per_gpu); }

  const ExecPlan& p_;
  std::size_t n_;
  std::vector<int> round_;                         // current round per device
  std::vector<std::vector<OpRef>> start_, done_;   // its start; completions of its ops so far
  std::vector<std::vector<int>> left_;             // per device and round: ops not yet enqueued
  std::vector<char> sent_;                         // per transfer
  std::vector<std::vector<char>> cast_;            // per device and round: casts enqueued
  std::vector<std::vector<int>> fifo_;
  std::vector<std::size_t> next_;
  std::vector<EnqueueStep> steps_;
};

bool Walk::transfers() {
  std::vector<int> cross;
  bool any = false;
  for (std::size_t t = 0; t < p_.transfers.size(); ++t) {
    const ExecTransfer& x = p_.transfers[t];
    if (sent_[t] || round_[static_cast<std::size_t>(x.src)] != x.src_round ||
        round_[static_cast<std::size_t>(x.dst)] != x.dst_round)
      continue;
    sent_[t] = 1;
    any = true;
    if (gpu(x.src) == gpu(x.dst)) group({static_cast<int>(t)}, TransferPath::kCopy);
    else cross.push_back(static_cast<int>(t));
  }
  if (cross.empty()) return any;
  std::map<int, int> sends, recvs;  // per card, across cards
  bool one_each = true;
  for (int t : cross) {
    const ExecTransfer& x = p_.transfers[static_cast<std::size_t>(t)];
    one_each = (++sends[gpu(x.src)] == 1) && one_each;
    one_each = (++recvs[gpu(x.dst)] == 1) && one_each;
  }
  if (one_each) group(cross, TransferPath::kPerSource);
  else if (p_.ranks_per_gpu == 1) group(cross, TransferPath::kShared);
  else for (int t : cross) group({t}, TransferPath::kPerSource);
  return true;
}

}  // namespace

std::vector<EnqueueStep> enqueue_order(const ExecPlan& plan) { return Walk(plan).run(); }

}  // namespace ringsim::ring
