// RingExecutor::Impl::enqueue: one run's steps (exec_order.hpp: the order and
// what each operation waits on) as CUDA and NCCL calls, behind the gate.
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor_impl.cuh"

namespace ringsim::ring {

cudaEvent_t RingExecutor::Impl::event_of(const OpRef& r) const {
  const auto i = static_cast<std::size_t>(r.index);
  switch (r.kind) {
    case OpRef::kGate: return gpus[static_cast<std::size_t>(gpu_of(r.index))].t0;
    case OpRef::kCompute: return compute_ev[i].end;
    case OpRef::kTransferAtSrc: return transfer_ev[i].end;
    case OpRef::kTransferAtDst: return transfer_ev[i].end_dst;
    case OpRef::kCast: return cast_ev[i][static_cast<std::size_t>(r.round)].end;
  }
  ring_fail("unknown operation reference", __FILE__, __LINE__);
}

void RingExecutor::Impl::wait(cudaStream_t s, const std::vector<OpRef>& on) const {
  for (const OpRef& r : on) RING_CUDA(cudaStreamWaitEvent(s, event_of(r), 0));
}

void RingExecutor::Impl::enqueue() {
  for (const EnqueueStep& step : order) {
    switch (step.kind) {
      case EnqueueStep::kCast: {
        Rank& r = ranks[static_cast<std::size_t>(step.device)];
        const Events& e = cast_ev[static_cast<std::size_t>(step.device)][static_cast<std::size_t>(step.round)];
        DeviceScope scope(r.gpu);
        wait(r.xfer, step.waits[0]);
        RING_CUDA(cudaEventRecord(e.begin, r.xfer));
        cast_outputs(r, step.device,
                     plan.programs[static_cast<std::size_t>(step.device)].rounds[static_cast<std::size_t>(step.round)].casts,
                     r.xfer);
        RING_CUDA(cudaEventRecord(e.end, r.xfer));
        break;
      }
      case EnqueueStep::kCompute: {
        Rank& r = ranks[static_cast<std::size_t>(step.device)];
        const Events& e = compute_ev[static_cast<std::size_t>(step.compute)];
        cudaStream_t s = gpus[static_cast<std::size_t>(r.gpu)].compute;
        DeviceScope scope(r.gpu);
        const ExecCompute& c = plan.computes[static_cast<std::size_t>(step.compute)];
        const double slow = slowdown_of(c);
        wait(s, step.waits[0]);
        RING_CUDA(cudaEventRecord(e.begin, s));
        if (slow > 1) stamp(r.stamp, s);
        for (const ExecBlock& eb : c.blocks) run_block(r, eb, s);
        if (slow > 1) stretch(r.stamp, slow, s);
        RING_CUDA(cudaEventRecord(e.end, s));
        break;
      }
      case EnqueueStep::kTransfers:
        if (step.path == TransferPath::kCopy) copy(step);
        else if (step.path == TransferPath::kPerSource) per_source_group(step);
        else shared_group(step);
        break;
    }
  }
}

void RingExecutor::Impl::copy(const EnqueueStep& step) {
  const ExecTransfer& x = plan.transfers[static_cast<std::size_t>(step.transfers[0])];
  Rank &from = ranks[static_cast<std::size_t>(x.src)], &to = ranks[static_cast<std::size_t>(x.dst)];
  const Events& e = transfer_ev[static_cast<std::size_t>(step.transfers[0])];
  DeviceScope scope(from.gpu);
  wait(from.xfer, step.waits[0]);
  RING_CUDA(cudaEventRecord(e.begin, from.xfer));
  RING_CUDA(cudaMemcpyAsync(to.buf[static_cast<std::size_t>(x.dst_buffer)] + x.dst_offset,
                            from.buf[static_cast<std::size_t>(x.src_buffer)] + x.src_offset,
                            static_cast<std::size_t>(x.bytes), cudaMemcpyDeviceToDevice, from.xfer));
  RING_CUDA(cudaEventRecord(e.end, from.xfer));
  RING_CUDA(cudaEventRecord(e.end_dst, from.xfer));  // the same card: the receiver's completion too
}

// Per-source-card communicators: a send kernel on the sender's stream, a
// receive kernel on the receiver's stream for that source card.
void RingExecutor::Impl::per_source_group(const EnqueueStep& step) {
  for (std::size_t i = 0; i < step.transfers.size(); ++i) {
    const ExecTransfer& x = plan.transfers[static_cast<std::size_t>(step.transfers[i])];
    const int a = gpu_of(x.src), b = gpu_of(x.dst);
    {
      DeviceScope scope(a);
      wait(ranks[static_cast<std::size_t>(x.src)].xfer, step.waits[i]);
      RING_CUDA(cudaEventRecord(transfer_ev[static_cast<std::size_t>(step.transfers[i])].begin,
                                ranks[static_cast<std::size_t>(x.src)].xfer));
    }
    DeviceScope scope(b);
    wait(ranks[static_cast<std::size_t>(x.dst)].recv[static_cast<std::size_t>(a)], step.waits[i]);
  }
  RING_NCCL(ncclGroupStart());
  for (int t : step.transfers) {
    const ExecTransfer& x = plan.transfers[static_cast<std::size_t>(t)];
    const int a = gpu_of(x.src), b = gpu_of(x.dst);
    const Rank &from = ranks[static_cast<std::size_t>(x.src)], &to = ranks[static_cast<std::size_t>(x.dst)];
    RING_NCCL(ncclSend(from.buf[static_cast<std::size_t>(x.src_buffer)] + x.src_offset, static_cast<std::size_t>(x.bytes),
                       ncclUint8, b, static_cast<ncclComm_t>(ctx.comm(a, a)), from.xfer));
    RING_NCCL(ncclRecv(to.buf[static_cast<std::size_t>(x.dst_buffer)] + x.dst_offset, static_cast<std::size_t>(x.bytes),
                       ncclUint8, a, static_cast<ncclComm_t>(ctx.comm(a, b)), to.recv[static_cast<std::size_t>(a)]));
  }
  RING_NCCL(ncclGroupEnd());
  for (int t : step.transfers) {
    const ExecTransfer& x = plan.transfers[static_cast<std::size_t>(t)];
    const Events& e = transfer_ev[static_cast<std::size_t>(t)];
    const int a = gpu_of(x.src), b = gpu_of(x.dst);
    {
      DeviceScope scope(a);
      RING_CUDA(cudaEventRecord(e.end, ranks[static_cast<std::size_t>(x.src)].xfer));
    }
    DeviceScope scope(b);
    RING_CUDA(cudaEventRecord(e.end_dst, ranks[static_cast<std::size_t>(x.dst)].recv[static_cast<std::size_t>(a)]));
  }
}

// The shared communicator, one stream per card: one NCCL kernel per card
// carries all its sends and receives of the group (an all-to-all as NCCL
// runs it). One rank per card (exec_order.hpp), so a card's stream serves
// one device.
void RingExecutor::Impl::shared_group(const EnqueueStep& step) {
  for (std::size_t i = 0; i < step.transfers.size(); ++i) {
    const ExecTransfer& x = plan.transfers[static_cast<std::size_t>(step.transfers[i])];
    for (int g : {gpu_of(x.src), gpu_of(x.dst)}) {
      DeviceScope scope(g);
      wait(gpus[static_cast<std::size_t>(g)].coll, step.waits[i]);
    }
  }
  for (int t : step.transfers) {
    const int a = gpu_of(plan.transfers[static_cast<std::size_t>(t)].src);
    DeviceScope scope(a);
    RING_CUDA(cudaEventRecord(transfer_ev[static_cast<std::size_t>(t)].begin, gpus[static_cast<std::size_t>(a)].coll));
  }
  RING_NCCL(ncclGroupStart());
  for (int t : step.transfers) {
    const ExecTransfer& x = plan.transfers[static_cast<std::size_t>(t)];
    const int a = gpu_of(x.src), b = gpu_of(x.dst);
    RING_NCCL(ncclSend(ranks[static_cast<std::size_t>(x.src)].buf[static_cast<std::size_t>(x.src_buffer)] + x.src_offset,
                       static_cast<std::size_t>(x.bytes), ncclUint8, b, static_cast<ncclComm_t>(ctx.shared_comm(a)),
                       gpus[static_cast<std::size_t>(a)].coll));
    RING_NCCL(ncclRecv(ranks[static_cast<std::size_t>(x.dst)].buf[static_cast<std::size_t>(x.dst_buffer)] + x.dst_offset,
                       static_cast<std::size_t>(x.bytes), ncclUint8, a, static_cast<ncclComm_t>(ctx.shared_comm(b)),
                       gpus[static_cast<std::size_t>(b)].coll));
  }
  RING_NCCL(ncclGroupEnd());
  for (int t : step.transfers) {
    const ExecTransfer& x = plan.transfers[static_cast<std::size_t>(t)];
    const Events& e = transfer_ev[static_cast<std::size_t>(t)];
    {
      DeviceScope scope(gpu_of(x.src));
      RING_CUDA(cudaEventRecord(e.end, gpus[static_cast<std::size_t>(gpu_of(x.src))].coll));
    }
    DeviceScope scope(gpu_of(x.dst));
    RING_CUDA(cudaEventRecord(e.end_dst, gpus[static_cast<std::size_t>(gpu_of(x.dst))].coll));
  }
}

}  // namespace ringsim::ring
