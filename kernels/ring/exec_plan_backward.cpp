// The backward's side of ExecPlan (exec_plan.hpp): row sizes by role
// (sim/work.hpp), heads and byte ranges of the backward's blocks.
#include <fmt/format.h>

#include "kernels/ring/exec_plan.hpp"

namespace ringsim::ring {

namespace {

using Role = ::ringsim::Tensor;

bool kv_role(Role r) { return r == Role::kKv || r == Role::kGradKv; }

// The formats a role's rows may sit in outside a bundle.
bool holds(BufferFormat f, Role r) {
  switch (r) {
    case Role::kQ: case Role::kO: case Role::kDO: return f == BufferFormat::kQueries;
    case Role::kKv: return f == BufferFormat::kKeysValues;
    case Role::kLse: case Role::kDelta: return f == BufferFormat::kRowStats;
    case Role::kGradQ: return f == BufferFormat::kGradQueries || f == BufferFormat::kGradQueriesFp32;
    case Role::kGradKv: return f == BufferFormat::kGradKeysValues || f == BufferFormat::kGradKeysValuesFp32;
    case Role::kNone: break;
  }
  return false;
}

// Each slice of a block with the role its rows play, and their heads and count.
struct RoleSlice {
  const Slice* slice;
  Role role;
  int heads;
  long long rows;
};

std::vector<RoleSlice> role_slices(const Block& b) {
  const int stream_heads = kv_role(b.tensor) ? b.kv_heads : b.heads;
  switch (b.kind) {
    case BlockKind::kAttentionBackward:
      return {{&b.q, Role::kQ, b.heads, b.q.count},           {&b.dout, Role::kDO, b.heads, b.q.count},
              {&b.lse, Role::kLse, b.heads, b.q.count},       {&b.delta, Role::kDelta, b.heads, b.q.count},
              {&b.kv, Role::kKv, b.kv_heads, b.kv.count},     {&b.grad_q, Role::kGradQ, b.heads, b.q.count},
              {&b.grad_kv, Role::kGradKv, b.kv_heads, b.kv.count}};
    case BlockKind::kDelta:
      return {{&b.dout, Role::kDO, b.heads, b.dout.count}, {&b.out, Role::kO, b.heads, b.dout.count},
              {&b.delta, Role::kDelta, b.heads, b.dout.count}};
    case BlockKind::kGradAdd:
      return {{&b.q, b.tensor, stream_heads, b.merges * b.out.count}, {&b.out, b.tensor, stream_heads, b.out.count}};
    case BlockKind::kCopy:
      return {{&b.q, b.tensor, stream_heads, b.out.count}, {&b.out, b.tensor, stream_heads, b.out.count}};
    case BlockKind::kZero: return {{&b.out, b.tensor, stream_heads, b.out.count}};
    case BlockKind::kAttention: case BlockKind::kMerge: break;
  }
  return {};
}

bool backward_kind(BlockKind k) { return k != BlockKind::kAttention && k != BlockKind::kMerge; }

}  // namespace

int ExecPlan::role_element_bytes(BufferId b, Role role) const {
  const BufferFormat f = buffers[static_cast<std::size_t>(b)].format;
  switch (role) {
    case Role::kLse: case Role::kDelta: return 4;
    case Role::kGradQ: case Role::kGradKv:
      if (f == BufferFormat::kGradQueriesFp32 || f == BufferFormat::kGradKeysValuesFp32) return 4;
      return grad_dtype == DType::kFp32 ? 4 : 2;
    default: return element_bytes(shape);
  }
}

std::int64_t ExecPlan::role_row_bytes(BufferId b, Role role, int heads) const {
  const ExecBuffer& buf = buffers[static_cast<std::size_t>(b)];
  if (buf.format != BufferFormat::kBundle && !holds(buf.format, role))
    throw std::logic_error(fmt::format("exec plan: {} ({}) holds no rows of that role", buf.name, buffer_format_name(buf.format)));
  const std::int64_t per_head = role == Role::kLse || role == Role::kDelta ? 1 : shape.head_dim;
  return (kv_role(role) ? 2 : 1) * heads * per_head * role_element_bytes(b, role);
}

// Heads of the backward's buffers (bundles have none: their slices are
// sized by role), and each slice within its buffer.
void ExecPlan::infer_backward() {
  for (const ExecCompute& c : computes)
    for (const ExecBlock& eb : c.blocks) {
      if (!backward_kind(eb.block.kind)) continue;
      for (const RoleSlice& rs : role_slices(eb.block)) {
        if (rs.slice->buffer == kNoBuffer) throw std::logic_error("exec plan: a backward block names no buffer");
        const ExecBuffer& b = buffers[static_cast<std::size_t>(rs.slice->buffer)];
        if (b.format != BufferFormat::kBundle) set_heads(rs.slice->buffer, rs.heads, "a backward block");
        const std::int64_t lo = role_byte(*rs.slice, rs.role, rs.heads, 0);
        const std::int64_t hi = lo + rs.rows * role_row_bytes(rs.slice->buffer, rs.role, rs.heads);
        if (lo < 0 || rs.rows < 0 || hi > b.bytes)
          throw std::logic_error(fmt::format("exec plan: a backward block's {} rows [{}, {}) pass the end of {} ({} bytes)",
                                             static_cast<int>(rs.role), lo, hi, b.name, b.bytes));
      }
    }
}

// The fused backward kernel has the forward's masks and no document mask.
// (It writes fp32 gradients; a block whose gradients land in grad_dtype rows
// runs into an fp32 scratch that the executor then adds there.)
void check_backward_kernels(const ExecPlan& plan) {
  for (const ExecCompute& c : plan.computes)
    for (const ExecBlock& eb : c.blocks) {
      const Block& b = eb.block;
      if (b.kind != BlockKind::kAttentionBackward) continue;
      kernel_mask(b);
      if (b.document_mask) throw Unsupported("sequence.documents", "the backward kernel has no document mask");
    }
}

}  // namespace ringsim::ring
