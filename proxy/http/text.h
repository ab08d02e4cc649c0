// HTTP text helpers with no dependencies, shared by the proxy's HTTP layer and
// the admin server (which does not link the proxy library).
#pragma once

#include <string_view>

namespace sluice::http {

// ASCII-only case folding: only A-Z and a-z are equal across case.
bool iequals(std::string_view a, std::string_view b);

// The RFC 9110 reason phrase of the statuses sluice and its admin API send,
// and of those upstreams commonly send; "Unknown" otherwise (a reason phrase
// carries no meaning: an upstream's own one is passed on where there is one).
std::string_view reason_phrase(int status);

}  // namespace sluice::http
