// Memory model: a schedule's buffer table, the memory of one GPU tracked as
// allocations and frees happen, and the fit verdict.
//
// Buffers are defined by the schedule (sim/schedules/*): each lists the
// buffers one device (rank) holds, by name and size, and its program
// allocates and frees them by id (the index in the table). A GPU's memory is
// the profile's reserved bytes (context, framework: once per GPU) plus the
// buffers of every rank on it, so a buffer id can be live several times on
// one GPU (once per rank sharing it).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ringsim {

using BufferId = std::int32_t;  // index in a BufferTable
inline constexpr BufferId kNoBuffer = -1;

// What a buffer's bytes hold, for a real executor (kernels/ring) and the
// fp64 program test; the memory model charges bytes only. Rows are tokens,
// packed one after another; a row holds the heads of the blocks (or input
// and output placements, sim/work.hpp) that use the buffer. Transfers move
// byte ranges, so sender and receiver agree on the format by construction.
enum class BufferFormat : std::uint8_t {
  kOpaque,       // nothing an executor reads or writes through blocks (statistics, workspace)
  kQueries,      // per row: heads x head_dim, model dtype
  kKeysValues,   // per row: K (kv_heads x head_dim) then V (kv_heads x head_dim), model dtype
  kAccumulator,  // per row: heads x head_dim fp32, the normalised output; its log-sum-exp
                 //   is the executor's (softmax_stats charges it)
  kPartials,     // per row: heads x head_dim model dtype, then heads fp32 log-sum-exp; a row
                 //   no block wrote carries log-sum-exp -inf
  kOutput,       // per row: heads x head_dim model dtype; when no receive fills it, the
                 //   device's accumulator cast to the model dtype (the model charges no cast)
  // The backward's (sim/work.hpp: row sizes by role). Its saved O and dO
  // are kQueries rows (the same layout; no cast ever fills them).
  kRowStats,           // per row: heads fp32 (the forward's LSE, or D = rowsum(dO * O))
  kGradQueries,        // per row: heads x head_dim in attention.grad_dtype (dQ)
  kGradKeysValues,     // per row: dK (kv_heads x head_dim) then dV, attention.grad_dtype
  kGradQueriesFp32,    // dQ rows in fp32 (the backward kernel's own output, summed in place)
  kGradKeysValuesFp32, // dK/dV rows in fp32
  kBundle,             // tensors one after another (a message that carries them together):
                       //   each slice's rows start at its base_bytes, sized by its role
};
const char* buffer_format_name(BufferFormat);

struct BufferSpec {
  std::string name;  // "recv_kv0"; shown in verdicts
  double bytes = 0;  // per rank
  BufferFormat format = BufferFormat::kOpaque;
};

class BufferTable {
 public:
  BufferId add(std::string name, double bytes, BufferFormat format = BufferFormat::kOpaque);
  BufferFormat format(BufferId id) const { return (*this)[id].format; }
  BufferId size() const { return static_cast<BufferId>(buffers_.size()); }
  const BufferSpec& operator[](BufferId id) const { return buffers_.at(static_cast<std::size_t>(id)); }
  double bytes(BufferId id) const { return (*this)[id].bytes; }
  const std::string& name(BufferId id) const { return (*this)[id].name; }
  BufferId find(const std::string& name) const;  // kNoBuffer if absent

 private:
  std::vector<BufferSpec> buffers_;
};

// The memory of one GPU as the engine runs: reserved bytes from the start,
// then allocations and frees by id; keeps live and peak bytes and how many
// copies of each buffer were live when the peak was first reached.
class DeviceMemory {
 public:
  DeviceMemory(const BufferTable* table, double reserved_bytes);
  void alloc(BufferId);
  void free(BufferId);  // throws std::logic_error if no copy is live
  double live_bytes() const { return live_bytes_; }
  double peak_bytes() const { return peak_bytes_; }
  const std::vector<int>& peak_counts() const { return peak_counts_; }  // by id, at the peak
  double reserved_bytes() const { return reserved_bytes_; }

 private:
  const BufferTable* table_;
  double reserved_bytes_;
  std::vector<int> live_counts_, peak_counts_;
  int live_total_ = 0;
  double live_bytes_ = 0, peak_bytes_ = 0;
};

struct MemoryVerdict {
  bool fits = true;
  double peak_bytes = 0, capacity_bytes = 0;  // of the fullest GPU
  // when !fits: "needs 93.1 GiB of 80 GiB (over by 13.1 GiB): recv_kv0 32 GiB,
  // q_chunk 2 x 1 GiB, reserved 1 GiB" (largest first; "2 x": ranks sharing the GPU)
  std::string reason;
};
MemoryVerdict memory_verdict(const BufferTable&, const std::vector<int>& peak_counts, double reserved_bytes,
                             double peak_bytes, double capacity_bytes);
MemoryVerdict memory_verdict(const DeviceMemory& gpu, const BufferTable&, double capacity_bytes);

}  // namespace ringsim
