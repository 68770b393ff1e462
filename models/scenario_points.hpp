// Internal to models/: reading a scenario's sequence and sweep (the points),
// shared by scenario_yaml.cpp. See models/scenario.hpp for the format.
#pragma once
#include <string_view>

#include "models/scenario.hpp"
#include "models/yaml_map.hpp"

namespace ringsim {

// A layout name at `key` of `m`; throws InputError listing the layouts.
Layout read_layout(const yaml::Map& m, std::string_view key);
// A pass name (forward, backward, training) at `key` of `m`.
Pass read_pass_name(const yaml::Map& m, std::string_view key);
// sequence (and its cached_tokens, documents), then the sweep; every point checked.
void read_points(const yaml::Map& root, Scenario& s);
// `faults` of `parent` (the root or a sweep entry; models/faults.hpp).
FaultSpec read_fault_section(const yaml::Map& parent, const std::string& scenario_path);
// Every point's faults against the point (indices in range); after loading.
void check_all_faults(const Scenario& s);
// model.{layers, hidden, ffn_hidden, vocab} (models/scenario_model.cpp).
void read_model_size(const yaml::Map& model, Scenario& s);
// parallel.*, after the model and the cluster (tensor divides both).
void read_parallel(const yaml::Map& root, Scenario& s);

}  // namespace ringsim
