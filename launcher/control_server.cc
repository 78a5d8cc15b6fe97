// launcher/control_server.cc: see control_server.h.
#include "launcher/control_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "common/base/hex.h"
#include "common/config/torrc.h"
#include "common/control/relay_info.h"
#include "common/control/session.h"
#include "common/control/versions.h"
#include "common/daemon/runtime.h"
#include "common/exitpolicy/from_config.h"
#include "common/ipc/peers.h"
#include "launcher/control_ipc.h"
#include "launcher/metrics_scrape.h"

namespace onionsplit::launcher {
namespace {

// The C tor release whose control protocol onionsplit follows. Controllers (stem, nyx) gate what
// they ask on the version they read, so it leads; onionsplit's own version follows in parentheses,
// which stem's version parser accepts.
constexpr const char* kControlProtocolLevel = "0.4.9.11";

std::string versionText() {
  return std::string(kControlProtocolLevel) + " (onionsplit-" + daemon::kVersion + ")";
}

uint64_t nowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

const passwd* userOf(const config::Config& cfg) {
  return cfg.user.empty() || geteuid() != 0 ? nullptr : getpwnam(cfg.user.c_str());
}

// 32 random bytes at `path`, 0600 (0640 when group-readable), owned by User when we are root.
bool writeCookie(const config::Config& cfg, control::Cookie& cookie, std::string& error) {
  std::string path = config::cookieAuthFilePath(cfg);
  if (RAND_bytes(cookie.data(), static_cast<int>(cookie.size())) != 1) {
    error = "cannot make a control cookie: no randomness";
    return false;
  }
  mode_t mode = cfg.control.cookieAuthFileGroupReadable ? 0640 : 0600;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  const passwd* pw = userOf(cfg);
  bool ok = fd >= 0 && fchmod(fd, mode) == 0 && (!pw || fchown(fd, pw->pw_uid, pw->pw_gid) == 0) &&
            write(fd, cookie.data(), cookie.size()) == static_cast<ssize_t>(cookie.size());
  if (!ok) error = "CookieAuthFile " + path + ": " + std::strerror(errno);
  if (fd >= 0 && close(fd) != 0 && ok) {
    error = "CookieAuthFile " + path + ": " + std::strerror(errno);
    ok = false;
  }
  return ok;
}

// The launcher's own log lines to the controllers: C tor's severities on spdlog's levels as
// common/daemon/log.cc maps them (notice is spdlog's info, info its debug, debug its trace).
class ControlLogSink : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  ControlLogSink(ControlServer* server, std::string name)
      : server_(server), prefix_(std::move(name) + ": ") {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    static constexpr const char* kNames[] = {"DEBUG", "INFO", "NOTICE", "WARN", "ERR", "ERR"};
    size_t level = static_cast<size_t>(msg.level);
    if (level >= std::size(kNames)) return;  // spdlog's "off"
    server_->logLine(
        {kNames[level], prefix_ + std::string(msg.payload.data(), msg.payload.size())});
  }
  void flush_() override {}

 private:
  ControlServer* server_;
  std::string prefix_;
};

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += (out.empty() ? "" : "\n") + l;
  return out;
}

}  // namespace

std::optional<std::string> readSmallFile(const std::string& path, size_t cap) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(cap + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad() || static_cast<size_t>(in.gcount()) > cap) return std::nullopt;
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

std::vector<config::TorrcEntry> entriesOfFile(const std::string& path) {
  auto text = readSmallFile(path, config::kMaxTorrcBytes);
  if (!text) return {};
  auto entries = config::lexTorrc(*text, path);
  return entries ? std::move(*entries) : std::vector<config::TorrcEntry>{};
}

std::optional<std::string> launcherSignal(const std::string& name) {
  // A relay's SHUTDOWN is C tor's controlled shutdown: listeners close, exits wait
  // ShutdownWaitLength (the launcher's SIGINT); HALT is at once (its SIGTERM). DUMP and DEBUG are
  // SIGUSR1 and SIGUSR2, as in C tor.
  if (name == "RELOAD" || name == "HUP")
    raise(SIGHUP);
  else if (name == "SHUTDOWN" || name == "INT")
    raise(SIGINT);
  else if (name == "HALT" || name == "TERM")
    raise(SIGTERM);
  else if (name == "DUMP" || name == "USR1")
    raise(SIGUSR1);
  else if (name == "DEBUG" || name == "USR2")
    raise(SIGUSR2);
  else
    return std::nullopt;
  return std::string();
}

struct ControlServer::Conn {
  ControlServer* owner = nullptr;
  bufferevent* bev = nullptr;
  control::CommandReader reader;
  std::unique_ptr<control::Session> session;
  bool closing = false;                     // the last reply is queued; close once it has left
  std::optional<control::Command> waiting;  // a GETINFO waiting for channeld's answer
  size_t largest = 0;  // the largest reply or event queued since the output was last empty
};

namespace {

// A GETINFO with a key answered from channeld's Control.channels or Control.descriptor.
bool needsRelayView(const control::Command& c) {
  if (!control::iequals(c.keyword, "GETINFO")) return false;
  auto args = control::parseArgs(c.args);
  if (!args) return false;
  for (const auto& a : *args) {
    std::string_view key = a.key.empty() ? a.value : a.key;
    if (key == "orconn-status" || key.starts_with("desc/id/") || key.starts_with("desc/name/"))
      return true;
  }
  return false;
}

// desc/id/<fp>'s fingerprint: 40 hex digits after an optional '$', and C tor's "~nick" or "=nick"
// after them ignored.
std::string descriptorId(std::string_view what) {
  if (what.starts_with("$")) what.remove_prefix(1);
  if (what.size() > 40 && (what[40] == '~' || what[40] == '=')) what = what.substr(0, 40);
  std::string out(what);
  for (char& ch : out)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace

// What the controller's GETINFO, GETCONF and SIGNAL reach.
struct ControlServer::Impl : control::Backend {
  ControlServer* server = nullptr;
  control::AuthConfig auth;
  ControlHooks hooks;
  // Bytes the exit streams moved, summed over the daemons' counters across their restarts.
  uint64_t read = 0, written = 0, lastRead = 0, lastWritten = 0;
  uint64_t bwRead = 0, bwWritten = 0;  // totals at the last BW event
  bool scraping = false;
  // channeld's word on the relay's standing, from the same scrape (every second): the ORPort
  // self-test passed (or AssumeReachable 1), and an authority accepted the descriptor.
  bool orReachable = false, descriptorAccepted = false;
  control::AccountingCounters accounting;    // channeld's, from the same scrape
  control::ServerStatusEvents serverStatus;  // STATUS_SERVER from channeld's counters
  // GETINFO bw-event-cache: the last kBwSamples BW events' (read, written), kept as C tor keeps
  // them, only while a controller asks for BW.
  static constexpr size_t kBwSamples = 300;
  std::deque<std::pair<uint64_t, uint64_t>> bwSamples;
  // channeld's answer for the GETINFOs waiting on it (nullopt: it did not answer), while they run.
  std::optional<RelayView> view;
  bool askingView = false;
  // channeld's consensus_accepted_total at the last reading: a change is a new consensus.
  std::optional<uint64_t> consensusAccepted;

  std::shared_ptr<ControlLogSink> sink;

  std::optional<std::string> info(std::string_view key, std::string& error) override;
  std::optional<std::pair<std::string, std::vector<std::string>>> conf(
      std::string_view key) override;
  std::optional<std::string> signal(const std::string& name) override { return hooks.signal(name); }
  std::string takeOwnership() override { return hooks.takeOwnership; }
  std::vector<config::TorrcEntry> entries() override { return snapshotEntries(); }
  std::string setConf(const std::vector<control::ConfChange>& changes) override {
    return hooks.setConf(control::withChanges(snapshotEntries(), changes));
  }
  std::string random(size_t n) override {
    std::string s(n, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
    return s;
  }
  std::optional<std::string> processInfo(std::string_view key);
  std::optional<std::string> relayInfo(std::string_view key);
  std::optional<std::string> listenerInfo(std::string_view key);
  std::optional<std::string> fixedInfo(std::string_view key, std::string& error);
  std::optional<std::string> statusInfo(std::string_view key, std::string& error);
  std::optional<std::string> channeldInfo(std::string_view key, std::string& error);
  std::vector<config::TorrcEntry> snapshotEntries();
  std::optional<std::string> consensus();
  std::optional<std::string> ownFingerprint();
};

std::vector<config::TorrcEntry> ControlServer::Impl::snapshotEntries() {
  return hooks.entries ? hooks.entries() : std::vector<config::TorrcEntry>{};
}

std::optional<std::string> ControlServer::Impl::consensus() {
  return hooks.consensus ? hooks.consensus() : std::nullopt;
}

std::optional<std::string> ControlServer::Impl::ownFingerprint() {
  return hooks.fingerprint ? hooks.fingerprint() : std::nullopt;
}

// Keys about the relay's standing: C tor's answers for a relay without a client role.
std::optional<std::string> ControlServer::Impl::statusInfo(std::string_view key,
                                                           std::string& error) {
  if (key == "config-text") return control::configText(snapshotEntries());
  if (key == "config/names") return control::configNames();
  if (key == "config/defaults") return control::configDefaults();
  if (key == "dormant") return std::string("0");  // a relay never goes dormant
  // onionsplit builds no circuits of its own (no client role): none has been established.
  if (key == "status/circuit-established") return std::string("0");
  if (key.starts_with("accounting/")) return control::accountingInfo(key, accounting);
  // As C tor 0.4.9: no DirPort, so nothing to find unreachable there (DIR is always 1).
  bool orOk = orReachable || hooks.config().assumeReachable;
  if (key == "status/reachability-succeeded/or") return std::string(orOk ? "1" : "0");
  if (key == "status/reachability-succeeded/dir") return std::string("1");
  if (key == "status/reachability-succeeded")
    return std::string(orOk ? "OR=1 DIR=1" : "OR=0 DIR=1");
  if (key == "status/accepted-server-descriptor" || key == "status/good-server-descriptor")
    return std::string(descriptorAccepted ? "1" : "0");
  if (key == "address") {
    in_addr a{};
    const std::string& configured = hooks.config().address;
    if (!configured.empty() && inet_pton(AF_INET, configured.c_str(), &a) == 1) return configured;
    auto fp = ownFingerprint();
    auto text = consensus();
    if (auto addr = fp && text ? control::addressInConsensus(*text, *fp) : std::nullopt)
      return addr;
    error = "Address unknown";
    return std::nullopt;
  }
  bool byId = key.starts_with("ns/id/"), byName = key.starts_with("ns/name/");
  if (!byId && !byName && key != "ns/all") return std::nullopt;
  auto text = consensus();
  if (key == "ns/all") return text ? control::allEntries(*text) : std::string();
  if (!text) return std::string();  // no consensus yet: C tor answers ""
  std::string_view what = key.substr(byId ? 6 : 8);
  auto raw = fromHex(what.starts_with("$") ? what.substr(1) : what);
  if (byId && (!raw || raw->size() != 20)) {
    error = "Data not decodeable as hex";
    return std::nullopt;
  }
  return byId ? control::entryById(*text, what) : control::entryByName(*text, what);
}

// orconn-status, desc/id/* and desc/name/*, from channeld's answer (asked before the GETINFO ran).
// As a C tor relay: its own descriptor by its fingerprint or nickname; it holds no other here, so
// any other is an unrecognized key.
std::optional<std::string> ControlServer::Impl::channeldInfo(std::string_view key,
                                                             std::string& error) {
  if (key == "orconn-status") {
    if (view) return control::orconnStatus(view->channels, consensus().value_or(""));
    error = "channeld did not answer";
    return std::nullopt;
  }
  bool byId = key.starts_with("desc/id/"), byName = key.starts_with("desc/name/");
  if ((!byId && !byName) || !view || view->descriptor.empty()) return std::nullopt;
  auto own = ownFingerprint();
  bool mine = byId ? own && descriptorId(key.substr(8)) == *own
                   : control::iequals(key.substr(10), hooks.config().nickname);
  return mine ? std::optional<std::string>(view->descriptor) : std::nullopt;
}

std::optional<std::string> ControlServer::Impl::processInfo(std::string_view key) {
  if (key == "process/pid") return std::to_string(getpid());
  if (key == "process/user") {
    const passwd* pw = getpwuid(geteuid());
    return pw ? std::string(pw->pw_name) : std::string();
  }
  if (key == "process/descriptor-limit") {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return std::nullopt;
    return std::to_string(rl.rlim_cur);
  }
  if (key == "uptime") return std::to_string((nowMs() - hooks.startedAtMs) / 1000);
  if (key == "traffic/read") return std::to_string(read);
  if (key == "traffic/written") return std::to_string(written);
  return std::nullopt;
}

std::optional<std::string> ControlServer::Impl::relayInfo(std::string_view key) {
  const config::Config& cfg = hooks.config();
  if (key == "fingerprint") return ownFingerprint();
  if (key == "exit-policy/full") {
    auto policy = exitpolicy::policyFromConfig(cfg);
    if (!policy) return std::nullopt;
    std::vector<std::string> lines;
    for (const auto& rule : policy->rules())
      lines.push_back(rule.toString());
    return joinLines(lines);
  }
  return std::nullopt;
}

// net/listeners/*: the ORPorts, the ControlPorts and ControlSockets, the MetricsPort; C tor's
// client and directory listener types are answered "" (onionsplit has none of them).
std::optional<std::string> ControlServer::Impl::listenerInfo(std::string_view key) {
  const config::Config& cfg = hooks.config();
  auto hostPort = [](std::string a, uint16_t port) {
    if (a.find(':') != std::string::npos) a = "[" + a + "]";
    return "\"" + a + ":" + std::to_string(port) + "\"";
  };
  if (key == "net/listeners/or") {
    std::string out;
    for (const auto& p : cfg.orPorts)
      if (!p.noListen)
        out +=
            (out.empty() ? "" : " ") + hostPort(p.address.empty() ? "0.0.0.0" : p.address, p.port);
    return out;
  }
  if (key == "net/listeners/control") {
    std::string out;
    for (const auto& n : server->names_)
      out += (out.empty() ? "" : " ") + control::quote(n);
    return out;
  }
  if (key == "net/listeners/metrics")
    return cfg.metricsPort ? hostPort(cfg.metricsPort->address, cfg.metricsPort->port)
                           : std::string();
  static constexpr std::string_view kNone[] = {"dir", "socks", "trans",     "natd",
                                               "dns", "extor", "httptunnel"};
  std::string_view prefix = "net/listeners/";
  if (!key.starts_with(prefix)) return std::nullopt;
  bool none =
      std::find(std::begin(kNone), std::end(kNone), key.substr(prefix.size())) != std::end(kNone);
  return none ? std::optional<std::string>(std::string()) : std::nullopt;
}

// Keys whose answer C tor gives alike for every relay of its version, and the ones onionsplit
// answers from its own samples.
std::optional<std::string> ControlServer::Impl::fixedInfo(std::string_view key,
                                                          std::string& error) {
  // C tor without GeoIP data (onionsplit has none): no country for any address.
  if (key.starts_with("ip-to-country/")) {
    std::string what(key.substr(14));
    if (what == "ipv4-available" || what == "ipv6-available") return std::string("0");
    if (what.size() > 2 && what.front() == '[' && what.back() == ']')
      what = what.substr(1, what.size() - 2);
    in6_addr a{};
    bool address =
        inet_pton(AF_INET, what.c_str(), &a) == 1 || inet_pton(AF_INET6, what.c_str(), &a) == 1;
    error = address ? "GeoIP data not loaded" : "Invalid address family";
    return std::nullopt;
  }
  if (key == "signal/names")
    return std::string(
        "RELOAD HUP SHUTDOWN DUMP USR1 DEBUG USR2 HALT TERM INT NEWNYM CLEARDNSCACHE HEARTBEAT "
        "ACTIVE DORMANT");
  if (key == "features/names") return std::string("VERBOSE_NAMES EXTENDED_EVENTS");
  // C tor lists its own (client) circuits and its client streams: onionsplit has neither.
  if (key == "circuit-status" || key == "stream-status") return std::string();
  if (key == "bw-event-cache") {
    std::string out;
    for (const auto& [r, w] : bwSamples)
      out += (out.empty() ? "" : " ") + std::to_string(r) + "," + std::to_string(w);
    return out;
  }
  return std::nullopt;
}

std::optional<std::string> ControlServer::Impl::info(std::string_view key, std::string& error) {
  if (key == "version") return versionText();
  if (key == "config-file") return hooks.configFile;
  if (key == "status/version/current" || key == "status/version/recommended") {
    auto text = consensus();  // no consensus yet: C tor's "unknown" and "?"
    std::string listed = text ? control::serverVersions(*text) : "?";
    if (key == "status/version/recommended") return listed;
    auto status = text ? control::versionStatus(kControlProtocolLevel, listed) : std::nullopt;
    return status.value_or("unknown");
  }
  if (key == "info/names")
    return joinLines({std::string(control::kAccountingInfoNames),
                      "address -- The IPv4 address the relay advertises.",
                      "config-file -- Current location of the \"torrc\" file.",
                      "config-text -- The options in force, one per line.",
                      "config/defaults -- The options' defaults, one per line.",
                      "config/names -- The options onionsplit reads, with their types.",
                      "desc/id/* -- The relay's own server descriptor, by its fingerprint.",
                      "desc/name/* -- The relay's own server descriptor, by its nickname.",
                      "dormant -- 1 when the relay sleeps (a relay never does).",
                      "events/names -- Events that the controller can ask for with SETEVENTS.",
                      "exit-policy/full -- The entire exit policy of onion router",
                      "features/names -- What arguments can USEFEATURE take?",
                      "fingerprint -- Get hash of server identity key.",
                      "info/names -- List of GETINFO options, types, and documentation.",
                      "ip-to-country/* -- Perform a GEOIP lookup (no GeoIP data here).",
                      "ns/all -- Every relay's consensus entry.",
                      "ns/id/* -- A relay's consensus entry, by fingerprint.",
                      "ns/name/* -- A relay's consensus entry, by nickname.",
                      "net/listeners/* -- Bound addresses by type",
                      "orconn-status -- A list of current OR connections.",
                      "process/descriptor-limit -- File descriptor limit.",
                      "process/pid -- Process id belonging to the main tor process.",
                      "process/user -- Username under which the tor process is running.",
                      "signal/names -- A list of all signal names",
                      "status/accepted-server-descriptor -- 1 once an authority took the "
                      "descriptor.",
                      "status/circuit-established -- 1 once a circuit of our own was built.",
                      "status/good-server-descriptor -- As accepted-server-descriptor.",
                      "status/reachability-succeeded -- OR=1 DIR=1 once the ORPort self-test "
                      "passed.",
                      "status/reachability-succeeded/dir -- 1: there is no DirPort to test.",
                      "status/reachability-succeeded/or -- 1 once the ORPort self-test passed.",
                      "status/version/current -- Status of the current version.",
                      "status/version/recommended -- List of currently recommended versions.",
                      "stream-status -- List of current client streams (none).",
                      "traffic/read -- Bytes read since the process was started.",
                      "traffic/written -- Bytes written since the process was started.",
                      "uptime -- Uptime of the Tor daemon in seconds.",
                      "version -- The current version of Tor."});
  if (auto v = processInfo(key)) return v;
  if (auto v = statusInfo(key, error); v || !error.empty()) return v;
  if (auto v = listenerInfo(key)) return v;
  if (auto v = fixedInfo(key, error); v || !error.empty()) return v;
  if (auto v = channeldInfo(key, error); v || !error.empty()) return v;
  return relayInfo(key);
}

std::optional<std::pair<std::string, std::vector<std::string>>> ControlServer::Impl::conf(
    std::string_view key) {
  std::pair<std::string, std::vector<std::string>> out{std::string(key), {}};
  // C tor's virtual option over the HiddenService* lines: none here, as on a relay without one.
  if (control::iequals(key, "HiddenServiceOptions"))
    return std::pair{"HiddenServiceOptions", out.second};
  for (const auto& e : snapshotEntries()) {
    if (!control::iequals(e.key, key)) continue;
    out.first = e.key;
    out.second.push_back(e.value);
  }
  auto settable = control::settableOption(key);  // __OwningControllerProcess is hidden in C tor
  if (out.second.empty() && settable) out.first = *settable;
  if (out.second.empty() && !settable && !config::isCtorOption(key)) return std::nullopt;
  return out;
}

ControlServer::ControlServer(ipc::EventLoop& loop) : impl_(std::make_unique<Impl>()), loop_(loop) {
  impl_->server = this;
}

ControlServer::~ControlServer() {
  scrape_ = nullptr;
  viewAsked_ = nullptr;
  if (viewReady_) event_free(viewReady_);
  if (impl_->sink) {
    auto& sinks = spdlog::default_logger()->sinks();
    std::erase(sinks, std::static_pointer_cast<spdlog::sinks::sink>(impl_->sink));
  }
  if (logFlush_) event_free(logFlush_);
  for (auto& [p, c] : conns_)
    bufferevent_free(c->bev);
  for (auto* l : listeners_)
    evconnlistener_free(l);
  if (tick_) event_free(tick_);
  if (ownerFd_ >= 0) close(ownerFd_);
}

bool ControlServer::bindAll(const config::Config& cfg, std::string& error) {
  for (const auto& p : cfg.control.ports) {
    int fd = ipc::listenTcp(p.address, p.port);
    std::string name =
        (p.address.find(':') != std::string::npos ? "[" + p.address + "]" : p.address) + ":" +
        std::to_string(p.port);
    if (fd < 0) {
      error = "cannot listen on ControlPort " + name + ": " + std::strerror(errno);
      return false;
    }
    if (!serveFd(fd, name)) {
      error = "cannot serve ControlPort " + name;
      return false;
    }
  }
  const passwd* pw = userOf(cfg);
  for (size_t i = 0; i < cfg.control.sockets.size(); ++i) {
    const std::string& path = cfg.control.sockets[i];
    int fd = ipc::listenUnix(path);
    // C tor's modes: the owner only, unless GroupWritable, WorldWritable or
    // ControlSocketsGroupWritable say otherwise.
    if (fd < 0 || (pw && chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) ||
        chmod(path.c_str(), cfg.control.socketMode(i)) != 0) {
      error = "cannot listen on ControlSocket " + path + ": " + std::strerror(errno);
      if (fd >= 0) close(fd);
      return false;
    }
    if (!serveFd(fd, "unix:" + path)) {
      error = "cannot serve ControlSocket " + path;
      return false;
    }
  }
  return true;
}

// A listening socket on the loop, disabled until serve(); closed (also on failure) with the server.
bool ControlServer::serveFd(int fd, const std::string& name) {
  auto* l = evconnlistener_new(loop_.base(), &ControlServer::onAccept, this,
                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, 0, fd);
  if (!l) {
    close(fd);
    return false;
  }
  listeners_.push_back(l);
  names_.push_back(name);
  return true;
}

bool ControlServer::setUpAuth(const config::Config& cfg, std::string& error) {
  control::AuthConfig& auth = impl_->auth;
  auth.cookieAuthentication = cfg.control.cookieAuthentication;
  auth.cookieFile = config::cookieAuthFilePath(cfg);
  auth.hashedPasswords = cfg.control.hashedControlPasswords;
  return !auth.cookieAuthentication || writeCookie(cfg, auth.cookie, error);
}

std::unique_ptr<ControlServer> ControlServer::listen(ipc::EventLoop& loop,
                                                     const config::Config& cfg,
                                                     std::string& error) {
  std::unique_ptr<ControlServer> s(new ControlServer(loop));
  if (!s->bindAll(cfg, error) || !s->setUpAuth(cfg, error)) return nullptr;
  int owner = cfg.control.owningControllerFd;
  if (owner >= 0 && !s->takeOwnerFd(owner, error)) return nullptr;
  return s;
}

// C tor takes the descriptor as it is; here it must be a socket (anything else, e.g. a file
// opened by whoever started the relay, is refused rather than written to), and is not passed on
// to the daemons.
bool ControlServer::takeOwnerFd(int fd, std::string& error) {
  struct stat st {};
  bool isOpen = fstat(fd, &st) == 0;
  if (!isOpen || !S_ISSOCK(st.st_mode)) {
    error = "Could not add local controller connection with given FD: " + std::to_string(fd) +
            (isOpen ? " is not a socket" : " is not open");
    return false;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  evutil_make_socket_nonblocking(fd);
  ownerFd_ = fd;
  return true;
}

std::unique_ptr<ControlServer> ControlServer::adopt(ipc::EventLoop& loop, const config::Config& cfg,
                                                    const std::vector<int>& fds,
                                                    const std::vector<std::string>& names,
                                                    std::string& error) {
  std::unique_ptr<ControlServer> s(new ControlServer(loop));
  bool ok = true;
  for (size_t i = 0; i < fds.size(); ++i) {
    evutil_make_socket_nonblocking(fds[i]);
    if (ok && !s->serveFd(fds[i], names[i])) {
      error = "cannot serve the passed socket " + names[i];
      ok = false;
    } else if (!ok) {
      close(fds[i]);
    }
  }
  if (!ok || !s->setUpAuth(cfg, error)) return nullptr;
  return s;
}

void ControlServer::serve(ControlHooks hooks) {
  impl_->hooks = std::move(hooks);
  for (auto* l : listeners_)
    evconnlistener_enable(l);
  tick_ = event_new(loop_.base(), -1, EV_PERSIST, &ControlServer::onTick, this);
  timeval second{1, 0};
  event_add(tick_, &second);
  logFlush_ = event_new(loop_.base(), -1, 0, &ControlServer::onLogLines, this);
  viewReady_ = event_new(loop_.base(), -1, 0, &ControlServer::onViewReady, this);
  inForce_ = impl_->snapshotEntries();
  impl_->sink = std::make_shared<ControlLogSink>(this, impl_->hooks.logName);
  impl_->sink->set_level(spdlog::level::trace);
  spdlog::default_logger()->sinks().push_back(impl_->sink);
  if (ownerFd_ >= 0)
    if (Conn* c = addConnection(std::exchange(ownerFd_, -1))) c->session->trustAsOwner();
}

void ControlServer::logLine(control::LogLine line) {
  if (!logFlush_ || !anyoneWants(line.severity) || logQueue_.size() >= kMaxQueuedLogLines) return;
  logQueue_.push_back(std::move(line));
  event_active(logFlush_, EV_TIMEOUT, 0);
}

void ControlServer::onLogLines(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ControlServer*>(arg);
  auto lines = std::exchange(self->logQueue_, {});
  for (const auto& l : lines)
    self->emit(l.severity, control::logEvent(l), true);
}

void ControlServer::configApplied(const std::vector<config::TorrcEntry>& entries) {
  auto changes = control::confChanges(inForce_, entries);
  inForce_ = entries;
  if (!changes.empty()) emit("CONF_CHANGED", control::confChangedEvent(changes));
}

void ControlServer::updateLogLevel() {
  static constexpr const char* kLevels[] = {"DEBUG", "INFO", "NOTICE", "WARN", "ERR"};
  std::string message = "control-log off";
  for (const char* level : kLevels) {
    if (!anyoneWants(level)) continue;
    message = "control-log " + std::string(level);
    std::transform(message.begin(), message.end(), message.begin(),
                   [](char ch) { return static_cast<char>(std::tolower(ch)); });
    break;
  }
  if (message == logLevelMessage_) return;
  logLevelMessage_ = message;
  if (impl_->hooks.controlLogLevel) impl_->hooks.controlLogLevel(message);
}

bool ControlServer::anyoneWants(const std::string& event) const {
  for (const auto& [p, c] : conns_)
    if (!c->closing && c->session->authenticated() && c->session->wants(event)) return true;
  return false;
}

void ControlServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* self = static_cast<ControlServer*>(arg);
  if (self->conns_.size() >= kMaxConnections) {
    close(fd);
    return;
  }
  self->addConnection(fd);
}

ControlServer::Conn* ControlServer::addConnection(int fd) {
  auto c = std::make_unique<Conn>();
  c->owner = this;
  c->session =
      std::make_unique<control::Session>(impl_->auth, *impl_, std::string(kControlProtocolLevel));
  c->bev = bufferevent_socket_new(loop_.base(), fd, BEV_OPT_CLOSE_ON_FREE);
  if (!c->bev) {
    close(fd);
    return nullptr;
  }
  bufferevent_setcb(c->bev, &ControlServer::onRead, &ControlServer::onWrite,
                    &ControlServer::onEvent, c.get());
  bufferevent_enable(c->bev, EV_READ);
  Conn* raw = c.get();
  conns_.emplace(raw, std::move(c));
  return raw;
}

void ControlServer::onRead(bufferevent*, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->owner->process(c);
}

void ControlServer::process(Conn* c) {
  evbuffer* in = bufferevent_get_input(c->bev);
  char chunk[4096];
  for (;;) {
    if (auto cmd = c->reader.next()) {
      if (!runCommand(c, *cmd)) return;
      continue;
    }
    if (c->closing) break;
    int n = evbuffer_remove(in, chunk, sizeof chunk);
    if (n <= 0) break;
    if (!c->reader.feed(std::string_view(chunk, static_cast<size_t>(n))))
      return drop(c);  // a line or command past its cap: nothing more is read
  }
  updateLogLevel();  // after a SETEVENTS
}

// One command: answered at once, or (a GETINFO that needs channeld) kept until channeld answers,
// with this connection's reading paused. False when nothing more is to be read now.
bool ControlServer::runCommand(Conn* c, const control::Command& cmd, bool answered) {
  if (overCap(c)) {
    drop(c);
    return false;
  }
  if (!answered && c->session->authenticated() && needsRelayView(cmd)) {
    c->waiting = cmd;
    bufferevent_disable(c->bev, EV_READ);
    askRelayView();
    return false;
  }
  std::string out;
  bool open = c->session->handle(cmd, out);
  send(c, out);
  if (open) return true;
  c->closing = true;
  bufferevent_disable(c->bev, EV_READ);
  updateLogLevel();
  return false;
}

void ControlServer::askRelayView() {
  if (impl_->askingView) return;  // one question at a time serves every waiting GETINFO
  impl_->askingView = true;
  viewAsked_ = launcher::askRelayView(loop_, impl_->hooks.config().ipcDirectory,
                                      std::chrono::milliseconds(2000))
                   .then([this](std::optional<RelayView> v) {
                     impl_->view = std::move(v);
                     event_active(viewReady_, EV_TIMEOUT, 0);  // run from the loop, not here
                   })
                   .eagerlyEvaluate([this](kj::Exception&&) {
                     impl_->view.reset();
                     event_active(viewReady_, EV_TIMEOUT, 0);
                   });
}

// channeld answered (or not): every waiting GETINFO runs with that answer, then its connection
// reads on.
void ControlServer::onViewReady(evutil_socket_t, short, void* arg) {
  static_cast<ControlServer*>(arg)->onRelayView();
}

void ControlServer::onRelayView() {
  impl_->askingView = false;
  std::vector<Conn*> waiting;
  for (auto& [p, c] : conns_)
    if (c->waiting) waiting.push_back(p);
  for (Conn* c : waiting) {
    if (!conns_.count(c)) continue;
    auto cmd = std::move(*c->waiting);
    c->waiting.reset();
    if (!runCommand(c, cmd, true)) continue;
    bufferevent_enable(c->bev, EV_READ);
    process(c);
  }
  if (!impl_->askingView) impl_->view.reset();
}

void ControlServer::send(Conn* c, const std::string& bytes) {
  bufferevent_write(c->bev, bytes.data(), bytes.size());
  c->largest = std::max(c->largest, bytes.size());
}

bool ControlServer::overCap(Conn* c) const {
  return evbuffer_get_length(bufferevent_get_output(c->bev)) > kMaxPendingOutput + c->largest;
}

void ControlServer::onWrite(bufferevent* bev, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->largest = 0;  // called once the output is empty
  if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) c->owner->drop(c);
}

void ControlServer::onEvent(bufferevent*, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->owner->drop(c);  // EOF or error
}

void ControlServer::drop(Conn* c) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  auto owned = std::move(it->second);
  conns_.erase(it);
  bufferevent_free(owned->bev);
  updateLogLevel();
  if (owned->session->owning()) {  // TAKEOWNERSHIP: as C tor, the relay stops as on SIGTERM
    spdlog::info("Owning controller connection has closed -- exiting now.");
    if (impl_->hooks.ownerGone) impl_->hooks.ownerGone();
  }
}

// An asynchronous event to every authenticated controller that asked for it; one that does not
// read its events is disconnected at the pending-output cap.
void ControlServer::emit(const std::string& event, const std::string& line, bool droppable) {
  std::vector<Conn*> over;
  for (auto& [p, c] : conns_) {
    if (c->closing || !c->session->authenticated() || !c->session->wants(event)) continue;
    size_t pending = evbuffer_get_length(bufferevent_get_output(c->bev));
    if (droppable && pending > kMaxPendingForLogs) continue;
    if (overCap(c.get())) {
      over.push_back(p);
      continue;
    }
    send(c.get(), line);
  }
  for (Conn* c : over)
    drop(c);
}

void ControlServer::onTick(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ControlServer*>(arg);
  // Every second, controllers or not: GETINFO answers the relay's standing from it at once.
  if (!self->impl_->scraping) self->refreshTraffic();
}

// channeld's counters on the relay's standing: GETINFO status/* and the STATUS_SERVER events.
void ControlServer::standingFrom(const DaemonMetrics& channeld) {
  Impl& m = *impl_;
  control::RelayStanding now;
  for (const auto& [name, value] : channeld.counters) {
    if (name == "orport_reachable") now.reachable = value != 0;
    if (name == "orport_self_tests_total") now.selfTests = value;
    if (name == "descriptor_accepted_authorities") now.acceptedMask = value;
    if (name == "descriptor_rounds_total") now.rounds = value;
    if (name == "orport_advertised") now.orPort = static_cast<uint16_t>(value);
    if (name == "descriptor_accepted_by") m.descriptorAccepted = value != 0;
    if (name == "consensus_accepted_total") consensusCounter(value);
    control::readAccountingCounter(m.accounting, name, value);
  }
  m.orReachable = now.reachable;
  const config::Config& cfg = m.hooks.config();
  std::vector<std::string> authorities;
  for (const auto& a : cfg.dirAuthorities)
    authorities.push_back(a.address + ":" + std::to_string(a.dirPort));
  for (const auto& event : m.serverStatus.update(now, cfg.address, authorities))
    emit("STATUS_SERVER", event);
}

// channeld took a consensus from the authorities when its consensus_accepted_total changed
// (after a restart of channeld it starts again from 0): NEWCONSENSUS with every entry, and
// STATUS_GENERAL DANGEROUS_VERSION when that consensus does not recommend this version. C tor
// sends the latter once per process; here it comes with every consensus that says so, so a
// controller that connects later hears it too.
void ControlServer::consensusCounter(uint64_t accepted) {
  Impl& m = *impl_;
  bool fresh = m.consensusAccepted && *m.consensusAccepted != accepted && accepted > 0;
  m.consensusAccepted = accepted;
  if (!fresh || (!anyoneWants("NEWCONSENSUS") && !anyoneWants("STATUS_GENERAL"))) return;
  auto text = m.consensus();
  if (!text) return;
  if (anyoneWants("NEWCONSENSUS")) emit("NEWCONSENSUS", control::newConsensusEvent(*text));
  std::string listed = control::serverVersions(*text);
  auto status = control::versionStatus(kControlProtocolLevel, listed);
  if (auto event =
          control::dangerousVersionEvent(kControlProtocolLevel, status.value_or(""), listed))
    emit("STATUS_GENERAL", *event);
}

// The relay's bytes on its connections, as C tor's traffic/* count them: channeld's links (TLS on
// the wire) and streamd's exit sockets, the counters of the MetricsPort's tor_relay_traffic_bytes.
// A daemon that restarted starts from 0 again.
void ControlServer::refreshTraffic() {
  Impl& im = *impl_;
  im.scraping = true;
  scrape_ = scrapeDaemons(loop_, im.hooks.config().ipcDirectory, im.hooks.daemons,
                          std::chrono::milliseconds(900))
                .then([this](std::vector<DaemonMetrics> daemons) {
                  Impl& m = *impl_;
                  m.scraping = false;
                  uint64_t r = 0, w = 0;
                  for (const auto& d : daemons)
                    if (d.daemon == "channeld" && d.up) standingFrom(d);
                  for (const auto& d : daemons)
                    for (const auto& [name, value] : d.counters) {
                      if (name == "link_bytes_read_total" || name == "exit_bytes_read_total")
                        r += value;
                      if (name == "link_bytes_written_total" || name == "exit_bytes_written_total")
                        w += value;
                    }
                  m.read += r >= m.lastRead ? r - m.lastRead : r;
                  m.written += w >= m.lastWritten ? w - m.lastWritten : w;
                  m.lastRead = r;
                  m.lastWritten = w;
                  emit("BW", "650 BW " + std::to_string(m.read - m.bwRead) + " " +
                                 std::to_string(m.written - m.bwWritten) + "\r\n");
                  if (anyoneWants("BW")) {
                    if (m.bwSamples.size() == Impl::kBwSamples) m.bwSamples.pop_front();
                    m.bwSamples.emplace_back(m.read - m.bwRead, m.written - m.bwWritten);
                  }
                  m.bwRead = m.read;
                  m.bwWritten = m.written;
                })
                .eagerlyEvaluate([this](kj::Exception&&) { impl_->scraping = false; });
}

}  // namespace onionsplit::launcher
