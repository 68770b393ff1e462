// Collectives of a tensor-parallel group (models/model_spec.hpp) as flows on
// the cluster topology: the group's GPUs are consecutive GPUs of one node, and
// a reduce-scatter or all-gather of `bytes` (the whole tensor, as every member
// holds it after an all-gather) runs as NCCL's ring algorithm: members - 1
// steps, in each of which every member sends bytes / members to the next one;
// a step starts after the route's latency and ends when its last flow does
// (flows share links max-min fairly, models/flow_network.hpp). An all-reduce
// is a reduce-scatter then an all-gather.
#pragma once
#include "models/topology.hpp"

namespace ringsim {

enum class Collective { kReduceScatter, kAllGather, kAllReduce };

// Seconds one collective over `members` GPUs of one node takes; 0 for one member.
double collective_seconds(const ClusterSpec& cluster, int members, double bytes, Collective kind);

}  // namespace ringsim
