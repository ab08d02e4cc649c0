#include "tls/ticket_keys.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

namespace sluice::tls {

namespace {

bool random_key(TicketKeys::Key* k) {
  return RAND_bytes(k->name, sizeof k->name) == 1 && RAND_bytes(k->aes, sizeof k->aes) == 1 &&
         RAND_bytes(k->hmac, sizeof k->hmac) == 1;
}

}  // namespace

TicketKeys::KeySet::~KeySet() {
  OPENSSL_cleanse(&current, sizeof current);
  OPENSSL_cleanse(&previous, sizeof previous);
}

const TicketKeys::Key* TicketKeys::KeySet::find(const unsigned char* name, bool* is_current) const {
  if (std::memcmp(name, current.name, kNameLen) == 0) {
    *is_current = true;
    return &current;
  }
  if (has_previous && std::memcmp(name, previous.name, kNameLen) == 0) {
    *is_current = false;
    return &previous;
  }
  return nullptr;
}

std::shared_ptr<TicketKeys> TicketKeys::create(std::string* error) {
  auto set = std::make_shared<KeySet>();
  if (!random_key(&set->current)) {
    if (error) *error = "ticket keys: random number generator failed";
    return nullptr;
  }
  std::shared_ptr<TicketKeys> keys(new TicketKeys());
  keys->keys_.store(std::move(set), std::memory_order_release);
  return keys;
}

bool TicketKeys::rotate() {
  std::lock_guard<std::mutex> lock(rotate_mu_);
  auto old = keys_.load(std::memory_order_acquire);
  auto next = std::make_shared<KeySet>();
  if (!random_key(&next->current)) return false;
  // Astronomically unlikely, but a name clash would make the old key unreachable.
  if (std::memcmp(next->current.name, old->current.name, kNameLen) == 0) return false;
  next->previous = old->current;
  next->has_previous = true;
  next->generation = old->generation + 1;
  keys_.store(std::move(next), std::memory_order_release);
  return true;
}

}  // namespace sluice::tls
