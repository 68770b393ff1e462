// A symbolic walk of a backward program (tests/sim/test_backward_dataflow.cpp):
// every buffer of every device is a map of cells (byte ranges) that hold
// either an input row -- which tensor, whose part, which row, which heads --
// or a gradient row as the set of (query position, key position, q head)
// pairs summed into it. Programs run one WAIT_ALL round at a time: sends
// carry the cells their byte range covers (which must be fully defined),
// receives place them; blocks check the labels of every row they read,
// then add their pairs to the rows of their gradient targets; the
// elementwise ops copy, zero or add cells. At the end each rank's dQ and
// dK/dV rows must hold every visible pair of their rows exactly once.
#pragma once
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "sim_fixtures.hpp"

namespace ringsim::test {

struct Label {
  Tensor tensor = Tensor::kNone;
  long long part = 0, row = 0;
  int head = 0;  // the q head the rows start at (a Ulysses member's share; 0 otherwise)
  bool operator==(const Label&) const = default;
};
using Pairs = std::map<std::tuple<long long, long long, int>, int>;  // (q position, k position, q head) -> count
struct Cell {
  double size = 0;
  bool grad = false;
  Label label;
  Pairs pairs;
};
using Buffer = std::map<double, Cell>;  // by first byte

class BackwardWalk {
 public:
  explicit BackwardWalk(const Scenario& s);
  void run();    // walks every program, checking as it goes
  void check_home() const;  // every rank's dQ and dK/dV rows hold their pairs once
  // The program's own placements (what a real executor fills and reads):
  // inputs() name exactly the rows init() put (before run), outputs() rows
  // holding every visible pair of their (position, heads) once, and every
  // (position, head) of dQ and dK/dV in exactly one device's outputs.
  void check_inputs() const;
  void check_outputs() const;

 private:
  struct Message {
    long long src, dst;
    std::uint64_t tag;
    BufferId buffer;
    double offset, bytes;
    std::vector<std::pair<double, Cell>> cells;  // relative offsets
  };
  // Sizes and positions.
  double row_bytes(Tensor t, int heads, BufferId buffer) const;
  long long q_position(long long part, long long row) const { return g_.position(part, row); }
  long long kv_position(long long part, long long row) const;
  std::pair<long long, long long> gathered_row(long long x) const;  // position-order row -> (part, part row)
  bool visible(long long q, long long k) const;
  // Cells.
  static void put(Buffer& b, double at, const Cell& c);
  static std::vector<std::pair<double, Cell>> take(const Buffer& b, double lo, double hi);  // must tile [lo, hi)
  void rows_copy(long long d, const Slice& from, const Slice& into, long long rows, double rb_from, double rb_into,
                 bool add);
  // Ops.
  void init(long long d);
  void compute(long long d, const ComputeWork& w, const std::vector<Message>& sends, const std::vector<Message>& recvs);
  void backward_block(long long d, const Block& b);
  void stream_block(long long d, const Block& b);
  void local_copies(long long d);  // Ulysses: the member's own slices, copied locally
  void deliver(const std::vector<Message>& sends, const std::vector<Message>& recvs);
  void check_pairs(const Pairs& got, const std::vector<long long>& qs, const std::vector<long long>& ks) const;

  const Scenario& s_;
  std::unique_ptr<Planned> planned_;
  const ScheduleProgram& program_;
  const BufferTable& table_;
  const SequenceLayout& g_;
  long long p_, u_ = 1, r_ = 1, rows_ = 0;
  bool usp_ = false, gathered_ = false;
  int heads_ = 0;
  std::vector<long long> starts_;  // document ends
  std::map<long long, std::pair<long long, long long>> by_position_;  // position -> (part, row)
  std::vector<std::map<BufferId, Buffer>> mem_;
  std::vector<bool> copied_;
};

}  // namespace ringsim::test
