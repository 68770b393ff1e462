// Memory model: buffer tables, per-GPU live/peak tracking, the fit verdict.
// See memory_model.hpp; tests in tests/models/test_memory.cpp.
#include "models/memory_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/units.hpp"

namespace ringsim {

const char* buffer_format_name(BufferFormat f) {
  switch (f) {
    case BufferFormat::kOpaque: return "opaque";
    case BufferFormat::kQueries: return "queries";
    case BufferFormat::kKeysValues: return "keys-values";
    case BufferFormat::kAccumulator: return "accumulator";
    case BufferFormat::kPartials: return "partials";
    case BufferFormat::kOutput: return "output";
    case BufferFormat::kRowStats: return "row-stats";
    case BufferFormat::kGradQueries: return "grad-queries";
    case BufferFormat::kGradKeysValues: return "grad-keys-values";
    case BufferFormat::kGradQueriesFp32: return "grad-queries-fp32";
    case BufferFormat::kGradKeysValuesFp32: return "grad-keys-values-fp32";
    case BufferFormat::kBundle: return "bundle";
  }
  return "?";
}

BufferId BufferTable::add(std::string name, double bytes, BufferFormat format) {
  if (find(name) != kNoBuffer) throw std::logic_error("BufferTable: buffer " + name + " listed twice");
  buffers_.push_back(BufferSpec{std::move(name), bytes, format});
  return size() - 1;
}

BufferId BufferTable::find(const std::string& name) const {
  for (BufferId i = 0; i < size(); ++i) {
    if (buffers_[static_cast<std::size_t>(i)].name == name) return i;
  }
  return kNoBuffer;
}

DeviceMemory::DeviceMemory(const BufferTable* table, double reserved_bytes)
    : table_(table), reserved_bytes_(reserved_bytes),
      live_counts_(static_cast<std::size_t>(table->size()), 0), peak_counts_(live_counts_),
      live_bytes_(reserved_bytes), peak_bytes_(reserved_bytes) {}

void DeviceMemory::alloc(BufferId b) {
  ++live_counts_.at(static_cast<std::size_t>(b));
  ++live_total_;
  live_bytes_ += table_->bytes(b);
  // Strictly greater: the peak counts are those live when the peak was first reached.
  if (live_bytes_ > peak_bytes_) {
    peak_bytes_ = live_bytes_;
    peak_counts_ = live_counts_;
  }
}

void DeviceMemory::free(BufferId b) {
  int& n = live_counts_.at(static_cast<std::size_t>(b));
  if (n == 0) throw std::logic_error("DeviceMemory: freeing buffer " + table_->name(b) + ", which is not live");
  --n;
  --live_total_;
  live_bytes_ -= table_->bytes(b);
  if (live_total_ == 0) live_bytes_ = reserved_bytes_;  // no drift from subtracting doubles
}

MemoryVerdict memory_verdict(const BufferTable& table, const std::vector<int>& peak_counts, double reserved_bytes,
                             double peak_bytes, double capacity_bytes) {
  MemoryVerdict v;
  v.peak_bytes = peak_bytes;
  v.capacity_bytes = capacity_bytes;
  v.fits = peak_bytes <= capacity_bytes;
  if (v.fits) return v;
  struct Item {
    std::string name;
    double bytes;  // each copy
    int copies;
  };
  std::vector<Item> live;
  for (BufferId i = 0; i < table.size(); ++i) {
    const int n = peak_counts.at(static_cast<std::size_t>(i));
    if (n > 0) live.push_back(Item{table.name(i), table.bytes(i), n});
  }
  if (reserved_bytes > 0) live.push_back(Item{"reserved", reserved_bytes, 1});
  // Largest first; equal totals keep the table's order (reserved last).
  std::stable_sort(live.begin(), live.end(),
                   [](const Item& a, const Item& b) { return a.bytes * a.copies > b.bytes * b.copies; });
  v.reason = fmt::format("needs {} of {} (over by {}):", format_bytes(peak_bytes), format_bytes(capacity_bytes),
                         format_bytes(peak_bytes - capacity_bytes));
  for (std::size_t i = 0; i < live.size(); ++i) {
    const Item& it = live[i];
    v.reason += fmt::format("{} {} {}{}", i == 0 ? "" : ",", it.name,
                            it.copies > 1 ? fmt::format("{} x ", it.copies) : "", format_bytes(it.bytes));
  }
  return v;
}

MemoryVerdict memory_verdict(const DeviceMemory& gpu, const BufferTable& table, double capacity_bytes) {
  return memory_verdict(table, gpu.peak_counts(), gpu.reserved_bytes(), gpu.peak_bytes(), capacity_bytes);
}

}  // namespace ringsim
