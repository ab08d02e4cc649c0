// Realistic HTTP/1.1 heads by size, shared by parse_bench.cc and headers_bench.cc.
//
// Requests: ~80 B is curl's GET; ~500 B a browser navigation with a session cookie; ~2 KB
// adds a bearer token, client hints, tracing and a CDN's X-Forwarded-For; ~8 KB is the same
// with a large analytics cookie jar, the usual reason real heads get that big. Responses:
// ~150 B a small API answer, ~250 B what compare.sh's nginx backend sends, ~1 KB an app
// page with cache and cookie headers, ~4 KB one with a long CSP and many Set-Cookies.
// The target size is approximate: the filler stops at the first cookie past it.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace sluice::bench {

inline void add(std::string& s, std::string_view name, std::string_view value) {
  s.append(name).append(": ").append(value).append("\r\n");
}

// "name=<hex>; " pairs appended to `value` until the head would reach `target` bytes.
inline void fill_cookies(std::string& value, size_t head_size, size_t target, const char* stem) {
  char pair[64];
  for (int i = 0; head_size + value.size() + 4 < target; ++i) {
    int n = std::snprintf(pair, sizeof pair, "%s%d=%016llx%08x; ", stem, i,
                          0x9e3779b97f4a7c15ULL * static_cast<unsigned>(i + 1),
                          static_cast<unsigned>(i * 2654435761U));
    value.append(pair, static_cast<size_t>(n));
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == ';')) value.pop_back();
}

// A complete GET request head of about `target` bytes (one of 80, 500, 2048, 8192).
inline std::string request_head(size_t target) {
  std::string s;
  if (target <= 100) {
    s = "GET / HTTP/1.1\r\n";
    add(s, "Host", "example.com");
    add(s, "User-Agent", "curl/8.5.0");
    add(s, "Accept", "*/*");
    s += "\r\n";
    return s;
  }
  s = "GET /products/42?ref=home HTTP/1.1\r\n";
  add(s, "Host", "shop.example.com");
  add(s, "User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
  add(s, "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
  add(s, "Accept-Language", "en-US,en;q=0.5");
  add(s, "Accept-Encoding", "gzip, deflate, br, zstd");
  add(s, "Referer", "https://shop.example.com/");
  add(s, "Connection", "keep-alive");
  if (target > 1000) {
    add(s, "Authorization",
        "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjE2MmE0In0."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNzE2MjM5MDIyLCJleHAiOjE3"
        "MTYyNDI2MjIsImF1ZCI6InNob3AuZXhhbXBsZS5jb20iLCJzY29wZSI6InJlYWQgd3JpdGUifQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5cSflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
    add(s, "sec-ch-ua",
        "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"");
    add(s, "sec-ch-ua-mobile", "?0");
    add(s, "sec-ch-ua-platform", "\"Linux\"");
    add(s, "X-Forwarded-For", "198.51.100.23, 203.0.113.9");
    add(s, "X-Request-Id", "5f0c6a8e9b2d4c1f8a7e6d5c4b3a2918");
    add(s, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    add(s, "If-None-Match", "W/\"5e15153d-120f\"");
  }
  add(s, "Upgrade-Insecure-Requests", "1");
  add(s, "Sec-Fetch-Dest", "document");
  add(s, "Sec-Fetch-Mode", "navigate");
  add(s, "Sec-Fetch-Site", "same-origin");
  add(s, "Priority", "u=0, i");
  std::string cookie = "session=8c1f2e3d4a5b6c7d8e9f0a1b2c3d4e5f; ";
  fill_cookies(cookie, s.size() + 8 + 2, target, "_ga");
  add(s, "Cookie", cookie);
  s += "\r\n";
  return s;
}

// A complete response head of about `target` bytes (one of 150, 250, 1024, 4096).
inline std::string response_head(size_t target) {
  std::string s = "HTTP/1.1 200 OK\r\n";
  if (target <= 200) {
    add(s, "Content-Type", "application/json");
    add(s, "Content-Length", "27");
    add(s, "Date", "Mon, 20 May 2024 12:00:00 GMT");
    add(s, "Connection", "keep-alive");
    s += "\r\n";
    return s;
  }
  add(s, "Server", "nginx/1.22.1");
  add(s, "Date", "Mon, 20 May 2024 12:00:00 GMT");
  add(s, "Content-Type", "application/octet-stream");
  add(s, "Content-Length", "128");
  add(s, "Last-Modified", "Mon, 20 May 2024 11:59:00 GMT");
  add(s, "Connection", "keep-alive");
  add(s, "ETag", "\"664b3a54-80\"");
  add(s, "X-Pool", "blue");
  add(s, "Accept-Ranges", "bytes");
  if (target <= 300) {
    s += "\r\n";
    return s;
  }
  add(s, "Keep-Alive", "timeout=60");
  add(s, "X-Powered-By", "Express");
  add(s, "Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0");
  add(s, "Vary", "Accept-Encoding, Cookie");
  add(s, "X-Request-Id", "5f0c6a8e9b2d4c1f8a7e6d5c4b3a2918");
  add(s, "X-Frame-Options", "SAMEORIGIN");
  if (target > 2000) {
    add(s, "Content-Security-Policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.example.com "
        "https://www.googletagmanager.com; style-src 'self' 'unsafe-inline' "
        "https://fonts.googleapis.com; img-src 'self' data: https:; font-src 'self' "
        "https://fonts.gstatic.com; connect-src 'self' https://api.example.com; frame-ancestors "
        "'none'; base-uri 'self'; form-action 'self'");
    add(s, "Link",
        "</static/app.css>; rel=preload; as=style, </static/app.js>; rel=preload; as=script");
  }
  char line[160];
  for (int i = 0; s.size() + 2 < target; ++i) {
    int n = std::snprintf(line, sizeof line,
                          "_ga%d=GA1.2.%016llx.%08x; Path=/; Domain=.example.com; "
                          "Max-Age=63072000; Secure; HttpOnly; SameSite=Lax",
                          i, 0x9e3779b97f4a7c15ULL * static_cast<unsigned>(i + 1),
                          static_cast<unsigned>(i * 2654435761U));
    add(s, "Set-Cookie", std::string_view(line, static_cast<size_t>(n)));
  }
  s += "\r\n";
  return s;
}

}  // namespace sluice::bench
