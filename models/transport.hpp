// Transports: how a deployment moves a ring step's K/V block between GPUs,
// as named link profiles (models/profiles/links/NAME.yaml). The same NVLink
// carries 376 GB/s per direction with raw NCCL send/recv and 27-259 GB/s
// with PyTorch's batch_isend_irecv at 4-256 MiB per rank (4 x H200, NV18,
// 2026-11-27; issue 9): the transport, not the wire, sets a ring step's rate.
//
//   name: torch-batch-isend-irecv-h200
//   api: torch-batch-isend-irecv    # what was timed: nccl-send-recv | torch-batch-isend-irecv |
//                                   #   torch-all-to-all | nccl-all-to-all | another name
//   pattern: ring-step              # ring-step: every rank sends to the next and receives from
//                                   #   the previous at once; all-to-all
//   card: "4 x NVIDIA H200 (NV18)"
//   source: measured                # measured | reported (figures from elsewhere, cited)
//   measured: {date: 2026-11-27, tool: "tools/calibrate/transport_bench.py", ...}   # strings
//   latency: "10 us"                # fixed cost of one step, when known (optional, default 0)
//   bandwidth: "376 GB/s"           # asymptotic payload rate (optional when samples are given)
//   samples:                        # per rank and direction: message bytes and the payload
//     - {bytes: "4 MiB", bytes_per_s: "27 GB/s"}   # rate of the whole step (latency included)
//
// Time of a step moving B bytes (t):
//   at the samples' sizes: B / rate; between them, the rate linear in log B;
//   above the largest: the largest sample's rate (a transport saturates; or
//     `bandwidth` when given and the samples stop short of it: B / bandwidth + latency);
//   below the smallest: down the line through the two smallest samples,
//     a + (t_smallest - a) * B / B_smallest, its fixed part a kept within
//     [latency, t_smallest] (batch_isend_irecv's samples put it near 120 us);
//   no samples: latency + B / bandwidth.
// A flow carrying the message on a route is capped at
//   transport_rate_cap(B) = B / (t(B) - latency)      (+inf when t(B) <= latency)
// since the engine charges the route's latency itself: with the scenario's
// link latency set to the transport's, a lone flow takes t(B).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace YAML { class Node; }

namespace ringsim {

struct TransportSample {
  double bytes = 0;
  double bytes_per_s = 0;  // payload per rank and direction, whole step
};

struct TransportProfile {
  std::string name, api, pattern, card;
  bool measured = true;                 // source: measured | reported
  std::vector<std::pair<std::string, std::string>> measured_info;  // date, tool, command, ...
  double latency_s = 0;
  double bandwidth_bytes_per_s = 0;     // 0: not given
  std::vector<TransportSample> samples; // sorted by bytes, distinct
  std::string origin;                   // file it came from
};

// Seconds one ring step moving `message_bytes` per rank takes (see above).
double transport_seconds(const TransportProfile&, double message_bytes);
// message_bytes / transport_seconds: the rate a user's benchmark would print.
double effective_bytes_per_s(const TransportProfile&, double message_bytes);
// The per-flow rate cap (see above); +inf when the message is all latency.
double transport_rate_cap(const TransportProfile&, double message_bytes);

// From YAML (format above); errors are InputError naming file, line and key.
TransportProfile transport_from_yaml(const YAML::Node&, const std::string& file);
// A shipped name (links/NAME.yaml under a profile directory, searched in
// profile_dirs() order: models/profiles/links in the source tree) or a path,
// relative to base_dir first.
TransportProfile load_transport(const std::string& name_or_path, const std::string& base_dir);
std::vector<std::string> transport_dirs();  // <profile dir>/links of every profile dir that has one
std::vector<std::string> shipped_transport_names();  // over transport_dirs(), sorted, unique

// The optional `transport` key of a scenario's link map (cluster.intra_node,
// cluster.inter_node): nullptr when absent; else the loaded profile. `file`
// and `key_prefix` ("cluster.intra_node") name errors; a relative path is
// resolved against `base_dir` (the scenario's folder). For the scenario reader
// (models/scenario_yaml.cpp: read_link), which stores it in LinkSpec::transport.
// `key`: "transport" (ring steps and other point-to-point messages) or
// "all_to_all_transport" (the all-to-alls of Ulysses and USP; pattern all-to-all).
std::shared_ptr<const TransportProfile> read_link_transport(const YAML::Node& link_map, const std::string& file,
                                                            const std::string& key_prefix,
                                                            const std::string& base_dir,
                                                            const std::string& key = "transport");

}  // namespace ringsim
