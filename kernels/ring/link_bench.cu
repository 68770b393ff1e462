// Link measurements: see link_bench.hpp. Every timed run sits behind a gate
// kernel, so the repeats run back to back on the card and host call latency
// never enters a sample.
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "kernels/ring/link_bench.hpp"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor.hpp"

namespace ringsim::ring {

namespace {

constexpr int kWarmup = 3;
constexpr unsigned long long kGateNs = 2'000'000ULL;

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// One stream of one card, with begin/end events per repeat.
struct Lane {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::vector<cudaEvent_t> begin, end;
  Lane(int dev, int reps) : device(dev), begin(reps), end(reps) {
    DeviceScope s(device);
    RING_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    for (int i = 0; i < reps; ++i) {
      RING_CUDA(cudaEventCreate(&begin[i]));
      RING_CUDA(cudaEventCreate(&end[i]));
    }
  }
  ~Lane() {
    DeviceScope s(device);
    for (auto e : begin) cudaEventDestroy(e);
    for (auto e : end) cudaEventDestroy(e);
    cudaStreamDestroy(stream);
  }
  float ms(int i) const {
    float t = 0;
    RING_CUDA(cudaEventElapsedTime(&t, begin[i], end[i]));
    return t;
  }
};

struct Buffers {
  std::vector<void*> src, dst;  // per card
  explicit Buffers(int cards, double bytes) : src(cards), dst(cards) {
    for (int g = 0; g < cards; ++g) {
      DeviceScope s(g);
      RING_CUDA(cudaMalloc(&src[g], static_cast<std::size_t>(bytes)));
      RING_CUDA(cudaMalloc(&dst[g], static_cast<std::size_t>(bytes)));
      RING_CUDA(cudaMemset(src[g], 0x3C, static_cast<std::size_t>(bytes)));
    }
  }
  ~Buffers() {
    for (std::size_t g = 0; g < src.size(); ++g) {
      DeviceScope s(static_cast<int>(g));
      cudaFree(src[g]);
      cudaFree(dst[g]);
    }
  }
};

// Gates every lane behind one gate kernel on card 0, runs `issue(rep)` for
// warm-up + repeats, then returns the median over timed repeats of the
// slowest lane's time.
double timed(std::vector<Lane*> lanes, int repeats, const std::function<void(int)>& issue) {
  cudaEvent_t go;
  cudaStream_t gate_stream;
  {
    DeviceScope s(0);
    RING_CUDA(cudaEventCreateWithFlags(&go, cudaEventDisableTiming));
    RING_CUDA(cudaStreamCreateWithFlags(&gate_stream, cudaStreamNonBlocking));
    gate(kGateNs, gate_stream);
    RING_CUDA(cudaEventRecord(go, gate_stream));
  }
  for (Lane* l : lanes) {
    DeviceScope s(l->device);
    RING_CUDA(cudaStreamWaitEvent(l->stream, go, 0));
  }
  for (int i = 0; i < kWarmup + repeats; ++i) issue(i);
  std::vector<double> times;
  for (Lane* l : lanes) {
    DeviceScope s(l->device);
    RING_CUDA(cudaStreamSynchronize(l->stream));
  }
  for (int i = kWarmup; i < kWarmup + repeats; ++i) {
    double worst = 0;
    for (Lane* l : lanes) worst = std::max(worst, static_cast<double>(l->ms(i)));
    times.push_back(worst * 1e-3);
  }
  DeviceScope s(0);
  cudaEventDestroy(go);
  cudaStreamDestroy(gate_stream);
  return median(times);
}

void record(Lane& l, bool begin, int i) {
  DeviceScope s(l.device);
  RING_CUDA(cudaEventRecord(begin ? l.begin[i] : l.end[i], l.stream));
}

}  // namespace

LinkFit measure_d2d_copy(int device, const std::vector<double>& sizes, int repeats) {
  DeviceScope scope(device);
  Buffers buf(1, sizes.back());
  Lane lane(device, kWarmup + repeats);
  std::vector<LinkSample> samples;
  for (double bytes : sizes) {
    const double s = timed({&lane}, repeats, [&](int i) {
      record(lane, true, i);
      RING_CUDA(cudaMemcpyAsync(buf.dst[0], buf.src[0], static_cast<std::size_t>(bytes),
                                cudaMemcpyDeviceToDevice, lane.stream));
      record(lane, false, i);
    });
    samples.push_back({bytes, s});
  }
  return fit_link("d2d copy (cudaMemcpyAsync, one card)", samples);
}

LinkFit measure_peer_copy(const RingContext& ctx, bool both_ways, const std::vector<double>& sizes,
                          int repeats) {
  if (ctx.gpus() < 2) ring_fail("measure_peer_copy: needs 2 cards", __FILE__, __LINE__);
  for (int g = 0; g < 2; ++g) {
    DeviceScope s(g);
    const cudaError_t e = cudaDeviceEnablePeerAccess(1 - g, 0);
    if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled) RING_CUDA(e);
    cudaGetLastError();
  }
  Buffers buf(2, sizes.back());
  Lane l0(0, kWarmup + repeats), l1(1, kWarmup + repeats);
  std::vector<Lane*> lanes{&l0};
  if (both_ways) lanes.push_back(&l1);
  std::vector<LinkSample> samples;
  for (double bytes : sizes) {
    const double s = timed(lanes, repeats, [&](int i) {
      for (int g = 0; g < static_cast<int>(lanes.size()); ++g) {
        record(*lanes[g], true, i);
        DeviceScope sc(g);
        RING_CUDA(cudaMemcpyPeerAsync(buf.dst[1 - g], 1 - g, buf.src[g], g,
                                      static_cast<std::size_t>(bytes), lanes[g]->stream));
        record(*lanes[g], false, i);
      }
    });
    samples.push_back({bytes, s});
  }
  return fit_link(both_ways ? "peer copy both ways (cudaMemcpyPeerAsync)"
                            : "peer copy one way (cudaMemcpyPeerAsync)",
                  samples);
}

LinkFit measure_nccl(const RingContext& ctx, bool both_ways, const std::vector<double>& sizes,
                     int repeats) {
  if (ctx.gpus() < 2) ring_fail("measure_nccl: needs 2 cards", __FILE__, __LINE__);
  Buffers buf(2, sizes.back());
  const int reps = kWarmup + repeats;
  // send[g]: card g sends to 1-g; recv[g]: card g receives from 1-g.
  Lane s0(0, reps), s1(1, reps), r0(0, reps), r1(1, reps);
  Lane* send[2] = {&s0, &s1};
  Lane* recv[2] = {&r0, &r1};
  std::vector<Lane*> lanes{&s0, &r1};
  if (both_ways) lanes = {&s0, &r1, &s1, &r0};
  std::vector<LinkSample> samples;
  for (double bytes : sizes) {
    const double s = timed(lanes, repeats, [&](int i) {
      for (int a = 0; a < (both_ways ? 2 : 1); ++a) {
        const int b = 1 - a;
        record(*send[a], true, i);
        record(*recv[b], true, i);
        RING_NCCL(ncclGroupStart());
        RING_NCCL(ncclSend(buf.src[a], static_cast<std::size_t>(bytes), ncclUint8, b,
                           static_cast<ncclComm_t>(ctx.comm(a, a)), send[a]->stream));
        RING_NCCL(ncclRecv(buf.dst[b], static_cast<std::size_t>(bytes), ncclUint8, a,
                           static_cast<ncclComm_t>(ctx.comm(a, b)), recv[b]->stream));
        RING_NCCL(ncclGroupEnd());
        record(*send[a], false, i);
        record(*recv[b], false, i);
      }
    });
    samples.push_back({bytes, s});
  }
  return fit_link(both_ways ? "nccl send/recv both ways" : "nccl send/recv one way", samples);
}

std::vector<LinkSample> measure_nccl_all_to_all(const RingContext& ctx, const std::vector<double>& per_peer_sizes,
                                                int repeats) {
  const int n = ctx.gpus();
  if (n < 2) ring_fail("measure_nccl_all_to_all: needs 2 cards", __FILE__, __LINE__);
  Buffers buf(n, per_peer_sizes.back() * n);
  const int reps = kWarmup + repeats;
  std::vector<std::unique_ptr<Lane>> owned;
  std::vector<Lane*> lanes;
  for (int g = 0; g < n; ++g) {
    owned.push_back(std::make_unique<Lane>(g, reps));
    lanes.push_back(owned.back().get());
  }
  std::vector<LinkSample> out;
  for (double bytes : per_peer_sizes) {
    const auto m = static_cast<std::size_t>(bytes);
    const double s = timed(lanes, repeats, [&](int i) {
      for (Lane* l : lanes) record(*l, true, i);
      RING_NCCL(ncclGroupStart());
      for (int a = 0; a < n; ++a)
        for (int k = 1; k < n; ++k) {
          const int to = (a + k) % n, from = (a - k + n) % n;
          const auto comm = static_cast<ncclComm_t>(ctx.shared_comm(a));
          RING_NCCL(ncclSend(static_cast<char*>(buf.src[a]) + to * m, m, ncclUint8, to, comm, lanes[a]->stream));
          RING_NCCL(ncclRecv(static_cast<char*>(buf.dst[a]) + from * m, m, ncclUint8, from, comm, lanes[a]->stream));
        }
      RING_NCCL(ncclGroupEnd());
      for (Lane* l : lanes) record(*l, false, i);
    });
    out.push_back({bytes, s});
  }
  return out;
}

}  // namespace ringsim::ring
