// launcher/http_conn.cc: see http_conn.h.
#include "launcher/http_conn.h"

#include <event2/event.h>
#include <sys/time.h>
#include <unistd.h>

namespace onionsplit::launcher {

bufferevent* acceptHttpConn(event_base* base, evutil_socket_t fd, bufferevent_data_cb readCb,
                            bufferevent_data_cb writeCb, bufferevent_event_cb eventCb, void* arg,
                            size_t maxRequest, int timeoutSeconds) {
  bufferevent* bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    close(fd);
    return nullptr;
  }
  bufferevent_setcb(bev, readCb, writeCb, eventCb, arg);
  bufferevent_setwatermark(bev, EV_READ, 0, maxRequest + 1);
  timeval tv{timeoutSeconds, 0};
  bufferevent_set_timeouts(bev, &tv, &tv);
  bufferevent_enable(bev, EV_READ);
  return bev;
}

}  // namespace onionsplit::launcher
