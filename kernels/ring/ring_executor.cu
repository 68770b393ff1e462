// The real executor: setup (buffers by id, streams, events), inputs and
// poisons, the blocks a compute runs, and timed runs. The enqueue order of a
// run is in ring_issue.cu, the output check in ring_check.cu; what runs is
// described in ring_executor.hpp.
#include "kernels/ring/ring_executor.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor_impl.cuh"

namespace ringsim::ring {

namespace {

template <typename T>
T* device_alloc(std::int64_t elements) {
  T* p = nullptr;
  RING_CUDA(cudaMalloc(&p, static_cast<std::size_t>(std::max<std::int64_t>(elements, 1)) * sizeof(T)));
  return p;
}

}  // namespace

RingExecutor::Impl::Impl(const RingContext& c, const ExecPlan& p) : ctx(c), plan(p), order(enqueue_order(p)) {
  check_runnable();
  if (plan.gpus() > ctx.gpus())
    ring_fail("the point needs " + std::to_string(plan.gpus()) + " GPUs, the context has " + std::to_string(ctx.gpus()),
              __FILE__, __LINE__);
  int least = 0, greatest = 0;
  RING_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  gpus.resize(static_cast<std::size_t>(plan.gpus()));
  for (int g = 0; g < plan.gpus(); ++g) {
    DeviceScope scope(g);
    Gpu& gpu = gpus[static_cast<std::size_t>(g)];
    gpu.device = g;
    RING_CUDA(cudaStreamCreateWithPriority(&gpu.compute, cudaStreamNonBlocking, least));
    RING_CUDA(cudaStreamCreateWithPriority(&gpu.gate, cudaStreamNonBlocking, least));
    // Transfers first: a copy or NCCL kernel waiting behind compute CTAs would serialise the ring.
    RING_CUDA(cudaStreamCreateWithPriority(&gpu.coll, cudaStreamNonBlocking, greatest));
    RING_CUDA(cudaEventCreate(&gpu.go));
    RING_CUDA(cudaEventCreate(&gpu.t0));
  }
  ranks.resize(static_cast<std::size_t>(plan.devices));
  for (long long d = 0; d < plan.devices; ++d) {
    Rank& r = ranks[static_cast<std::size_t>(d)];
    r.gpu = gpu_of(d);
    DeviceScope scope(r.gpu);
    allocate(d);
    r.stamp = device_alloc<unsigned long long>(1);
    RING_CUDA(cudaStreamCreateWithPriority(&r.xfer, cudaStreamNonBlocking, greatest));
    r.recv.resize(static_cast<std::size_t>(plan.gpus()));
    for (auto& s : r.recv) RING_CUDA(cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, greatest));
  }
  const auto make = [&](Events& e, int gpu, int gpu_dst) {
    DeviceScope scope(gpu);
    RING_CUDA(cudaEventCreate(&e.begin));
    RING_CUDA(cudaEventCreate(&e.end));
    DeviceScope scope_dst(gpu_dst);
    RING_CUDA(cudaEventCreate(&e.end_dst));
  };
  compute_ev.resize(plan.computes.size());
  for (std::size_t i = 0; i < plan.computes.size(); ++i) make(compute_ev[i], gpu_of(plan.computes[i].device), gpu_of(plan.computes[i].device));
  transfer_ev.resize(plan.transfers.size());
  for (std::size_t i = 0; i < plan.transfers.size(); ++i)
    make(transfer_ev[i], gpu_of(plan.transfers[i].src), gpu_of(plan.transfers[i].dst));
  cast_ev.resize(static_cast<std::size_t>(plan.devices));
  for (long long d = 0; d < plan.devices; ++d) {
    cast_ev[static_cast<std::size_t>(d)].resize(plan.programs[static_cast<std::size_t>(d)].rounds.size());
    for (Events& e : cast_ev[static_cast<std::size_t>(d)]) make(e, gpu_of(d), gpu_of(d));
  }
}

RingExecutor::Impl::~Impl() {
  for (Rank& r : ranks) {
    DeviceScope scope(r.gpu);
    for (auto* p : r.buf) cudaFree(p);
    for (auto* p : r.lse) cudaFree(p);
    for (auto* p : r.input_tokens) cudaFree(p);
    for (auto* p : r.saved) cudaFree(p);
    cudaFree(r.scratch_o);
    cudaFree(r.scratch_lse);
    cudaFree(r.scratch_grad);
    cudaFree(r.stamp);
    cudaStreamDestroy(r.xfer);
    for (auto s : r.recv) cudaStreamDestroy(s);
  }
  for (auto* list : {&compute_ev, &transfer_ev})
    for (Events& e : *list)
      for (cudaEvent_t x : {e.begin, e.end, e.end_dst}) cudaEventDestroy(x);
  for (auto& per : cast_ev)
    for (Events& e : per)
      for (cudaEvent_t x : {e.begin, e.end, e.end_dst}) cudaEventDestroy(x);
  for (Gpu& g : gpus) {
    DeviceScope scope(g.device);
    cudaEventDestroy(g.go);
    cudaEventDestroy(g.t0);
    for (cudaStream_t s : {g.compute, g.gate, g.coll}) cudaStreamDestroy(s);
  }
}

double RingExecutor::Impl::slowdown_of(const ExecCompute& c) const {
  double factor = 1;  // a later entry for the same device overrides (as sim/fault_model.cpp)
  for (const ExecPlan::SlowDevice& s : plan.slow_devices)
    if (s.device == c.device) factor = c.label >= s.from_step ? s.slowdown : 1;
  return c.blocks.empty() ? 1 : factor;
}

// What the chunk kernels and this executor run; everything else is refused
// before any GPU work, naming the key.
void RingExecutor::Impl::check_runnable() const {
  if (plan.shape.dtype != DType::kBf16) throw Unsupported("model.dtype", "the real executor runs bf16 only");
  if (plan.shape.head_dim != 64 && plan.shape.head_dim != 128)
    throw Unsupported("model.head_dim", "the chunk kernels take head_dim 64 or 128");
  check_backward_kernels(plan);
  for (const ExecPlan::SlowDevice& s : plan.slow_devices)
    if (!(s.slowdown >= 1) || s.device < 0 || s.device >= plan.devices)
      throw Unsupported("faults.stragglers", "the real executor slows a device of the ring by a factor >= 1");
  for (const ExecCompute& c : plan.computes)
    for (const ExecBlock& eb : c.blocks) {
      const Block& b = eb.block;
      if (b.kind != BlockKind::kAttention && b.kind != BlockKind::kMerge) continue;  // backward kinds
      const BufferFormat out = plan.buffers[static_cast<std::size_t>(b.out.buffer)].format;
      if (b.kind == BlockKind::kAttention) {
        kernel_mask(b);  // throws for the striped strict diagonal
        if (out == BufferFormat::kPartials && b.output == OutputMode::kMerge)
          throw Unsupported("sequence.cached_tokens", "the executor writes partial outputs once; merging a second "
                                                      "block into a partial (a cached prefix in pass-q) is not run");
        if (out != BufferFormat::kAccumulator && out != BufferFormat::kPartials)
          throw std::logic_error("executor: an attention block writes neither an accumulator nor partials");
      } else if (b.kind == BlockKind::kMerge) {
        if (out != BufferFormat::kAccumulator ||
            plan.buffers[static_cast<std::size_t>(b.q.buffer)].format != BufferFormat::kPartials)
          throw std::logic_error("executor: a merge reads partials into an accumulator");
      }
    }
}

void RingExecutor::Impl::allocate(long long d) {
  Rank& r = ranks[static_cast<std::size_t>(d)];
  const DeviceProgram& dp = plan.programs[static_cast<std::size_t>(d)];
  r.buf.assign(plan.buffers.size(), nullptr);
  r.lse.assign(plan.buffers.size(), nullptr);
  for (BufferId id : dp.allocated) {
    const ExecBuffer& b = plan.buffers[static_cast<std::size_t>(id)];
    r.buf[static_cast<std::size_t>(id)] = device_alloc<std::uint8_t>(b.bytes);
    if (b.format == BufferFormat::kAccumulator) r.lse[static_cast<std::size_t>(id)] = device_alloc<float>(b.rows() * b.heads);
  }
  std::int64_t scratch = 0;  // the largest block output that is merged or cast
  for (const ExecCompute& c : plan.computes)
    if (c.device == d)
      for (const ExecBlock& eb : c.blocks) scratch = std::max<std::int64_t>(scratch, eb.block.q.count * eb.block.heads);
  r.scratch_o = device_alloc<float>(scratch * head_dim());
  r.scratch_lse = device_alloc<float>(scratch);
  r.scratch_grad = device_alloc<float>(grad_scratch_elements(d));
  for (const Placement& p : dp.inputs) {  // token index of each input row (cached tokens first)
    std::vector<long long> tokens(static_cast<std::size_t>(p.rows));
    for (long long i = 0; i < p.rows; ++i) tokens[static_cast<std::size_t>(i)] = plan.sequence.cached_tokens() + plan.position(p, i);
    r.input_tokens.push_back(device_alloc<long long>(p.rows));
    r.saved.push_back(nullptr);
    RING_CUDA(cudaMemcpy(r.input_tokens.back(), tokens.data(), tokens.size() * sizeof(long long), cudaMemcpyHostToDevice));
  }
}

// NaN everywhere the run must write before it reads (partial rows: -inf, as
// rows no block writes must read).
void RingExecutor::Impl::poison(Rank& r, cudaStream_t s) {
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t id = 0; id < plan.buffers.size(); ++id) {
    std::uint8_t* p = r.buf[id];
    const ExecBuffer& b = plan.buffers[id];
    if (!p) continue;
    switch (b.format) {
      case BufferFormat::kQueries:
      case BufferFormat::kKeysValues:
      case BufferFormat::kOutput: fill_u16(reinterpret_cast<std::uint16_t*>(p), b.bytes / 2, kBf16NaN, s); break;
      case BufferFormat::kAccumulator:
        fill_f32(reinterpret_cast<float*>(p), b.bytes / 4, kNaN, s);
        fill_f32(r.lse[id], b.rows() * b.heads, kNaN, s);
        break;
      case BufferFormat::kPartials:
        if (b.heads > 0) poison_partials(p, b.rows(), b.heads, head_dim(), s);
        break;
      case BufferFormat::kOpaque: break;
      default:  // the backward's formats: bf16 NaN bits, an fp32 NaN too (0x7FC07FC0) in fp32 rows
        fill_u16(reinterpret_cast<std::uint16_t*>(p), b.bytes / 2, kBf16NaN, s);
        break;
    }
  }
}

void RingExecutor::Impl::fill(Rank& r, long long d, cudaStream_t s) {
  const auto& inputs = plan.programs[static_cast<std::size_t>(d)].inputs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Placement& p = inputs[i];
    auto* dst = reinterpret_cast<std::uint16_t*>(r.buf[static_cast<std::size_t>(p.buffer)] +
                                                 static_cast<std::int64_t>(p.offset_bytes));
    const long long row = static_cast<long long>(p.heads) * head_dim();
    if (p.tensor == Placement::kKeysValues) {
      const int kvh = static_cast<int>(plan.shape.kv_heads);
      fill_rows(dst, p.rows, p.heads, head_dim(), 2 * row, r.input_tokens[i], kvh, p.head_first, seed, Tensor::kK, s);
      fill_rows(dst + row, p.rows, p.heads, head_dim(), 2 * row, r.input_tokens[i], kvh, p.head_first, seed, Tensor::kV, s);
    } else if (p.tensor == Placement::kQueries || p.tensor == Placement::kGradOutput) {
      fill_rows(dst, p.rows, p.heads, head_dim(), row, r.input_tokens[i], static_cast<int>(plan.shape.q_heads),
                p.head_first, seed, p.tensor == Placement::kQueries ? Tensor::kQ : Tensor::kDO, s);
    }
  }
  if (plan.pass == Pass::kBackward) fill_saved(r, d, s);
}

void RingExecutor::Impl::synchronize() {
  for (Gpu& g : gpus) {
    DeviceScope scope(g.device);
    RING_CUDA(cudaDeviceSynchronize());
  }
}

// Card 0 holds the gate; every other card's t0 follows card 0's.
void RingExecutor::Impl::open_gate() {
  {
    DeviceScope scope(gpus[0].device);
    gate(gate_ns, gpus[0].gate);
    RING_CUDA(cudaEventRecord(gpus[0].go, gpus[0].gate));
  }
  for (Gpu& g : gpus) {
    DeviceScope scope(g.device);
    RING_CUDA(cudaStreamWaitEvent(g.gate, gpus[0].go, 0));
    RING_CUDA(cudaEventRecord(g.t0, g.gate));
  }
}

// ---- blocks ------------------------------------------------------------------

void RingExecutor::Impl::run_block(Rank& r, const ExecBlock& eb, cudaStream_t s) {
  switch (eb.block.kind) {
    case BlockKind::kAttention: attention_block(r, eb.block, s); return;
    case BlockKind::kMerge: merge_block(r, eb, s); return;
    case BlockKind::kAttentionBackward: backward_block(r, eb.block, s); return;
    case BlockKind::kDelta: delta_block(r, eb.block, s); return;
    case BlockKind::kGradAdd: case BlockKind::kCopy: case BlockKind::kZero: stream_block(r, eb.block, s); return;
  }
  throw Unsupported("attention", "block kind not run by the executor");  // check_runnable refused it first
}

void RingExecutor::Impl::attention_block(Rank& r, const Block& b, cudaStream_t s) {
  const int d = head_dim();
  const ExecBuffer& out = plan.buffers[static_cast<std::size_t>(b.out.buffer)];
  kernels::ChunkAttentionArgs a;
  a.dtype = kernels::Dtype::kBf16;
  a.mask = kernel_mask(b);
  a.head_dim = d;
  a.q_heads = b.heads;
  a.kv_heads = b.kv_heads;
  a.q_tokens = b.q.count;
  a.kv_tokens = b.kv.count;
  a.q = at(r, b.q);
  a.k = at(r, b.kv);
  a.v = reinterpret_cast<const std::uint16_t*>(at(r, b.kv)) + static_cast<long long>(b.kv_heads) * d;
  a.kv_token_stride = 2LL * b.kv_heads * d;  // K then V in each row
  auto* acc = reinterpret_cast<float*>(at(r, b.out));
  float* acc_lse = r.lse[static_cast<std::size_t>(b.out.buffer)] + b.out.offset;
  const bool direct = out.format == BufferFormat::kAccumulator && b.output == OutputMode::kWrite;
  a.o = direct ? acc : r.scratch_o;
  a.lse = direct ? acc_lse : r.scratch_lse;
  a.lse_head_stride = direct ? out.rows() : b.q.count;
  RING_KERNEL(kernels::chunk_attention_forward(a, kernels::AttentionVariant::kFused, nullptr, 0, nullptr, s));
  if (direct) return;
  if (out.format == BufferFormat::kPartials) {  // write: check_runnable refused merges into partials
    write_partials(at(r, b.out), b.q.count, b.heads, d, r.scratch_o, r.scratch_lse, s);
    return;
  }
  kernels::MergeArgs m;
  m.tokens = b.q.count;
  m.heads = b.heads;
  m.head_dim = d;
  m.acc_o = acc;
  m.acc_lse = acc_lse;
  m.acc_lse_head_stride = out.rows();
  m.o = r.scratch_o;
  m.lse = r.scratch_lse;
  m.lse_head_stride = b.q.count;
  RING_KERNEL(kernels::attention_merge(m, s));
}

void RingExecutor::Impl::merge_block(Rank& r, const ExecBlock& eb, cudaStream_t s) {
  const Block& b = eb.block;
  const long long rows = plan.buffers[static_cast<std::size_t>(b.out.buffer)].rows();
  for (long long k : eb.merge_slots) {
    const Slice slot{b.q.buffer, b.q.offset + k * b.out.count, b.out.count};
    merge_partials(reinterpret_cast<float*>(at(r, b.out)), r.lse[static_cast<std::size_t>(b.out.buffer)] + b.out.offset,
                   rows, at(r, slot), b.out.count, b.heads, head_dim(), s);
  }
}

void RingExecutor::Impl::cast_outputs(Rank& r, long long d, const std::vector<BufferId>& to, cudaStream_t s) {
  const BufferId acc = plan.programs[static_cast<std::size_t>(d)].accumulator;
  for (BufferId b : to)
    cast_to_bf16(reinterpret_cast<std::uint16_t*>(r.buf[static_cast<std::size_t>(b)]),
                 reinterpret_cast<const float*>(r.buf[static_cast<std::size_t>(acc)]),
                 plan.buffers[static_cast<std::size_t>(b)].bytes / 2, s);
}

// ---- runs ----------------------------------------------------------------------

RingTimeline RingExecutor::Impl::run() {
  for (int attempt = 0;; ++attempt) {
    for (long long d = 0; d < plan.devices; ++d) {
      Rank& r = ranks[static_cast<std::size_t>(d)];
      DeviceScope scope(r.gpu);
      poison(r, r.xfer);
      fill(r, d, r.xfer);
    }
    synchronize();
    open_gate();
    const auto t0 = std::chrono::steady_clock::now();
    enqueue();
    const double enqueue_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    synchronize();
    RingTimeline t = collect();
    t.gate_ms = static_cast<double>(gate_ns) * 1e-6;
    t.enqueue_ms = enqueue_ms;
    // The gate must outlast the enqueue, or the host's pace shows in the times.
    if (enqueue_ms < 0.8 * t.gate_ms || attempt == 3) return t;
    gate_ns *= 4;
  }
}

RingTimeline RingExecutor::Impl::collect() const {
  RingTimeline t;
  const auto ms = [&](int gpu, cudaEvent_t e) {
    float v = 0;
    RING_CUDA(cudaEventElapsedTime(&v, gpus[static_cast<std::size_t>(gpu)].t0, e));
    return static_cast<double>(v);
  };
  for (std::size_t i = 0; i < plan.computes.size(); ++i) {
    const ExecCompute& c = plan.computes[i];
    const int g = gpu_of(c.device);
    t.ops.push_back({TimedOp::kCompute, c.device, c.device, c.label, ms(g, compute_ev[i].begin),
                     ms(g, compute_ev[i].end), c.blocks.empty()});
  }
  for (std::size_t i = 0; i < plan.transfers.size(); ++i) {
    const ExecTransfer& x = plan.transfers[i];
    t.ops.push_back({TimedOp::kTransfer, x.src, x.dst, x.label, ms(gpu_of(x.src), transfer_ev[i].begin),
                     ms(gpu_of(x.src), transfer_ev[i].end), false});
    t.makespan_ms = std::max(t.makespan_ms, ms(gpu_of(x.dst), transfer_ev[i].end_dst));
  }
  for (long long d = 0; d < plan.devices; ++d)
    for (std::size_t r = 0; r < plan.programs[static_cast<std::size_t>(d)].rounds.size(); ++r)
      if (!plan.programs[static_cast<std::size_t>(d)].rounds[r].casts.empty())
        t.ops.push_back({TimedOp::kCast, d, d, static_cast<long long>(r), ms(gpu_of(d), cast_ev[static_cast<std::size_t>(d)][r].begin),
                         ms(gpu_of(d), cast_ev[static_cast<std::size_t>(d)][r].end), false});
  for (const TimedOp& op : t.ops) t.makespan_ms = std::max(t.makespan_ms, op.end_ms);
  return t;
}

RingExecutor::RingExecutor(const RingContext& ctx, const ExecPlan& plan) : impl_(std::make_unique<Impl>(ctx, plan)) {}
RingExecutor::~RingExecutor() = default;
void RingExecutor::fill_inputs(std::uint64_t seed) { impl_->seed = seed; }
RingTimeline RingExecutor::run() { return impl_->run(); }

}  // namespace ringsim::ring
