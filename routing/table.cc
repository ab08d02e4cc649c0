#include "routing/table.h"

#include <algorithm>
#include <map>
#include <utility>

namespace sluice::routing {
namespace {

constexpr char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// FNV-1a over ASCII-lowered bytes: host names are short, so a byte loop is as fast as anything
// wider, and lowering inside the hash is what keeps match() allocation-free.
uint64_t hash_lower(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(lower(c));
    h *= 1099511628211ull;
  }
  return h;
}

// `key` is already lower-case.
bool equals_lower(std::string_view key, std::string_view s) {
  if (key.size() != s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (key[i] != lower(s[i])) return false;
  }
  return true;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

}  // namespace

std::string_view RouteTable::host_name(std::string_view h) {
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  if (!h.empty() && h.front() == '[') {
    size_t close = h.find(']');
    if (close == std::string_view::npos) return h;  // malformed: only any-host routes match
    return h.substr(1, close - 1);
  }
  size_t colon = h.find(':');
  if (colon != std::string_view::npos && h.find(':', colon + 1) == std::string_view::npos) {
    h = h.substr(0, colon);  // "name:port"; several colons = bare IPv6, kept whole
  }
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  return h;
}

void RouteTable::HostIndex::build(std::vector<Entry> all) {
  entries = std::move(all);
  size_t cap = 8;
  while (cap < entries.size() * 2) cap *= 2;  // load factor <= 0.5: short probe sequences
  slots.assign(cap, 0);
  mask = cap - 1;
  for (size_t i = 0; i < entries.size(); ++i) {
    uint64_t pos = hash_lower(entries[i].key) & mask;
    while (slots[pos] != 0) pos = (pos + 1) & mask;
    slots[pos] = static_cast<uint32_t>(i + 1);
  }
}

const RouteTable::Entry* RouteTable::HostIndex::find(std::string_view host) const {
  if (entries.empty()) return nullptr;
  for (uint64_t pos = hash_lower(host) & mask;; pos = (pos + 1) & mask) {
    uint32_t slot = slots[pos];
    if (slot == 0) return nullptr;
    const Entry& e = entries[slot - 1];
    if (equals_lower(e.key, host)) return &e;
  }
}

void RouteTable::sort_by_prefix(std::vector<uint32_t>& v) const {
  std::stable_sort(v.begin(), v.end(), [this](uint32_t a, uint32_t b) {
    return routes_[a].path_prefix.size() > routes_[b].path_prefix.size();
  });
}

RouteTable::RouteTable(std::vector<RouteSpec> routes) : routes_(std::move(routes)) {
  std::map<std::string, std::vector<uint32_t>> exact, wild;
  for (uint32_t i = 0; i < routes_.size(); ++i) {
    const RouteSpec& r = routes_[i];
    if (r.hosts.empty()) any_host_.push_back(i);
    for (const std::string& raw : r.hosts) {
      std::string h = lowered(raw);
      if (h == "*") {
        if (any_host_.empty() || any_host_.back() != i) any_host_.push_back(i);
      } else if (h.size() > 2 && h.compare(0, 2, "*.") == 0) {
        auto& v = wild[h.substr(2)];
        if (v.empty() || v.back() != i) v.push_back(i);
      } else {
        auto& v = exact[std::string(host_name(h))];
        if (v.empty() || v.back() != i) v.push_back(i);
      }
    }
  }
  auto to_entries = [this](std::map<std::string, std::vector<uint32_t>>& m) {
    std::vector<Entry> out;
    out.reserve(m.size());
    for (auto& [key, ids] : m) {
      sort_by_prefix(ids);
      out.push_back(Entry{key, std::move(ids)});
    }
    return out;
  };
  exact_.build(to_entries(exact));
  wildcard_.build(to_entries(wild));
  sort_by_prefix(any_host_);
}

int RouteTable::first_match(const std::vector<uint32_t>& candidates, std::string_view path) const {
  for (uint32_t i : candidates) {
    if (path.starts_with(routes_[i].path_prefix)) return static_cast<int>(i);
  }
  return -1;
}

int RouteTable::match(std::string_view host, std::string_view path) const {
  std::string_view name = host_name(host);
  if (!name.empty()) {
    if (const Entry* e = exact_.find(name)) {
      if (int r = first_match(e->routes, path); r >= 0) return r;
    }
    if (!wildcard_.entries.empty()) {
      // Longest suffix first: the suffix after the first dot, then after the second, ...
      for (size_t dot = name.find('.'); dot != std::string_view::npos;
           dot = name.find('.', dot + 1)) {
        std::string_view suffix = name.substr(dot + 1);
        if (suffix.empty()) break;
        if (const Entry* e = wildcard_.find(suffix)) {
          if (int r = first_match(e->routes, path); r >= 0) return r;
        }
      }
    }
  }
  return first_match(any_host_, path);
}

}  // namespace sluice::routing
