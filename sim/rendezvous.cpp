// Rendezvous of sends and receives, past the short lists; see sim/rendezvous.hpp.
#include "sim/rendezvous.hpp"

#include <stdexcept>

namespace ringsim {

bool Rendezvous::take_many(Waiting& w, Key key, Post& out) {
  const auto it = w.many->find(key);
  if (it == w.many->end()) return false;
  out = it->second;
  w.many->erase(it);
  return true;
}

// The short list is full (or the map is in use): the map takes it.
void Rendezvous::put_many(Waiting& w, const Post& p) {
  if (!w.many) w.many = std::make_unique<std::unordered_map<Key, Post, KeyHash>>();
  if (!w.many->emplace(Key{p.peer, p.tag}, p).second) refuse_duplicate();
}

void Rendezvous::refuse_duplicate() { throw std::logic_error("Engine: duplicate post"); }

}  // namespace ringsim
