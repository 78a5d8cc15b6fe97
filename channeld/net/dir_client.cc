// channeld/net/dir_client.cc: see dir_client.h.
#include "channeld/net/dir_client.h"

#include <event2/buffer.h>
#include <event2/http.h>

namespace onionsplit::channeld {

struct DirClient::Request {
  DirClient* owner = nullptr;
  evhttp_connection* conn = nullptr;
  Done done;
  size_t maxBytes = kMaxResponseBytes;
};

DirClient::DirClient(event_base* base, int timeoutSeconds)
    : base_(base), timeoutSeconds_(timeoutSeconds) {
  reaper_ = evtimer_new(base_, &DirClient::onReap, this);
}

DirClient::~DirClient() {
  event_free(reaper_);
  for (evhttp_connection* c : finished_)
    evhttp_connection_free(c);
  // Freeing a connection drops its queued request without calling the request's callback.
  for (Request* r : pending_) {
    evhttp_connection_free(r->conn);
    delete r;
  }
}

void DirClient::onReap(evutil_socket_t, short, void* self) {
  auto* c = static_cast<DirClient*>(self);
  for (evhttp_connection* conn : c->finished_)
    evhttp_connection_free(conn);
  c->finished_.clear();
}

void DirClient::postDescriptor(const DirEndpoint& to, const std::string& descriptor, Done done) {
  start(to, true, "/tor/", descriptor, std::move(done));
}

void DirClient::fetchServerDescriptor(const DirEndpoint& from, const std::string& fingerprintHex,
                                      Done done) {
  start(from, false, "/tor/server/fp/" + fingerprintHex, "", std::move(done));
}

void DirClient::get(const DirEndpoint& from, const std::string& path, size_t maxBytes, Done done) {
  start(from, false, path, "", std::move(done), maxBytes);
}

void DirClient::start(const DirEndpoint& to, bool post, const std::string& path,
                      const std::string& body, Done done, size_t maxBytes) {
  auto* r = new Request{this, nullptr, std::move(done), maxBytes};
  r->conn = evhttp_connection_base_new(base_, nullptr, to.address.c_str(), to.dirPort);
  if (!r->conn) {
    HttpResult res{0, "cannot create the connection", ""};
    r->done(res);
    delete r;
    return;
  }
  evhttp_connection_set_timeout(r->conn, timeoutSeconds_);
  evhttp_connection_set_max_body_size(r->conn, static_cast<ev_ssize_t>(maxBytes));
  evhttp_connection_set_retries(r->conn, 0);
  evhttp_request* req = evhttp_request_new(&DirClient::onResponse, r);
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  std::string host = to.address + ":" + std::to_string(to.dirPort);
  evhttp_add_header(headers, "Host", host.c_str());
  evhttp_add_header(headers, "Connection", "close");
  if (post) {
    evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
    evhttp_add_header(headers, "Content-Type", "application/octet-stream");
  }
  if (evhttp_make_request(r->conn, req, post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, path.c_str()) !=
      0) {
    // libevent frees `req` on failure.
    evhttp_connection_free(r->conn);
    HttpResult res{0, "cannot send the request", ""};
    r->done(res);
    delete r;
    return;
  }
  pending_.insert(r);
}

void DirClient::onResponse(evhttp_request* req, void* arg) {
  auto* r = static_cast<Request*>(arg);
  HttpResult res;
  if (!req || evhttp_request_get_response_code(req) == 0) {
    res.reason = "no response (connection refused, timed out or too large)";
  } else {
    res.status = evhttp_request_get_response_code(req);
    if (const char* line = evhttp_request_get_response_code_line(req)) res.reason = line;
    evbuffer* in = evhttp_request_get_input_buffer(req);
    size_t n = std::min(evbuffer_get_length(in), r->maxBytes);
    res.body.resize(n);
    evbuffer_remove(in, res.body.data(), n);
  }
  DirClient* owner = r->owner;
  owner->pending_.erase(r);
  owner->finished_.push_back(r->conn);
  timeval now{0, 0};
  evtimer_add(owner->reaper_, &now);
  Done done = std::move(r->done);
  delete r;
  done(res);  // last: the callback may destroy the client
}

}  // namespace onionsplit::channeld
