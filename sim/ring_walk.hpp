// Mode kWalk: the makespan of a pass-KV ring from its heaviest walk, in time
// independent of the ring size (a few thousand closed-form walks), for rings
// whose link times repeat with the node size and whose only other link is the
// wrap P-1 -> 0. It is how ringsim simulates 244,140,625 devices exactly.
//
// Walks. With S[d] the start of device d's step s (sim/recurrence.hpp),
// substituting x into S' gives a max-plus linear map
//   S'[d] = max(S[d] + w(d,s), S[d+1] + tx[d], S[d-1] + tx[d-1]),
//   w(d,s) = max(c(d,s), tx[d-1], tx[d]),
// so F[d] = S[d] + c(d,P-1) after N = P-1 steps is the heaviest walk
// d_0 .. d_N ending at d: step s stays (weight w(d_s,s)) or crosses link l
// to a neighbour (weight tx[l]); the walk ends with f(d_N) = c(d_N, N). With
// T(d) = max(tx[d-1], tx[d]) and the block costs D (s = 0), L (s <= d), U:
//   w(d,0) = A(d) = max(D,T(d)); w(d,s) = B(d) = max(L,T(d)) for 1 <= s <= d;
//   w(d,s) = C(d) = max(U,T(d)) for s > d;  f(P-1) = L, f(d) = U otherwise.
//
// Family. A walk "z1, m1 moves, z2, tail": stay at z1 at step 0, m1 moves
// in one direction (to z2), stay at z2, then stop or move without stopping
// to device P-1, arriving at step N. Its weight is a closed form in O(1):
// run sums are prefix sums of the periodic link times, block sums count the
// block's steps s <= z2 (sim/ring_walk.cpp).
//
// Theorem (used by kWalk): some heaviest walk is in the family.
// Proof sketch. (1) A move weighs at most a stay at either of its ends
// (tx[l] <= T(d) <= w(d,s)), so a move followed by its reverse can be
// replaced by two stays, and step 0 by a stay at the move's destination
// (the start is free): take a heaviest walk with fewest moves, then fewest
// stay blocks, then earliest moves. (2) Moving a run of m moves between two
// blocks one step earlier or later changes the weight by the difference of
// two stay weights (moves weigh the same at any time). (3) A device's stay
// weight changes at most at s = 1 and s = d+1; for s >= 1 it is monotone in
// s (non-increasing if L >= U, non-decreasing if U > L). With (2) and the
// choice in (1), every junction after a block that ends at s >= 2 lies at
// that block's switch s = z+1 with weight L > max(U, T(z)) and leads to an
// upper device (L >= U), or the next block starts at its own switch with
// weight U (U > L); such a junction occurs at most once, before the last
// block, so a heaviest walk has at most three blocks, and three only as
// "step 0, run, block ending at its switch, run, last block". (4) L >= U:
// that three-block walk is not heaviest with fewest moves: if every link of
// its first run is at most L, starting on the middle block's device instead
// (its step 0 weighs D there too, by (2) at the first junction) drops the
// first run without loss; if one link exceeds L, its ends outweigh the
// middle block at every step and taking the middle block there gains. Also
// replacing the last move of a walk that ends off P-1 by a stay loses
// nothing, so the walk stops or ends at P-1 (U > L: the same unless the
// last move leaves P-1). (5) L >= U, two blocks, the first ending at its
// switch and a run toward higher indices short of the wrap link: staying at
// step 0, running at once and staying at the second device (lower at every
// step the first block covered) is in the family and weighs no less. Not
// proved: the same two-block walk with any other run, the U > L cases of
// (4) and (5), and the U > L tail leaving P-1. That remainder is checked, not proved, by
// tests/sim/test_ring_walk.cpp: the family against the recurrence on every
// ring up to 2,048 devices and every 7th to 4,096 (six link and cost
// patterns), thousands of random rings (slow NVLink, fast InfiniBand,
// partial last nodes, random periodic links and costs), and the event engine
// on every ring up to 64.
// Independently of the theorem, a result is certified when it meets the
// trivial bound max(D,Tmax) + (N-1) max(L,U,Tmax) + max(L,U) (every step at
// its largest possible weight): `bound_tight` says so. Every seed point on
// H100 nodes with InfiniBand meets it (transfers dominate).
//
// Candidates. Within runs of devices away from 0 and P-1, the weight of a
// family walk is affine in z2 and in m1 along each residue class mod the
// period g, with breakpoints only where a block crosses its switch, a run
// crosses the wrap or reaches device 0 or P-1, or the block empties. So the
// maximum is attained within a few periods of those points: z2 near 0,
// P-1 or P/2, and m1 near 0, z2, P-1-z2 or its largest value. kWalk evaluates
// exactly those (O(g^2) walks); ring_walk_all_forms evaluates every family
// walk (O(P^2), tests only).
//
// The slowest device: the walk's end finishes at the makespan, so it is *a*
// slowest device; whether a lower index ties is not computed.
#pragma once
#include <cstdint>
#include <vector>

#include "models/units.hpp"

namespace ringsim {

struct RingWalkInput {
  long long ring_size = 1;                     // P >= 1
  TimeNs diagonal_ns = 0, lower_ns = 0, upper_ns = 0;  // D, L, U: step 0, s <= d, s > d
  std::vector<TimeNs> link_period_ns;          // link d -> d+1, d < P-1: [d % size()]; size >= 1
  TimeNs wrap_ns = 0;                          // link P-1 -> 0
};

struct RingWalkResult {
  TimeNs makespan_ns = 0;
  long long last_device = 0;  // a device that finishes at the makespan
  std::uint64_t walks = 0;    // family walks evaluated
  bool bound_tight = false;   // makespan meets the trivial upper bound
};

// Throws TimeOverflow when the makespan passes int64 nanoseconds (292 years),
// std::invalid_argument on an empty period or a negative time.
RingWalkResult ring_walk(const RingWalkInput&);
// Every family walk (O(P^2)): the reference the candidate search is tested against.
RingWalkResult ring_walk_all_forms(const RingWalkInput&);

}  // namespace ringsim
