// Rendezvous of sends and receives; see sim/rendezvous.hpp.
#include "sim/rendezvous.hpp"

#include <stdexcept>

namespace ringsim {

// A send (src d -> op.peer) looks for a recv waiting at op.peer's list of
// recvs from d, and the other way round.
bool Rendezvous::post(long long d, const Op& op, Matched& out) {
  const bool is_send = op.kind == Op::kSend;
  const long long src = is_send ? d : op.peer, dst = is_send ? op.peer : d;
  Post other{};
  if (take(is_send ? recvs_from_[src] : sends_to_[dst], Key{is_send ? dst : src, op.tag}, other)) {
    --unmatched_;
    out = Matched{src, dst, is_send ? op.bytes : other.bytes, is_send ? op.label : other.label};
    return true;
  }
  Waiting& mine = is_send ? sends_to_[dst] : recvs_from_[src];
  const Key key{is_send ? src : dst, op.tag};
  if (holds(mine, key)) throw std::logic_error("Engine: duplicate post");
  put(mine, Post{key.peer, op.tag, op.bytes, op.label});
  ++unmatched_;
  return false;
}

bool Rendezvous::take(Waiting& w, Key key, Post& out) {
  for (std::size_t i = 0; i < w.few.size(); ++i) {
    if (w.few[i].peer != key.peer || w.few[i].tag != key.tag) continue;
    out = w.few[i];
    w.few.erase(w.few.begin() + static_cast<std::ptrdiff_t>(i));
    return true;
  }
  if (!w.many) return false;
  const auto it = w.many->find(key);
  if (it == w.many->end()) return false;
  out = it->second;
  w.many->erase(it);
  return true;
}

bool Rendezvous::holds(const Waiting& w, Key key) {
  for (const Post& p : w.few) {
    if (p.peer == key.peer && p.tag == key.tag) return true;
  }
  return w.many && w.many->count(key) != 0;
}

void Rendezvous::put(Waiting& w, const Post& p) {
  if (w.few.size() < kFew) {
    w.few.push_back(p);
    return;
  }
  if (!w.many) w.many = std::make_unique<std::unordered_map<Key, Post, KeyHash>>();
  w.many->emplace(Key{p.peer, p.tag}, p);
}

}  // namespace ringsim
