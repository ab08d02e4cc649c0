// Sticky pool choice: hash a client key (cookie, header value, client IP) and pick a pool
// with weighted rendezvous hashing, so that one client keeps its pool while the weights are
// unchanged, and when weights change only the minimum share of clients moves.
//
// Pure functions: no state, thread-safe, no allocation.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::routing {

// 64-bit hash of `key`: stable across runs, processes, machines and releases (it is part of
// the sticky contract: a client keeps its pool across restarts; tests pin golden values).
// Not a cryptographic hash: a client can steer itself to a pool by choosing its key, which is
// harmless, since only pools with weight > 0 can be chosen and a fresh client is placed by
// its key anyway.
uint64_t hash_key(std::string_view key);

// Weighted rendezvous (highest random weight) hashing: each pool i with weight w_i > 0 scores
// w_i / -ln(u_i), where u_i in (0,1) is derived from hash(key_hash, i); the highest score wins.
// Pool i is chosen for a fraction w_i / sum(w) of keys. When one pool's weight changes, keys
// move only to or from that pool, which is the minimum possible movement.
// Returns the index, or -1 when every weight is 0 (or `weights` is empty).
int rendezvous_pick(uint64_t key_hash, std::span<const uint32_t> weights);

// As above, but pool i is identified by pool_ids[i] (e.g. hash_key(pool_name)) instead of by
// its position, so reordering the pools in the config does not move clients.
// pool_ids.size() must equal weights.size().
int rendezvous_pick(uint64_t key_hash, std::span<const uint32_t> weights,
                    std::span<const uint64_t> pool_ids);

}  // namespace sluice::routing
