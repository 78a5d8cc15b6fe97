// common/control/session.cc: see session.h. Reply texts follow C tor 0.4.9's control code.
#include "common/control/session.h"

#include <algorithm>
#include <cctype>

#include "common/base/hex.h"
#include "common/config/torrc.h"

namespace onionsplit::control {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// "552-Unrecognized ... \"a\"" lines for all but the last, then the last one ends the reply.
std::string unrecognized(const std::vector<std::string>& keys, std::string_view what) {
  Reply r(552);
  for (size_t i = 0; i + 1 < keys.size(); ++i)
    r.line(std::string(what) + " \"" + keys[i] + "\"");
  return r.finish(std::string(what) + " \"" + keys.back() + "\"");
}

// C tor's signal names (control-spec §3.7).
bool isCtorSignal(const std::string& name) {
  static constexpr std::string_view kSignals[] = {
      "RELOAD", "HUP",  "SHUTDOWN", "INT",           "DUMP",      "USR1",   "DEBUG",  "USR2",
      "HALT",   "TERM", "NEWNYM",   "CLEARDNSCACHE", "HEARTBEAT", "ACTIVE", "DORMANT"};
  return std::find(std::begin(kSignals), std::end(kSignals), name) != std::end(kSignals);
}

std::string bytesOf(const Digest256& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

std::optional<std::string> settableOption(std::string_view name) {
  static constexpr std::string_view kSettable[] = {
      "ContactInfo",        "Nickname",
      "MyFamily",           "ExitPolicy",
      "ExitRelay",          "ReducedExitPolicy",
      "IPv6Exit",           "ExitPolicyRejectPrivate",
      "BandwidthRate",      "BandwidthBurst",
      "RelayBandwidthRate", "RelayBandwidthBurst",
      "MaxMemInQueues",     "__OwningControllerProcess"};
  for (auto o : kSettable)
    if (iequals(o, name)) return std::string(o);
  return std::nullopt;
}

const std::vector<std::string_view>& eventNames() {
  static const std::vector<std::string_view> names = {"CIRC",
                                                      "CIRC_MINOR",
                                                      "STREAM",
                                                      "ORCONN",
                                                      "BW",
                                                      "DEBUG",
                                                      "INFO",
                                                      "NOTICE",
                                                      "WARN",
                                                      "ERR",
                                                      "NEWDESC",
                                                      "ADDRMAP",
                                                      "DESCCHANGED",
                                                      "NS",
                                                      "STATUS_GENERAL",
                                                      "STATUS_CLIENT",
                                                      "STATUS_SERVER",
                                                      "GUARD",
                                                      "STREAM_BW",
                                                      "CLIENTS_SEEN",
                                                      "NEWCONSENSUS",
                                                      "BUILDTIMEOUT_SET",
                                                      "SIGNAL",
                                                      "CONF_CHANGED",
                                                      "CONN_BW",
                                                      "CELL_STATS",
                                                      "CIRC_BW",
                                                      "TRANSPORT_LAUNCHED",
                                                      "HS_DESC",
                                                      "HS_DESC_CONTENT",
                                                      "NETWORK_LIVENESS",
                                                      "PT_LOG",
                                                      "PT_STATUS"};
  return names;
}

bool Session::handle(const Command& c, std::string& out) {
  std::string kw = upper(c.keyword);
  if (kw == "QUIT") {
    out += endReply(250, "closing connection");
    return false;
  }
  if (kw == "PROTOCOLINFO") return protocolInfo(c, out);
  if (kw == "AUTHCHALLENGE") return authChallenge(c, out);
  if (kw == "AUTHENTICATE") return authenticate(c, out);
  if (!authenticated_) {
    out += endReply(514, "Authentication required.");
    return false;
  }
  return dispatch(c, out);
}

bool Session::dispatch(const Command& c, std::string& out) {
  std::string kw = upper(c.keyword);
  auto args = parseArgs(c.args);
  if (!args) {
    out += endReply(512, "Syntax error in command argument");
    return true;
  }
  if (kw == "GETINFO") {
    out += getInfo(*args);
  } else if (kw == "GETCONF") {
    out += getConf(*args);
  } else if (kw == "SETEVENTS") {
    out += setEvents(*args);
  } else if (kw == "USEFEATURE") {
    out += useFeature(*args);
  } else if (kw == "SIGNAL") {
    if (args->size() != 1) {
      out += endReply(512, "Missing argument to SIGNAL");
    } else if (std::string name = upper((*args)[0].value); auto done = backend_.signal(name)) {
      out += done->empty() ? endReply(250, "OK") : *done + "\r\n";
    } else {
      out += isCtorSignal(name)
                 ? endReply(551, "onionsplit does not support SIGNAL " + name + " yet")
                 : endReply(552, "Unrecognized signal code \"" + (*args)[0].value + "\"");
    }
  } else if (std::string refused;
             kw == "TAKEOWNERSHIP" && !(refused = backend_.takeOwnership()).empty()) {
    out += refused + "\r\n";
  } else if (kw == "TAKEOWNERSHIP" || kw == "DROPOWNERSHIP") {
    owning_ = kw == "TAKEOWNERSHIP";  // arguments are ignored, as C tor does
    out += endReply(250, "OK");
  } else if (kw == "SETCONF" || kw == "RESETCONF") {
    out += setConf(*args);
  } else if (kw == "SAVECONF") {
    out += endReply(551,
                    "Unable to write configuration to disk: onionsplit does not rewrite the "
                    "torrc; edit it and send SIGNAL RELOAD");
  } else if (kw == "LOADCONF") {
    out += loadConf(c.data.value_or(""));
  } else {
    out += endReply(510, "Unrecognized command \"" + c.keyword + "\"");
  }
  return true;
}

bool Session::protocolInfo(const Command&, std::string& out) {
  if (sentProtocolInfo_ && !authenticated_) {
    out += endReply(513, "No more PROTOCOLINFO replies.");
    return false;
  }
  sentProtocolInfo_ = true;
  std::string methods;
  if (auth_.none()) methods = "NULL";
  if (!auth_.hashedPasswords.empty()) methods = "HASHEDPASSWORD";
  if (auth_.cookieAuthentication)
    methods += std::string(methods.empty() ? "" : ",") + "COOKIE,SAFECOOKIE";
  std::string line = "AUTH METHODS=" + methods;
  if (auth_.cookieAuthentication) line += " COOKIEFILE=" + quote(auth_.cookieFile);
  Reply r(250);
  r.line("PROTOCOLINFO 1");
  r.line(line);
  r.line("VERSION Tor=" + quote(version_));
  out += r.finish("OK");
  return true;
}

bool Session::authChallenge(const Command& c, std::string& out) {
  auto args = parseArgs(c.args);
  auto failWith = [&](int code, std::string_view text) {
    out += endReply(code, text);
    return false;
  };
  if (!args || args->empty()) return failWith(512, "Wrong number of arguments for AUTHCHALLENGE");
  if (!iequals((*args)[0].value, "SAFECOOKIE") || !(*args)[0].key.empty())
    return failWith(513, "AUTHCHALLENGE only supports SAFECOOKIE authentication");
  if (!auth_.cookieAuthentication) return failWith(515, "Cookie authentication is disabled");
  if (args->size() != 2) return failWith(512, "Wrong number of arguments for AUTHCHALLENGE");
  const Arg& nonceArg = (*args)[1];
  if (!nonceArg.key.empty())
    return failWith(512, "AUTHCHALLENGE does not accept keyword arguments.");
  std::string nonce = nonceArg.value;
  if (!nonceArg.quoted) {
    auto raw = fromHex(nonce);
    if (!raw) return failWith(513, "Invalid base16 client nonce");
    nonce.assign(raw->begin(), raw->end());
  }
  std::string serverNonce = backend_.random(kNonceBytes);
  auto serverHash = safeCookieServerHash(auth_.cookie, nonce, serverNonce);
  safeCookieClientHash_ = safeCookieClientHash(auth_.cookie, nonce, serverNonce);
  std::vector<uint8_t> sn(serverNonce.begin(), serverNonce.end());
  out += endReply(250, "AUTHCHALLENGE SERVERHASH=" + toHex(serverHash, true) +
                           " SERVERNONCE=" + toHex(sn, true));
  return true;
}

bool Session::authenticate(const Command& c, std::string& out) {
  auto args = parseArgs(c.args);
  auto failWith = [&](int code, std::string_view text) {
    out += endReply(code, text);
    return false;
  };
  if (!args) return failWith(512, "Syntax error in command argument");
  if (args->size() > 1) return failWith(512, "Too many arguments to AUTHENTICATE.");
  std::string secret;
  bool quoted = false;
  if (!args->empty()) {
    const Arg& a = (*args)[0];
    if (!a.key.empty()) return failWith(512, "AUTHENTICATE does not accept keyword arguments.");
    quoted = a.quoted;
    secret = a.value;
    if (!quoted) {
      auto raw = fromHex(secret);
      if (!raw)
        return failWith(551,
                        "Invalid hexadecimal encoding.  Maybe you tried a plain text password?  "
                        "If so, the standard requires that you put it in double quotes.");
      secret.assign(raw->begin(), raw->end());
    }
  }
  std::string why = checkSecret(secret, quoted);
  if (!why.empty()) return failWith(515, "Authentication failed: " + why);
  authenticated_ = true;
  out += endReply(250, "OK");
  return true;
}

// "" if `secret` authenticates, else C tor's reason.
std::string Session::checkSecret(const std::string& secret, bool quoted) {
  if (safeCookieClientHash_) {
    auto expected = bytesOf(*std::exchange(safeCookieClientHash_, std::nullopt));
    if (secret.size() != expected.size()) return "Wrong length for safe cookie response.";
    if (!constantTimeEquals(secret, expected))
      return "Safe cookie response did not match expected value.";
    return "";
  }
  if (auth_.none()) return "";
  bool alsoPassword = !auth_.hashedPasswords.empty();
  if (auth_.cookieAuthentication) {
    std::string cookie(reinterpret_cast<const char*>(auth_.cookie.data()), kCookieBytes);
    if (constantTimeEquals(secret, cookie)) return "";
    if (!alsoPassword)
      return secret.size() != kCookieBytes ? "Wrong length on authentication cookie."
                                           : "Authentication cookie did not match expected value.";
  }
  if (!alsoPassword) return "Unknown error";
  for (const auto& text : auth_.hashedPasswords) {
    auto h = decodeHashedPassword(text);
    if (h && passwordMatches(secret, *h)) return "";
  }
  if (auth_.cookieAuthentication)
    return "Password did not match HashedControlPassword *or* authentication cookie.";
  if (quoted) return "Password did not match HashedControlPassword value from configuration";
  return "Password did not match HashedControlPassword value from configuration. Maybe you tried "
         "a plain text password? If so, the standard requires that you put it in double quotes.";
}

std::string Session::getInfo(const std::vector<Arg>& args) {
  Reply r(250);
  std::vector<std::string> unknown;
  for (const auto& a : args) {
    std::string key = a.key.empty() ? a.value : a.key + "=" + a.value;
    std::optional<std::string> v;
    if (key == "events/names") {
      v = std::string();
      for (auto n : eventNames())
        *v += (v->empty() ? "" : " ") + std::string(n);
    } else {
      std::string error;
      v = backend_.info(key, error);
      if (!v && !error.empty()) return endReply(551, error);
    }
    if (!v) {
      unknown.push_back(key);
    } else {
      r.keyValue(key, *v);
    }
  }
  if (!unknown.empty()) return unrecognized(unknown, "Unrecognized key");
  return r.finish("OK");
}

std::string Session::getConf(const std::vector<Arg>& args) {
  std::vector<std::string> lines, unknown;
  for (const auto& a : args) {
    std::string key = a.key.empty() ? a.value : a.key;
    auto v = backend_.conf(key);
    if (!v) {
      unknown.push_back(key);
      continue;
    }
    if (v->second.empty()) lines.push_back(v->first);
    for (const auto& value : v->second)
      lines.push_back(v->first + "=" + value);
  }
  if (!unknown.empty()) return unrecognized(unknown, "Unrecognized configuration key");
  if (lines.empty()) return endReply(250, "OK");
  Reply r(250);
  for (size_t i = 0; i + 1 < lines.size(); ++i)
    r.line(lines[i]);
  return r.finish(lines.back());
}

// SETCONF and RESETCONF (the same here: an option without a value goes back to its default).
std::string Session::setConf(const std::vector<Arg>& args) {
  std::vector<ConfChange> changes;
  for (const auto& a : args) {
    std::string key = a.key.empty() ? a.value : a.key;
    auto known = backend_.conf(key);
    if (!known)
      return endReply(552, "Unrecognized option: Unknown option '" + key + "'.  Failing.");
    auto name = settableOption(key);
    if (!name)
      return endReply(553, "Transition not allowed: While Tor is running, changing " +
                               known->first + " is not allowed");
    changes.emplace_back(*name, a.key.empty() ? std::nullopt : std::optional(a.value));
  }
  if (changes.empty()) return endReply(250, "OK");
  std::string refused = backend_.setConf(changes);
  return refused.empty() ? endReply(250, "OK") : refused + "\r\n";
}

// LOADCONF: the body is a whole torrc. As C tor: an unknown option or a bad line is "552 Invalid
// config file", a change to an option that cannot change while the relay runs "553 Transition not
// allowed"; the options that can change are checked and applied as SETCONF applies them.
std::string Session::loadConf(const std::string& text) {
  auto entries = config::lexTorrc(text, "LOADCONF");
  if (!entries)
    return endReply(
        552, "Invalid config file: " + (entries.error().empty() ? "" : entries.error()[0].message));
  std::vector<ConfChange> changes;
  for (const auto& [key, value] : confChanges(backend_.entries(), *entries)) {
    auto known = backend_.conf(key);
    if (!known)
      return endReply(552, "Invalid config file: Unknown option '" + key + "'.  Failing.");
    auto name = settableOption(key);
    if (!name)
      return endReply(553, "Transition not allowed: While Tor is running, changing " +
                               known->first + " is not allowed");
    changes.emplace_back(*name, value);
  }
  if (changes.empty()) return endReply(250, "OK");
  std::string refused = backend_.setConf(changes);
  std::string_view bad = "513 Unacceptable option value: ";
  if (refused.starts_with(bad))
    return endReply(552, "Invalid config file: " + refused.substr(bad.size()));
  return refused.empty() ? endReply(250, "OK") : refused + "\r\n";
}

std::string Session::setEvents(const std::vector<Arg>& args) {
  std::set<std::string> wanted;
  for (const auto& a : args) {
    std::string name = upper(a.value);
    if (!a.key.empty()) return endReply(552, "Unrecognized event \"" + a.key + "\"");
    if (name == "EXTENDED") continue;  // accepted and ignored, as C tor does
    if (std::find(eventNames().begin(), eventNames().end(), name) == eventNames().end())
      return endReply(552, "Unrecognized event \"" + a.value + "\"");
    wanted.insert(name);
  }
  events_ = std::move(wanted);
  return endReply(250, "OK");
}

std::string Session::useFeature(const std::vector<Arg>& args) {
  for (const auto& a : args) {
    std::string name = upper(a.value);
    if (!a.key.empty() || (name != "VERBOSE_NAMES" && name != "EXTENDED_EVENTS"))
      return endReply(552, "Unrecognized feature \"" + (a.key.empty() ? a.value : a.key) + "\"");
  }
  return endReply(250, "OK");
}

}  // namespace onionsplit::control
