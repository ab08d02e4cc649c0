// The admin server's listening sockets, shared by server.cc (accepting
// connections) and listen.cc (creating the sockets). Internal to proxy/admin.
#pragma once

#include <uv.h>

#include "proxy/admin/server.h"

namespace sluice::admin {

struct AdminServer::Listener {
  union {
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } h;
  AdminServer* server = nullptr;
  bool is_unix = false;

  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&h); }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&h); }

  // Frees itself once libuv is done with the handle.
  void close() {
    server = nullptr;
    uv_close(handle(), [](uv_handle_t* hh) { delete static_cast<Listener*>(hh->data); });
  }
};

}  // namespace sluice::admin
