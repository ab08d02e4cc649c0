// Session-ticket keys shared by every worker's ServerContext.
//
// One TicketKeys object lives for the whole process (it must survive config
// reloads, or every client loses resumption on SIGHUP) and is handed to each
// ServerContext through ServerOptions::ticket_keys. A ticket issued by one
// worker (or by the context of a previous reload) is therefore accepted by any
// other.
//
// Keys: a 16-byte name, an AES-256-CBC key and an HMAC-SHA256 key, all random.
// The current key encrypts new tickets; after rotate() the previous key is
// still accepted for decryption (and the client is sent a fresh ticket), so a
// ticket stays valid for one to two rotation periods. The proxy calls rotate()
// every 12 hours.
//
// Thread safety (the choice, written down): the key set is immutable and
// published through std::atomic<std::shared_ptr<const KeySet>>. The ticket
// callbacks, which run on any worker during handshakes, take a snapshot with one
// atomic load and never block on rotate(); rotate() builds a new set off to the
// side and stores it. Concurrent rotate() calls are serialised by a mutex that
// the handshake path never touches. No other shared mutable state.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace sluice::tls {

class TicketKeys {
 public:
  static constexpr size_t kNameLen = 16;
  static constexpr size_t kAesLen = 32;
  static constexpr size_t kHmacLen = 32;

  struct Key {
    unsigned char name[kNameLen];
    unsigned char aes[kAesLen];
    unsigned char hmac[kHmacLen];
  };

  // An immutable generation of keys. `previous` is absent until the first rotate().
  struct KeySet {
    Key current;
    Key previous;
    bool has_previous = false;
    uint64_t generation = 0;  // 0 for the first set, +1 per rotate()
    ~KeySet();                // wipes the key material
    // The key named `name`, or nullptr; `*is_current` tells which one matched.
    const Key* find(const unsigned char* name, bool* is_current) const;
  };

  // Fresh random keys. Returns nullptr (and sets *error) only when the CSPRNG fails.
  static std::shared_ptr<TicketKeys> create(std::string* error = nullptr);

  // New current key; the old current becomes `previous`; the old previous is
  // forgotten (tickets under it now get a full handshake). Returns false, keys
  // unchanged, when the CSPRNG fails. Callable from any thread.
  bool rotate();

  // Snapshot for the ticket callback. Callable from any thread.
  std::shared_ptr<const KeySet> snapshot() const { return keys_.load(std::memory_order_acquire); }

  uint64_t generation() const { return snapshot()->generation; }

  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

 private:
  TicketKeys() = default;
  std::atomic<std::shared_ptr<const KeySet>> keys_;
  std::mutex rotate_mu_;  // writers only
};

}  // namespace sluice::tls
