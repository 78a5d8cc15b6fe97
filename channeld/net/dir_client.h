// channeld/net/dir_client.h: HTTP to directory authorities (dir-spec §2.1, §4): upload our server
// descriptor with POST /tor/ and fetch it back with GET /tor/server/fp/<FP> to see that it was
// accepted (authorities answer 200 even to descriptors they drop). Runs on channeld's libevent
// loop; every request has a timeout and a response-size cap.
#pragma once

#include <event2/event.h>
#include <event2/http.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace onionsplit::channeld {

struct DirEndpoint {
  std::string address;  // IPv4 literal
  uint16_t dirPort = 0;
  std::string nickname;  // for logs
};

struct HttpResult {
  int status = 0;      // HTTP status, or 0 when the request failed before a response
  std::string reason;  // status line reason, or why it failed
  std::string body;    // capped at kMaxResponseBytes
};

inline constexpr size_t kMaxResponseBytes = 1 << 20;

class DirClient {
 public:
  using Done = std::function<void(const HttpResult&)>;

  // `base` must outlive the client. Requests still running when it is destroyed are cancelled
  // and their callbacks are not called; the client frees every connection it made.
  DirClient(event_base* base, int timeoutSeconds = 30);
  ~DirClient();
  DirClient(const DirClient&) = delete;
  DirClient& operator=(const DirClient&) = delete;

  void postDescriptor(const DirEndpoint& to, const std::string& descriptor, Done done);
  void fetchServerDescriptor(const DirEndpoint& from, const std::string& fingerprintHex, Done done);
  // GET `path` (e.g. /tor/status-vote/current/consensus); a body over `maxBytes` fails.
  void get(const DirEndpoint& from, const std::string& path, size_t maxBytes, Done done);

 private:
  struct Request;
  void start(const DirEndpoint& to, bool post, const std::string& path, const std::string& body,
             Done done, size_t maxBytes = kMaxResponseBytes);
  static void onResponse(evhttp_request* req, void* arg);
  static void onReap(evutil_socket_t, short, void* self);

  event_base* base_;
  int timeoutSeconds_;
  std::unordered_set<Request*> pending_;
  // Connections whose request finished: a connection cannot be freed inside its own callback, so
  // they are freed on the next loop turn (or with the client).
  std::vector<evhttp_connection*> finished_;
  event* reaper_ = nullptr;
};

}  // namespace onionsplit::channeld
