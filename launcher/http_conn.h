// launcher/http_conn.h: the accepted connection of the launcher's small HTTP servers (the
// MetricsPort's, launcher/metrics_server.h, and the DirPort's, launcher/dirport_server.h).
#pragma once

#include <event2/bufferevent.h>
#include <event2/util.h>

#include <cstddef>

namespace onionsplit::launcher {

// A bufferevent on `fd` with the callbacks and `arg`, reading: its callbacks see at most
// `maxRequest` + 1 bytes at once (a request over `maxRequest` is the server's to refuse), and it
// times out after `timeoutSeconds` without progress either way. nullptr, with `fd` closed, if
// libevent cannot make it.
bufferevent* acceptHttpConn(event_base* base, evutil_socket_t fd, bufferevent_data_cb readCb,
                            bufferevent_data_cb writeCb, bufferevent_event_cb eventCb, void* arg,
                            size_t maxRequest, int timeoutSeconds);

}  // namespace onionsplit::launcher
