// launcher/metrics_format.cc: see metrics_format.h. kCtorEquivalents is the mapping table of
// docs/OPERATING.md ("Metrics"); keep the two in step.
#include "launcher/metrics_format.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "launcher/daemons.h"

namespace onionsplit::launcher {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type : uint8_t { kCounter, kGauge, kHistogram };

// A daemon's counter with the same meaning as a metric of C tor's MetricsPort (0.4.9): exported
// under C tor's family name and labels, plus `daemon`. The HELP texts are ours.
struct CtorEquivalent {
  std::string_view daemon, counter;
  std::string_view family;
  Type type;
  std::string_view help;
  std::string_view label1, value1, label2, value2;  // empty label: none
};

constexpr std::string_view kHelpCircuits = "Circuits open at this relay";
constexpr std::string_view kHelpOnionskins = "CREATE handshakes answered, by handshake type";
constexpr std::string_view kHelpStreams = "Exit streams accepted, by relay command";
constexpr std::string_view kHelpTraffic =
    "Bytes read and written on the relay's connections: channeld's TLS links, streamd's exit "
    "sockets";
constexpr std::string_view kHelpRateLimit =
    "Times the relay-wide bandwidth bucket (BandwidthRate, RelayBandwidthRate) was found empty";
constexpr std::string_view kHelpCc =
    "Congestion control averages over circuits (cells): at slow start exit and at close";
constexpr std::string_view kHelpSockets =
    "Sockets the daemon holds for relay traffic (state=opened), and its file descriptor limit";
constexpr std::string_view kHelpOom = "Bytes the OOM handler freed (MaxMemInQueues), by subsystem";

constexpr CtorEquivalent kCtorEquivalents[] = {
    {"circuitd", "circuits_open", "tor_relay_circuits_total", Type::kGauge, kHelpCircuits, "state",
     "opened", "", ""},
    {"circuitd", "circuits_created_fast_total", "tor_relay_load_onionskins_total", Type::kCounter,
     kHelpOnionskins, "type", "fast", "action", "processed"},
    {"circuitd", "circuits_created_ntor_total", "tor_relay_load_onionskins_total", Type::kCounter,
     kHelpOnionskins, "type", "ntor", "action", "processed"},
    {"circuitd", "circuits_created_ntor3_total", "tor_relay_load_onionskins_total", Type::kCounter,
     kHelpOnionskins, "type", "ntor_v3", "action", "processed"},
    {"circuitd", "circuits_congestion_control_total", "tor_relay_congestion_control_total",
     Type::kCounter, "Congestion control events: circuits created with congestion control", "state",
     "cc_circuits", "action", "circs_created"},
    {"circuitd", "circuits_destroyed_by_client_total", "tor_relay_destroy_cell_total",
     Type::kCounter, "DESTROY cells received for open circuits", "", "", "", ""},
    {"streamd", "streams_opened_total", "tor_relay_streams_total", Type::kCounter, kHelpStreams,
     "type", "BEGIN", "", ""},
    {"streamd", "resolve_requests_total", "tor_relay_streams_total", Type::kCounter, kHelpStreams,
     "type", "RESOLVE", "", ""},
    {"streamd", "dns_queries_total", "tor_relay_exit_dns_query_total", Type::kCounter,
     "DNS queries sent to the nameservers", "", "", "", ""},
    {"circuitd", "circuits_protocol_violations_total", "tor_relay_circ_proto_violation_total",
     Type::kCounter, "Circuits closed for a protocol violation (DESTROY reason PROTOCOL)", "", "",
     "", ""},
    {"circuitd", "drop_cells_received_total", "tor_relay_drop_cell_total", Type::kCounter,
     "DROP messages received from clients", "", "", "", ""},
    // C tor's onion-service families count the cells it handles as an introduction or rendezvous
    // point, by outcome. onionsplit is neither: each such cell is dropped, under C tor's outcome
    // for a circuit that cannot serve it (for INTRODUCE1: no such service here).
    {"circuitd", "est_intro_cells_refused_total", "tor_relay_est_intro_total", Type::kCounter,
     "ESTABLISH_INTRO cells received (dropped: onionsplit is no introduction point)", "action",
     "unsuitable_circuit", "", ""},
    {"circuitd", "est_rend_cells_refused_total", "tor_relay_est_rend_total", Type::kCounter,
     "ESTABLISH_RENDEZVOUS cells received (dropped: onionsplit is no rendezvous point)", "action",
     "unsuitable_circuit", "", ""},
    {"circuitd", "intro1_cells_refused_total", "tor_relay_intro1_total", Type::kCounter,
     "INTRODUCE1 cells received (dropped: onionsplit is no introduction point)", "action",
     "unknown_service", "", ""},
    {"circuitd", "rend1_cells_refused_total", "tor_relay_rend1_total", Type::kCounter,
     "RENDEZVOUS1 cells received (dropped: onionsplit is no rendezvous point)", "action",
     "unsuitable_circuit", "", ""},
    // C tor counts each BUG() it reaches; onionsplit's equivalent is a pipe finding its own side
    // returning credit it never received (logged as our bug, counted instead of aborting).
    {"circuitd", "ipc_credit_over_returns_total", "tor_bug_reached_count", Type::kCounter,
     "Times a daemon found its own bug (credit returned beyond what arrived)", "", "", "", ""},
    {"streamd", "ipc_credit_over_returns_total", "tor_bug_reached_count", Type::kCounter,
     "Times a daemon found its own bug (credit returned beyond what arrived)", "", "", "", ""},
    // C tor counts the buffers its cell OOM handler frees (streams' included) as subsys="cell";
    // each daemon's handler is one series (daemon label), their sum is C tor's.
    {"streamd", "oom_bytes_total", "tor_relay_load_oom_bytes_total", Type::kCounter, kHelpOom,
     "subsys", "cell", "", ""},
    {"circuitd", "oom_bytes_total", "tor_relay_load_oom_bytes_total", Type::kCounter, kHelpOom,
     "subsys", "cell", "", ""},
    {"confluxd", "oom_bytes_total", "tor_relay_load_oom_bytes_total", Type::kCounter, kHelpOom,
     "subsys", "cell", "", ""},
    {"channeld", "oom_bytes_total", "tor_relay_load_oom_bytes_total", Type::kCounter, kHelpOom,
     "subsys", "cell", "", ""},
    {"channeld", "link_bytes_read_total", "tor_relay_traffic_bytes", Type::kCounter, kHelpTraffic,
     "direction", "read", "", ""},
    {"channeld", "link_bytes_written_total", "tor_relay_traffic_bytes", Type::kCounter,
     kHelpTraffic, "direction", "written", "", ""},
    {"streamd", "exit_bytes_read_total", "tor_relay_traffic_bytes", Type::kCounter, kHelpTraffic,
     "direction", "read", "", ""},
    {"streamd", "exit_bytes_written_total", "tor_relay_traffic_bytes", Type::kCounter, kHelpTraffic,
     "direction", "written", "", ""},
    {"channeld", "bandwidth_read_limit_reached_total",
     "tor_relay_load_global_rate_limit_reached_total", Type::kCounter, kHelpRateLimit, "side",
     "read", "", ""},
    {"channeld", "bandwidth_write_limit_reached_total",
     "tor_relay_load_global_rate_limit_reached_total", Type::kCounter, kHelpRateLimit, "side",
     "write", "", ""},
    {"streamd", "connects_out_of_ports_total", "tor_relay_load_tcp_exhaustion_total",
     Type::kCounter, "Exit connects that found no free local TCP port", "", "", "", ""},
    // As C tor: the sockets open now (state="opened") and, without a label, the most there may be.
    {"channeld", "sockets_in_use", "tor_relay_load_socket_total", Type::kGauge, kHelpSockets,
     "state", "opened", "", ""},
    {"channeld", "sockets_limit", "tor_relay_load_socket_total", Type::kGauge, kHelpSockets, "", "",
     "", ""},
    {"streamd", "sockets_in_use", "tor_relay_load_socket_total", Type::kGauge, kHelpSockets,
     "state", "opened", "", ""},
    {"streamd", "sockets_limit", "tor_relay_load_socket_total", Type::kGauge, kHelpSockets, "", "",
     "", ""},
    {"circuitd", "cc_slow_start_exit_cwnd", "tor_relay_congestion_control", Type::kGauge, kHelpCc,
     "state", "slow_start_exit", "action", "cwnd"},
    {"circuitd", "cc_slow_start_exit_bdp", "tor_relay_congestion_control", Type::kGauge, kHelpCc,
     "state", "slow_start_exit", "action", "bdp"},
    {"circuitd", "cc_slow_start_exit_inc", "tor_relay_congestion_control", Type::kGauge, kHelpCc,
     "state", "slow_start_exit", "action", "inc"},
    {"circuitd", "cc_on_circ_close_cwnd", "tor_relay_congestion_control", Type::kGauge, kHelpCc,
     "state", "on_circ_close", "action", "cwnd"},
    {"circuitd", "cc_on_circ_close_ss_cwnd", "tor_relay_congestion_control", Type::kGauge, kHelpCc,
     "state", "on_circ_close", "action", "ss_cwnd"},
    // Reported only with OfflineMasterKey, as C tor does.
    {"channeld", "signing_cert_expiry_timestamp", "tor_relay_signing_cert_expiry_timestamp",
     Type::kGauge, "Unix time at which the ed25519 signing certificate in use expires", "", "", "",
     ""},
};

// A family of daemon counters named <prefix><parts><suffix> with a C tor equivalent: the parts
// become the labels `varLabels` (split at the first underscores: the last label takes the rest),
// after the fixed labels. E.g. channeld's or_connections_received_ipv4 is
// tor_relay_connections{type="OR",state="opened",direction="received",family="ipv4"}.
struct CtorPattern {
  std::string_view daemon, prefix, suffix;
  std::string_view family;
  Type type;
  std::string_view help;
  std::pair<std::string_view, std::string_view> fixed[2];  // empty key: none
  std::string_view varLabels[2];                           // empty: none
};

constexpr std::string_view kHelpDos = "Denial of Service defenses related counters";
constexpr std::string_view kHelpConnections = "OR connections (channels), by direction and family";

constexpr CtorPattern kCtorPatterns[] = {
    // C tor's DoS counters (common/dos/dos_counters.h): channeld's connection and circuit creation
    // defences, streamd's stream creation defence, each as dos_<type>_total.
    {"channeld",
     "dos_",
     "_total",
     "tor_relay_dos_total",
     Type::kCounter,
     kHelpDos,
     {},
     {"type", ""}},
    {"streamd",
     "dos_",
     "_total",
     "tor_relay_dos_total",
     Type::kCounter,
     kHelpDos,
     {},
     {"type", ""}},
    {"streamd",
     "dns_answers_",
     "_total",
     "tor_relay_exit_dns_error_total",
     Type::kCounter,
     "Nameserver answers by libevent result (success included, as C tor counts them)",
     {},
     {"reason", ""}},
    // The created counters first: their names also match the gauge's pattern.
    {"channeld",
     "or_connections_",
     "_created_total",
     "tor_relay_connections_total",
     Type::kCounter,
     "OR connections (channels) created, by direction and family",
     {{"type", "OR"}, {"state", "created"}},
     {"direction", "family"}},
    {"channeld",
     "relay_flag_",
     "",
     "tor_relay_flag",
     Type::kGauge,
     "Relay flags from consensus",
     {},
     {"type", ""}},
    {"channeld",
     "or_connections_",
     "",
     "tor_relay_connections",
     Type::kGauge,
     kHelpConnections,
     {{"type", "OR"}, {"state", "opened"}},
     {"direction", "family"}},
};

// Metric and label names: [a-zA-Z0-9_], bounded, never empty. A daemon is local but not trusted
// to send well-formed names.
std::string sanitizeName(std::string_view in) {
  constexpr size_t kMaxName = 200;
  std::string out;
  for (char ch : in.substr(0, kMaxName)) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    out.push_back(ok ? ch : '_');
  }
  return out.empty() ? "unnamed" : out;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The labels of `name` under `p`, or nothing if it does not match (every part non-empty).
std::optional<Labels> matchPattern(const CtorPattern& p, const std::string& daemon,
                                   std::string_view name) {
  if (p.daemon != daemon || !name.starts_with(p.prefix) || !endsWith(name, p.suffix) ||
      name.size() <= p.prefix.size() + p.suffix.size())
    return std::nullopt;
  std::string_view rest =
      name.substr(p.prefix.size(), name.size() - p.prefix.size() - p.suffix.size());
  Labels labels{{"daemon", daemon}};
  for (const auto& [k, v] : p.fixed)
    if (!k.empty()) labels.emplace_back(k, v);
  size_t left = std::count_if(std::begin(p.varLabels), std::end(p.varLabels),
                              [](std::string_view k) { return !k.empty(); });
  for (std::string_view key : p.varLabels) {
    if (key.empty()) continue;
    size_t cut = --left == 0 ? rest.size() : rest.find('_');
    if (cut == 0 || cut == std::string_view::npos) return std::nullopt;
    labels.emplace_back(key, rest.substr(0, cut));
    rest.remove_prefix(std::min(rest.size(), cut + 1));
  }
  return labels;
}

// The families of one page, each once, in order of first appearance.
class Page {
 public:
  void add(const std::string& family, Type type, std::string_view help, const Labels& labels,
           uint64_t value) {
    addSample(family, type, help, family, labels, std::to_string(value));
  }

  // A sample named `sample` (a histogram's are family_bucket, family_sum, family_count).
  void addSample(const std::string& family, Type type, std::string_view help,
                 const std::string& sample, const Labels& labels, const std::string& value) {
    auto [it, fresh] = index_.try_emplace(family, families_.size());
    if (fresh) families_.push_back(Family{family, std::string(help), type, {}});
    Family& f = families_[it->second];
    if (f.type != type) return;  // the same name as a counter and a gauge: keep the first
    std::string text = sample;
    if (!labels.empty()) {
      text += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i) text += ',';
        text += labels[i].first + "=\"" + escapeLabelValue(labels[i].second) + '"';
      }
      text += '}';
    }
    if (!series_.insert(text).second) return;  // a duplicate series would spoil the scrape
    f.samples.push_back(text + ' ' + value + '\n');
  }

  bool isHistogram(const std::string& family) const {
    auto it = index_.find(family);
    return it != index_.end() && families_[it->second].type == Type::kHistogram;
  }

  std::string text() const {
    std::string out;
    for (const Family& f : families_) {
      out += "# HELP " + f.name + ' ' + escapeHelp(f.help) + '\n';
      out += "# TYPE " + f.name + ' ' + typeName(f.type) + '\n';
      for (const auto& s : f.samples)
        out += s;
    }
    return out;
  }

 private:
  struct Family {
    std::string name, help;
    Type type;
    std::vector<std::string> samples;
  };
  static const char* typeName(Type t) {
    switch (t) {
      case Type::kCounter:
        return "counter";
      case Type::kGauge:
        return "gauge";
      case Type::kHistogram:
        break;
    }
    return "histogram";
  }
  // HELP text escapes only backslash and newline.
  static std::string escapeHelp(std::string_view s) {
    std::string out;
    for (char ch : s) {
      if (ch == '\\') {
        out += "\\\\";
      } else if (ch == '\n') {
        out += "\\n";
      } else {
        out += ch;
      }
    }
    return out;
  }

  std::vector<Family> families_;
  std::map<std::string, size_t> index_;
  std::set<std::string> series_;
};

void addLauncherFacts(Page& page, const std::vector<DaemonMetrics>& daemons,
                      const LauncherFacts& l) {
  auto secondsSince = [&](uint64_t ms) { return l.nowMs > ms ? (l.nowMs - ms) / 1000 : 0; };
  for (const auto& d : daemons)
    page.add("onionsplit_daemon_up", Type::kGauge,
             "1 if the daemon answered this scrape's counters query in time, else 0",
             {{"daemon", d.daemon}}, d.up ? 1 : 0);
  bool launcher = l.server == Server::kLauncher;
  std::string_view restartsHelp =
      launcher ? "Restarts of the daemon by the launcher since the launcher started"
               : "New instances of the daemon (another pid or start time in its answer) seen by "
                 "onionsplit metrics since it started; restarts between two looks count once";
  for (const auto& d : daemons)
    page.add("onionsplit_daemon_restarts_total", Type::kCounter, restartsHelp,
             {{"daemon", d.daemon}}, d.restarts);
  for (const auto& d : daemons)
    if (d.up && d.startedAtMs)
      page.add("onionsplit_daemon_uptime_seconds", Type::kGauge,
               "Seconds since the daemon (this instance of it) started", {{"daemon", d.daemon}},
               secondsSince(d.startedAtMs));
  if (launcher) {
    page.add("onionsplit_launcher_uptime_seconds", Type::kGauge,
             "Seconds since the launcher started", {}, secondsSince(l.startedAtMs));
  } else {
    page.add("onionsplit_metrics_uptime_seconds", Type::kGauge,
             "Seconds since onionsplit metrics (the MetricsPort under systemd) started", {},
             secondsSince(l.startedAtMs));
  }
  page.add("onionsplit_build_info", Type::kGauge, "Always 1; the label is onionsplit's version",
           {{"version", l.version}}, 1);
}

// A sample of one of C tor's families.
struct CtorSample {
  std::string_view family;
  Type type;
  std::string_view help;
  Labels labels;
};

// The C tor family and labels of counter `name` of program `base` (every circuitd shard is
// circuitd), if it has an equivalent there.
std::optional<CtorSample> ctorSample(const std::string& base, const std::string& name) {
  for (const auto& e : kCtorEquivalents) {
    if (e.daemon != base || e.counter != name) continue;
    Labels labels{{"daemon", base}};
    if (!e.label1.empty()) labels.emplace_back(e.label1, e.value1);
    if (!e.label2.empty()) labels.emplace_back(e.label2, e.value2);
    return CtorSample{e.family, e.type, e.help, std::move(labels)};
  }
  for (const auto& p : kCtorPatterns)
    if (auto labels = matchPattern(p, base, name))
      return CtorSample{p.family, p.type, p.help, std::move(*labels)};
  return std::nullopt;
}

// The value of each (program, counter) with a C tor equivalent over the daemons that answered.
// circuitd's shards (NumCPUs) are one circuitd to C tor's families: their counters add up, and so
// do their gauges (circuits_open: each shard has its own circuits). Not the congestion control
// averages of tor_relay_congestion_control: each is an average over one shard's circuits, which a
// sum would not be, and as channeld spreads new circuits evenly over the shards, the first shard
// that answered (shard 0, unless it is down) stands for all. A daemon's second sample of a name is
// ignored, as the page ignores it.
using Totals = std::map<std::pair<std::string, std::string>, uint64_t>;
Totals ctorTotals(const std::vector<DaemonMetrics>& daemons) {
  Totals totals;
  for (const auto& d : daemons) {
    if (!d.up) continue;
    std::string base(baseName(d.daemon));
    std::set<std::string_view> seen;
    for (const auto& [name, value] : d.counters) {
      if (!seen.insert(name).second) continue;
      auto sample = ctorSample(base, name);
      if (!sample) continue;
      auto [it, fresh] = totals.try_emplace({base, name}, value);
      if (fresh || sample->family == "tor_relay_congestion_control") continue;
      it->second = it->second > UINT64_MAX - value ? UINT64_MAX : it->second + value;
    }
  }
  return totals;
}

// HELP texts of onionsplit's own families that say more than the counter's name.
struct OwnHelp {
  std::string_view daemon, name, help;
};
constexpr OwnHelp kOwnHelp[] = {
    {"streamd", "dns_resolver_attempts_total",
     "DNS query attempts sent to each nameserver of ServerDNSResolvConfFile (first tries and "
     "retries)"},
    {"streamd", "dns_resolver_timeouts_total",
     "DNS query attempts that a nameserver did not answer within the timeout (1 s)"},
    {"streamd", "dns_resolver_down",
     "1 while a nameserver is left out of first attempts after 10 timeouts in a row"},
    {"streamd", "dns_query_duration_seconds",
     "Seconds from a DNS query's first attempt to its answer or its last timeout, one per query"},
};

std::string helpFor(std::string_view base, const std::string& name) {
  for (const auto& h : kOwnHelp)
    if (h.daemon == base && h.name == name) return std::string(h.help);
  return name + ", as counted by " + std::string(base) + " (docs/OPERATING.md)";
}

// Micro-units as a decimal number: 1250000 is "1.250000".
std::string fromMicros(uint64_t v) {
  std::string frac = std::to_string(v % 1'000'000);
  return std::to_string(v / 1'000'000) + '.' + std::string(6 - frac.size(), '0') + frac;
}

// A counter named `name{key=value}`: one label of its own (label names other than `daemon`).
struct Labelled {
  std::string name, key, value;
};
std::optional<Labelled> splitLabel(std::string_view n) {
  constexpr size_t kMaxValue = 200;
  size_t open = n.find('{');
  if (open == std::string_view::npos || open == 0 || !endsWith(n, "}")) return std::nullopt;
  std::string_view inner = n.substr(open + 1, n.size() - open - 2);
  size_t eq = inner.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  Labelled l{sanitizeName(n.substr(0, open)), sanitizeName(inner.substr(0, eq)),
             std::string(inner.substr(eq + 1, kMaxValue))};
  if (l.key == "daemon") return std::nullopt;
  return l;
}

// The two forms a daemon's counter may take beyond a bare name (launcher/metrics_format.h): a
// label in the name, and the parts of a histogram (<h>_bucket{le=...}, <h>_sum_micros,
// <h>_count after its buckets), which become the one histogram family `prefix`<h>.
bool addOwnForm(Page& page, const std::string& prefix, const std::string& daemon,
                std::string_view base, std::string_view name, uint64_t value) {
  constexpr std::string_view kBucket = "_bucket";
  if (auto l = splitLabel(name)) {
    if (l->key == "le" && endsWith(l->name, kBucket)) {
      std::string h = l->name.substr(0, l->name.size() - kBucket.size());
      page.addSample(prefix + h, Type::kHistogram, helpFor(base, h), prefix + l->name,
                     {{"daemon", daemon}, {"le", l->value}}, std::to_string(value));
      return true;
    }
    Type type = endsWith(l->name, "_total") ? Type::kCounter : Type::kGauge;
    page.add(prefix + l->name, type, helpFor(base, l->name),
             {{"daemon", daemon}, {l->key, l->value}}, value);
    return true;
  }
  for (auto [suffix, sample] :
       {std::pair<std::string_view, std::string_view>{"_sum_micros", "_sum"},
        {"_count", "_count"}}) {
    if (!endsWith(name, suffix) || name.size() == suffix.size()) continue;
    std::string h = prefix + sanitizeName(name.substr(0, name.size() - suffix.size()));
    if (!page.isHistogram(h)) continue;
    page.addSample(h, Type::kHistogram, "", h + std::string(sample), {{"daemon", daemon}},
                   sample == "_sum" ? fromMicros(value) : std::to_string(value));
    return true;
  }
  return false;
}

// One counter of one daemon: C tor's family if it has one (one series for all circuitd shards,
// valued from `totals`), else onionsplit_<program>_<counter> with the daemon's own name as its
// `daemon` label (circuitd-1's counters are onionsplit_circuitd_...{daemon="circuitd-1"}).
void addCounter(Page& page, const Totals& totals, const std::string& daemon,
                const std::string& name, uint64_t value) {
  std::string base(baseName(daemon));
  std::string prefix = "onionsplit_" + sanitizeName(base) + "_";
  if (addOwnForm(page, prefix, daemon, base, name, value)) return;
  if (auto sample = ctorSample(base, name)) {
    auto total = totals.find({base, name});
    page.add(std::string(sample->family), sample->type, sample->help, sample->labels,
             total == totals.end() ? value : total->second);
    return;
  }
  Type type = endsWith(name, "_total") ? Type::kCounter : Type::kGauge;
  // streamd's ends_sent_<reason>_total: one family, the END reason as a label.
  constexpr std::string_view kEnds = "ends_sent_";
  if (name.starts_with(kEnds) && endsWith(name, "_total") &&
      name.size() > kEnds.size() + std::string_view("_total").size()) {
    std::string reason = name.substr(kEnds.size(), name.size() - kEnds.size() - 6);
    page.add(prefix + "ends_sent_total", Type::kCounter,
             "END messages sent to clients, by END reason",
             {{"daemon", daemon}, {"reason", reason}}, value);
    return;
  }
  std::string clean = sanitizeName(name);
  page.add(prefix + clean, type, helpFor(base, clean), {{"daemon", daemon}}, value);
}

}  // namespace

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  for (char ch : value) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '"') {
      out += "\\\"";
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string formatMetrics(const std::vector<DaemonMetrics>& daemons,
                          const LauncherFacts& launcher) {
  Page page;
  addLauncherFacts(page, daemons, launcher);
  Totals totals = ctorTotals(daemons);
  for (const auto& d : daemons) {
    if (!d.up) continue;
    for (const auto& [name, value] : d.counters)
      addCounter(page, totals, d.daemon, name, value);
  }
  return page.text();
}

}  // namespace onionsplit::launcher
