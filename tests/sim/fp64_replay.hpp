// Races in an enqueue order (kernels/ring/exec_order.hpp) and transfers
// replayed in fp64, for the fp64 program tests (test_schedule_fp64*.cpp).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <set>
#include <vector>

#include "kernels/ring/exec_order.hpp"
#include "models/scenario.hpp"

namespace ringsim::test {

// Happens-before over the enqueue order: an operation happens after what it
// waits on and, transitively, what those waited on. Two accesses to
// overlapping bytes of a device's buffer, one of them a write, must be
// ordered so (else the GPU may run them at once: a race).
class RaceCheck {
 public:
  int id(const ring::OpRef& r) {
    for (std::size_t i = 0; i < refs_.size(); ++i)
      if (refs_[i] == r) return static_cast<int>(i);
    refs_.push_back(r);
    after_.emplace_back();
    return static_cast<int>(refs_.size()) - 1;
  }
  // `r` is enqueued now, waiting on `waits`.
  void enqueue(const ring::OpRef& r, const std::vector<ring::OpRef>& waits) {
    std::set<int> hb;
    for (const ring::OpRef& w : waits) {
      const int i = id(w);
      hb.insert(i);
      hb.insert(after_[static_cast<std::size_t>(i)].begin(), after_[static_cast<std::size_t>(i)].end());
    }
    after_[static_cast<std::size_t>(id(r))] = std::move(hb);
  }
  void access(const ring::OpRef& r, long long device, BufferId b, std::int64_t lo, std::int64_t hi, bool write) {
    const int me = id(r);
    for (const Access& a : log_) {
      if (a.device != device || a.buffer != b || a.hi <= lo || hi <= a.lo || (!a.write && !write) || a.op == me) continue;
      CAPTURE(device);
      CAPTURE(b);
      CHECK(after_[static_cast<std::size_t>(me)].count(a.op) == 1);
    }
    log_.push_back({me, device, b, lo, hi, write});
  }

 private:
  struct Access {
    int op;
    long long device;
    BufferId buffer;
    std::int64_t lo, hi;
    bool write;
  };
  std::vector<ring::OpRef> refs_;
  std::vector<std::set<int>> after_;  // by id: the ops it happens after
  std::vector<Access> log_;
};

using Fp64Memory = std::vector<std::vector<std::vector<double>>>;  // [device][buffer][byte]: one double per byte

// Transfer i of a kTransfers step, replayed: both ends enqueued and checked
// for races, then the bytes copied; returns its two completions.
inline std::array<ring::OpRef, 2> replay_transfer(RaceCheck& races, const ring::ExecPlan& x, const ring::EnqueueStep& step,
                                                  std::size_t i, Fp64Memory& mem) {
  const int t = step.transfers[i];
  const ring::ExecTransfer& tr = x.transfers[static_cast<std::size_t>(t)];
  const ring::OpRef at_src{ring::OpRef::kTransferAtSrc, t, 0}, at_dst{ring::OpRef::kTransferAtDst, t, 0};
  races.enqueue(at_src, step.waits[i]);
  races.enqueue(at_dst, step.waits[i]);
  races.access(at_src, tr.src, tr.src_buffer, tr.src_offset, tr.src_offset + tr.bytes, false);
  races.access(at_dst, tr.dst, tr.dst_buffer, tr.dst_offset, tr.dst_offset + tr.bytes, true);
  const auto& src = mem[static_cast<std::size_t>(tr.src)][static_cast<std::size_t>(tr.src_buffer)];
  std::copy(src.begin() + tr.src_offset, src.begin() + tr.src_offset + tr.bytes,
            mem[static_cast<std::size_t>(tr.dst)][static_cast<std::size_t>(tr.dst_buffer)].begin() + tr.dst_offset);
  return {at_src, at_dst};
}

// The schedule points both fp64 program tests run: every schedule, rings
// up to max_ring, causal or not, contiguous or zigzag, a cached prefix of
// `cached` tokens per part or none (not for the head-splitting schedules,
// nor a causal ulysses on zigzag). fn(schedule, ring, causal, layout, cached tokens).
template <typename Fn>
void for_each_schedule_point(long long max_ring, Fn fn) {
  for (const char* name : {"pass-kv", "pass-q", "all-gather", "double-ring", "usp", "ulysses"})
    for (long long ring = 1; ring <= max_ring; ring *= 2)
      for (bool causal : {false, true})
        for (Layout layout : {Layout::kContiguous, Layout::kZigzag})
          for (long long cached : {0LL, 2LL}) {
            const std::string s = name;
            const bool heads_split = s == "usp" || s == "ulysses";
            if ((heads_split && cached) || (s == "ulysses" && causal && layout != Layout::kContiguous)) continue;
            fn(s, ring, causal, layout, cached * ring);
          }
}

// Whether some attention block (forward or backward) of the plan has a mask
// the chunk kernels lack, refused naming attention.layout.
inline bool refuses_layout(const ring::ExecPlan& plan) {
  bool refused = false;
  for (const ring::ExecCompute& c : plan.computes)
    for (const ring::ExecBlock& b : c.blocks) {
      if (b.block.kind != BlockKind::kAttention && b.block.kind != BlockKind::kAttentionBackward) continue;
      try {
        ring::kernel_mask(b.block);
      } catch (const ring::Unsupported& e) {
        refused = true;
        CHECK(e.key() == "attention.layout");
      }
    }
  return refused;
}

}  // namespace ringsim::test
