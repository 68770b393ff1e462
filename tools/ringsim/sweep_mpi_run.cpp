// The MPI side of sweep_mpi.hpp: linked into ringsim-mpi only (meson
// feature `mpi`).
// Rank 0 runs a service thread that answers the other ranks (hands out
// points, receives rows) while its main thread simulates points too; MPI
// is initialised with MPI_THREAD_MULTIPLE: on rank 0 the service thread
// makes every MPI call but one, MPI_Abort when rank 0's own point fails,
// which the main thread makes while the service thread may be blocked in
// MPI_Probe (under MPI_THREAD_SERIALIZED that overlap is not allowed).
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "sim/model_step.hpp"
#include "tools/ringsim/output.hpp"
#include "tools/ringsim/progress.hpp"
#include "tools/ringsim/run_files.hpp"
#include "tools/ringsim/sweep_mpi.hpp"

namespace ringsim::cli {

namespace {

enum Tag : int { kAsk = 1, kResult = 2, kFailed = 3, kWork = 4 };
constexpr std::uint64_t kNoMore = UINT64_MAX;

// A message: a point's index and device-steps, then text (its row or an error).
struct Message {
  int source = 0, tag = 0;
  std::uint64_t index = kNoMore, steps = 0;
  std::string text;
};

void send(int to, int tag, std::uint64_t index, std::uint64_t steps = 0, std::string_view text = {}) {
  std::string bytes(2 * sizeof(std::uint64_t), '\0');
  std::memcpy(bytes.data(), &index, sizeof index);
  std::memcpy(bytes.data() + sizeof index, &steps, sizeof steps);
  bytes += text;
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, to, tag, MPI_COMM_WORLD);
}

Message receive(int from) {
  MPI_Status st;
  MPI_Probe(from, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  std::string bytes(static_cast<std::size_t>(n), '\0');
  MPI_Recv(bytes.data(), n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  Message m;
  m.source = st.MPI_SOURCE;
  m.tag = st.MPI_TAG;
  std::memcpy(&m.index, bytes.data(), sizeof m.index);
  std::memcpy(&m.steps, bytes.data() + sizeof m.index, sizeof m.steps);
  m.text = bytes.substr(2 * sizeof(std::uint64_t));
  return m;
}

std::uint64_t device_steps(const Point& p) { return static_cast<std::uint64_t>(p.ring_size) * p.ring_size; }

// The bytes the writer gives this point at this index, wherever it ran.
std::string row_of(const RunOptions& o, const Scenario& s, const SimOptions& options, const PointResult& r,
                   std::size_t index) {
  std::ostringstream row;
  make_writer(o.format, row, s, options.mode, o.csv_header)->point(r, index);
  return row.str();
}

// Rank 0: the points not handed out yet (largest first), the rows waiting
// for those before them, and the output.
class Coordinator {
 public:
  Coordinator(const Scenario& s, RunFiles& files, Progress& progress, Io io)
      : files_(files), progress_(progress), io_(io) {
    for (std::size_t i = 0; i < s.points.size(); ++i) order_.push_back(i);
    std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
      return device_steps(s.points[a]) > device_steps(s.points[b]);
    });
  }
  std::optional<std::size_t> next() {
    std::lock_guard lock(mutex_);
    if (handed_ == order_.size()) return std::nullopt;
    return order_[handed_++];
  }
  void deliver(std::size_t index, std::uint64_t steps, std::string row) {
    std::lock_guard lock(mutex_);
    waiting_.emplace(index, std::move(row));
    for (auto it = waiting_.find(written_); it != waiting_.end(); it = waiting_.find(written_)) {
      files_.results() << it->second;
      files_.point_written();
      waiting_.erase(it);
      ++written_;
    }
    progress_.point_done(steps);
  }
  [[noreturn]] void fail(const std::string& message) {
    std::lock_guard lock(mutex_);
    progress_.finish();
    fmt::print(io_.err, "error: {}{}\n", message, files_.keep_finished());
    io_.err.flush();
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();  // MPI_Abort does not return
  }
  // The service thread: answers every other rank until each has been told
  // there is nothing left.
  void serve(int workers) {
    try {
      while (workers > 0) {
        Message m = receive(MPI_ANY_SOURCE);
        if (m.tag == kFailed) fail(m.text);
        if (m.tag == kResult) deliver(m.index, m.steps, std::move(m.text));
        const std::optional<std::size_t> i = next();
        send(m.source, kWork, i ? *i : kNoMore);
        if (!i) --workers;
      }
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

 private:
  RunFiles& files_;
  Progress& progress_;
  Io io_;
  std::mutex mutex_;
  std::vector<std::size_t> order_;
  std::size_t handed_ = 0, written_ = 0;
  std::map<std::size_t, std::string> waiting_;
};

int run_rank0(const RunOptions& o, const Scenario& s, SimOptions options, MpiWorld world, Io io) {
  RunFiles files(o.out, std::nullopt, io.out);
  std::uint64_t total = 0;
  for (const Point& p : s.points) total += device_steps(p);
  Progress progress(io.err, !o.quiet, io.err_is_tty, total, s.points.size());
  auto writer = make_writer(o.format, files.results(), s, options.mode, o.csv_header);
  writer->begin();
  files.flush();
  Coordinator coordinator(s, files, progress, io);
  std::thread service([&] { coordinator.serve(world.size - 1); });
  while (const std::optional<std::size_t> i = coordinator.next()) {
    options.progress = progress.callback();
    try {
      const PointResult r = simulate_model_point(s, s.points[*i], options);
      coordinator.deliver(*i, r.device_steps, row_of(o, s, options, r, *i));
    } catch (const std::exception& e) {
      coordinator.fail(fmt::format("{}: {}: {} (rank 0)", s.path, point_title(s, *i), e.what()));
    }
  }
  service.join();
  writer->end();
  progress.finish();
  files.commit();
  return 0;
}

void run_worker(const RunOptions& o, const Scenario& s, const SimOptions& options, int rank) {
  send(0, kAsk, kNoMore);
  for (;;) {
    const Message m = receive(0);
    if (m.index == kNoMore) return;
    try {
      const PointResult r = simulate_model_point(s, s.points[m.index], options);
      send(0, kResult, m.index, r.device_steps, row_of(o, s, options, r, m.index));
    } catch (const std::exception& e) {
      send(0, kFailed, m.index, 0,
           fmt::format("{}: {}: {} (rank {})", s.path, point_title(s, m.index), e.what(), rank));
      return;
    }
  }
}

// Threads per rank when --threads is 0: the node's cores shared by its ranks.
int threads_per_rank() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 1;
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, local));
}

}  // namespace

bool mpi_built_in() { return true; }

int run_sharded(const RunOptions& o, const Scenario& s, SimOptions options, MpiWorld world, Io io) {
  int provided = 0, size = 0, rank = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (provided < MPI_THREAD_MULTIPLE || size != world.size || rank != world.rank) {
    if (rank == 0)
      fmt::print(io.err, "error: MPI: thread level {} (need {}), {} ranks of {} expected\n", provided,
                 MPI_THREAD_MULTIPLE, size, world.size);
    MPI_Finalize();
    return 1;
  }
  if (options.threads == 0) options.threads = threads_per_rank();
  int rc = 0;
  if (rank == 0) rc = run_rank0(o, s, options, world, io);
  else run_worker(o, s, options, rank);
  MPI_Finalize();
  return rc;
}

}  // namespace ringsim::cli
