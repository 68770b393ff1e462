// Rendezvous of the event engine: a SEND and a RECV with the same (src, dst,
// tag) make a transfer when both are posted. An unmatched post waits at the
// device that will see its match: sends at their destination, receives at
// their source.
//
// Each device keeps its first kFew waiting posts in a short list, scanned (a
// ring holds 0-2: a scan beats a hash map, measured: the map was 12% of a
// 1024-device run), and any more in a hash map by (peer, tag), so a device
// that many post to (an all-to-all, or thousands of messages between two
// ranks) costs O(kFew + 1) a post, not O(posts waiting).
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "sim/engine.hpp"

namespace ringsim {

class Rendezvous {
 public:
  struct Matched {
    long long src, dst;
    double bytes;     // the send's
    long long label;  // the send's
    int all_to_all_peers;  // the send's (Op::all_to_all_peers)
  };
  explicit Rendezvous(long long devices) : sends_to_(devices), recvs_from_(devices) {}
  // Device d posts op (kSend to op.peer, or kRecv from op.peer): true, with
  // the transfer in `out`, when the other side was already posted. Throws
  // std::logic_error on a second post of the same (src, dst, tag) and kind.
  // Inline: every send and receive comes through here.
  bool post(long long d, const Op& op, Matched& out) {
    const bool is_send = op.kind == Op::kSend;
    const long long src = is_send ? d : op.peer, dst = is_send ? op.peer : d;
    // A send (src d -> op.peer) looks for a recv waiting at op.peer's list of
    // recvs from d, and the other way round.
    Waiting& theirs = is_send ? recvs_from_[src] : sends_to_[dst];
    const Key their_key{is_send ? dst : src, op.tag};
    for (std::size_t i = 0; i < theirs.few.size(); ++i) {
      const Post& p = theirs.few[i];
      if (p.peer != their_key.peer || p.tag != their_key.tag) continue;
      out = Matched{src, dst, is_send ? op.bytes : p.bytes, is_send ? op.label : p.label,
                     is_send ? op.all_to_all_peers : p.all_to_all_peers};
      theirs.few.erase(theirs.few.begin() + static_cast<std::ptrdiff_t>(i));
      --unmatched_;
      return true;
    }
    Post other{};
    if (theirs.many && take_many(theirs, their_key, other)) {
      out = Matched{src, dst, is_send ? op.bytes : other.bytes, is_send ? op.label : other.label,
                   is_send ? op.all_to_all_peers : other.all_to_all_peers};
      --unmatched_;
      return true;
    }
    Waiting& mine = is_send ? sends_to_[dst] : recvs_from_[src];
    const Key key{is_send ? src : dst, op.tag};
    for (const Post& p : mine.few) {
      if (p.peer == key.peer && p.tag == key.tag) refuse_duplicate();
    }
    if (mine.few.size() < kFew && !mine.many) {
      mine.few.push_back(Post{key.peer, op.tag, op.bytes, op.label, op.all_to_all_peers});
    } else {
      put_many(mine, Post{key.peer, op.tag, op.bytes, op.label, op.all_to_all_peers});
    }
    ++unmatched_;
    return false;
  }
  std::uint64_t unmatched() const { return unmatched_; }

 private:
  static constexpr std::size_t kFew = 16;
  struct Post {
    long long peer;  // the other side
    std::uint64_t tag;
    double bytes;    // sends
    long long label;
    int all_to_all_peers;  // sends
  };
  struct Key {
    long long peer;
    std::uint64_t tag;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(k.peer) * 0x9E3779B97F4A7C15ull ^ k.tag);
    }
  };
  struct Waiting {  // one device's unmatched posts of one kind
    std::vector<Post> few;
    std::unique_ptr<std::unordered_map<Key, Post, KeyHash>> many;  // past kFew, made on first need
  };
  std::vector<Waiting> sends_to_, recvs_from_;  // [dst] unmatched sends, [src] unmatched recvs
  std::uint64_t unmatched_ = 0;

  static bool take_many(Waiting& w, Key key, Post& out);
  static void put_many(Waiting& w, const Post& p);  // throws on a duplicate
  [[noreturn]] static void refuse_duplicate();
};

}  // namespace ringsim
