// Tests for common/control/session.h: the authentication gate and C tor's reply texts. The backend
// is a table: the session's job is the protocol, not the relay's facts.
#include "common/control/session.h"

#include <gtest/gtest.h>

#include <map>

#include "common/base/hex.h"

namespace onionsplit::control {
namespace {

struct TableBackend : Backend {
  std::map<std::string, std::string> infos{{"version", "0.4.9.11"},
                                           {"exit-policy/full", "accept *:80\nreject *:*"}};
  std::vector<std::string> signals;
  std::vector<ConfChange> set;
  std::optional<std::string> info(std::string_view key, std::string& error) override {
    if (key == "address") error = "Address unknown";
    auto it = infos.find(std::string(key));
    if (it == infos.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::pair<std::string, std::vector<std::string>>> conf(
      std::string_view key) override {
    if (iequals(key, "Nickname"))
      return std::make_pair(std::string("Nickname"), std::vector<std::string>{"exit1"});
    if (iequals(key, "DataDirectory"))
      return std::make_pair(std::string("DataDirectory"), std::vector<std::string>{"/d"});
    if (iequals(key, "BandwidthRate") || iequals(key, "ExitPolicy"))
      return std::make_pair(std::string(key), std::vector<std::string>{});
    if (iequals(key, "ContactInfo"))
      return std::make_pair(std::string("ContactInfo"), std::vector<std::string>{});
    return std::nullopt;
  }
  std::optional<std::string> signal(const std::string& name) override {
    signals.push_back(name);
    if (name == "HALT") return "551 HALT is not available here";
    if (name == "RELOAD" || name == "SHUTDOWN") return "";
    return std::nullopt;
  }
  std::string setConf(const std::vector<ConfChange>& changes) override {
    set = changes;
    for (const auto& c : changes)
      if (c.second == "bad") return "513 Unacceptable option value: BandwidthRate: bad";
    return "";
  }
  std::string random(size_t n) override { return std::string(n, '\x55'); }
};

struct Harness {
  AuthConfig auth;
  TableBackend backend;
  Session session{auth, backend, "0.4.9.11"};
  bool open = true;
  std::string send(const std::string& line) {
    CommandReader r;
    EXPECT_TRUE(r.feed(line + "\r\n"));
    auto c = r.next();
    EXPECT_TRUE(c);
    std::string out;
    open = session.handle(*c, out);
    return out;
  }
};

Cookie testCookie() {
  Cookie c;
  for (size_t i = 0; i < c.size(); ++i)
    c[i] = static_cast<uint8_t>(i);
  return c;
}

TEST(ControlSession, NothingButAuthenticationBeforeIt) {
  Harness h;
  h.auth.cookieAuthentication = true;
  h.auth.cookie = testCookie();
  EXPECT_EQ(h.send("GETINFO version"), "514 Authentication required.\r\n");
  EXPECT_FALSE(h.open);
}

TEST(ControlSession, ProtocolInfoOnceBeforeAuthentication) {
  Harness h;
  h.auth.cookieAuthentication = true;
  h.auth.cookieFile = "/var/lib/tor/control_auth_cookie";
  h.auth.hashedPasswords = {"16:5D8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B5C"};
  EXPECT_EQ(h.send("PROTOCOLINFO 1"),
            "250-PROTOCOLINFO 1\r\n"
            "250-AUTH METHODS=HASHEDPASSWORD,COOKIE,SAFECOOKIE "
            "COOKIEFILE=\"/var/lib/tor/control_auth_cookie\"\r\n"
            "250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n");
  EXPECT_EQ(h.send("PROTOCOLINFO"), "513 No more PROTOCOLINFO replies.\r\n");
  EXPECT_FALSE(h.open);
}

TEST(ControlSession, NoAuthenticationOnlyWhenConfigured) {
  Harness h;
  EXPECT_NE(h.send("PROTOCOLINFO").find("AUTH METHODS=NULL\r\n"), std::string::npos);
  EXPECT_EQ(h.send("AUTHENTICATE"), "250 OK\r\n");
  EXPECT_TRUE(h.session.authenticated());
}

TEST(ControlSession, CookieAuthentication) {
  Harness h;
  h.auth.cookieAuthentication = true;
  h.auth.cookie = testCookie();
  EXPECT_EQ(h.send("AUTHENTICATE " + toHex(h.auth.cookie)), "250 OK\r\n");
  EXPECT_EQ(h.send("GETINFO version"), "250-version=0.4.9.11\r\n250 OK\r\n");
  Harness bad;
  bad.auth.cookieAuthentication = true;
  EXPECT_EQ(bad.send("AUTHENTICATE 00"),
            "515 Authentication failed: Wrong length on authentication cookie.\r\n");
  EXPECT_FALSE(bad.open);
  Harness plain;
  plain.auth.cookieAuthentication = true;
  EXPECT_EQ(plain.send("AUTHENTICATE secret").substr(0, 4), "551 ");
}

TEST(ControlSession, SafeCookieChallengeAndResponse) {
  Harness h;
  h.auth.cookieAuthentication = true;
  h.auth.cookie = testCookie();
  std::string clientNonce(64, 'A');  // hex: 32 bytes of 0xaa
  EXPECT_EQ(h.send("AUTHCHALLENGE SAFECOOKIE " + clientNonce),
            "250 AUTHCHALLENGE "
            "SERVERHASH=5F7CB5569957C99373E329258545940F029AF175DA225F4A3125EEBF30C24BBA "
            "SERVERNONCE=" +
                std::string(64, '5') + "\r\n");
  EXPECT_EQ(h.send("AUTHENTICATE 9F99F2C4B75C91123CA5C6C6E3F76A9EF7FBD9471053CBE34454A4269CC39F7C"),
            "250 OK\r\n");
  Harness wrong;
  wrong.auth.cookieAuthentication = true;
  wrong.auth.cookie = testCookie();
  wrong.send("AUTHCHALLENGE SAFECOOKIE " + clientNonce);
  // The plain cookie is no answer once SAFECOOKIE was chosen.
  EXPECT_EQ(wrong.send("AUTHENTICATE " + toHex(wrong.auth.cookie)),
            "515 Authentication failed: Safe cookie response did not match expected value.\r\n");
}

TEST(ControlSession, SafeCookieNeedsCookieAuthentication) {
  Harness h;
  EXPECT_EQ(h.send("AUTHCHALLENGE SAFECOOKIE 00"), "515 Cookie authentication is disabled\r\n");
  Harness other;
  other.auth.cookieAuthentication = true;
  EXPECT_EQ(other.send("AUTHCHALLENGE COOKIE 00"),
            "513 AUTHCHALLENGE only supports SAFECOOKIE authentication\r\n");
}

TEST(ControlSession, HashedControlPassword) {
  Harness h;
  h.auth.hashedPasswords = {"16:5D8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B5C"};
  EXPECT_EQ(h.send("AUTHENTICATE \"onionsplit-test\""), "250 OK\r\n");
  Harness bad;
  bad.auth.hashedPasswords = h.auth.hashedPasswords;
  EXPECT_EQ(bad.send("AUTHENTICATE \"nope\""),
            "515 Authentication failed: Password did not match HashedControlPassword value from "
            "configuration\r\n");
  EXPECT_FALSE(bad.open);
}

TEST(ControlSession, GetInfoGetConfAndErrors) {
  Harness h;
  h.send("AUTHENTICATE");
  EXPECT_EQ(h.send("GETINFO exit-policy/full"),
            "250+exit-policy/full=\r\naccept *:80\r\nreject *:*\r\n.\r\n250 OK\r\n");
  EXPECT_EQ(h.send("GETINFO version nope other"),
            "552-Unrecognized key \"nope\"\r\n552 Unrecognized key \"other\"\r\n");
  EXPECT_EQ(h.send("GETCONF nickname ContactInfo"), "250-Nickname=exit1\r\n250 ContactInfo\r\n");
  EXPECT_EQ(h.send("GETCONF Bogus"), "552 Unrecognized configuration key \"Bogus\"\r\n");
  EXPECT_EQ(h.send("FROB"), "510 Unrecognized command \"FROB\"\r\n");
  EXPECT_EQ(h.send("GETINFO \"x"), "512 Syntax error in command argument\r\n");
  EXPECT_TRUE(h.open);
}

TEST(ControlSession, GetInfoErrorFromTheRelay) {
  Harness h;
  h.send("AUTHENTICATE");
  EXPECT_EQ(h.send("GETINFO version address"), "551 Address unknown\r\n");
  EXPECT_TRUE(h.open);
}

TEST(ControlSession, SetConfOnlyForRuntimeOptions) {
  Harness h;
  h.send("AUTHENTICATE");
  EXPECT_EQ(h.send("SETCONF ContactInfo=\"a b\" exitpolicy=\"accept *:80\" ExitPolicy=reject"),
            "250 OK\r\n");
  EXPECT_EQ(h.backend.set,
            (std::vector<ConfChange>{
                {"ContactInfo", "a b"}, {"ExitPolicy", "accept *:80"}, {"ExitPolicy", "reject"}}));
  EXPECT_EQ(h.send("RESETCONF ContactInfo"), "250 OK\r\n");
  EXPECT_EQ(h.backend.set, (std::vector<ConfChange>{{"ContactInfo", std::nullopt}}));
  h.backend.set.clear();
  EXPECT_EQ(h.send("SETCONF Bogus=1"),
            "552 Unrecognized option: Unknown option 'Bogus'.  Failing.\r\n");
  EXPECT_EQ(h.send("SETCONF ContactInfo=x DataDirectory=/tmp"),
            "553 Transition not allowed: While Tor is running, changing DataDirectory is not "
            "allowed\r\n");
  EXPECT_TRUE(h.backend.set.empty());  // nothing of a refused SETCONF is applied
  EXPECT_EQ(h.send("SETCONF BandwidthRate=bad"),
            "513 Unacceptable option value: BandwidthRate: bad\r\n");
  EXPECT_EQ(h.send("SAVECONF"),
            "551 Unable to write configuration to disk: onionsplit does not rewrite the torrc; "
            "edit it and send SIGNAL RELOAD\r\n");
  EXPECT_EQ(settableOption("maxmeminqueues"), "MaxMemInQueues");
  EXPECT_EQ(settableOption("HashedControlPassword"), std::nullopt);
  EXPECT_EQ(settableOption("MetricsPortPolicy"), std::nullopt);
  EXPECT_TRUE(h.open);
}

TEST(ControlSession, SignalsAndEvents) {
  Harness h;
  h.send("AUTHENTICATE");
  EXPECT_EQ(h.send("SIGNAL reload"), "250 OK\r\n");
  EXPECT_EQ(h.send("SIGNAL FROB"), "552 Unrecognized signal code \"FROB\"\r\n");
  EXPECT_EQ(h.send("SIGNAL NEWNYM"), "551 onionsplit does not support SIGNAL NEWNYM yet\r\n");
  EXPECT_EQ(h.send("SIGNAL halt"), "551 HALT is not available here\r\n");
  EXPECT_EQ(h.backend.signals, (std::vector<std::string>{"RELOAD", "FROB", "NEWNYM", "HALT"}));
  EXPECT_EQ(h.send("SETEVENTS EXTENDED BW notice"), "250 OK\r\n");
  EXPECT_TRUE(h.session.wants("BW"));
  EXPECT_TRUE(h.session.wants("NOTICE"));
  EXPECT_EQ(h.send("SETEVENTS BW FROB"), "552 Unrecognized event \"FROB\"\r\n");
  EXPECT_TRUE(h.session.wants("NOTICE"));  // a refused SETEVENTS changes nothing
  EXPECT_EQ(h.send("SETEVENTS"), "250 OK\r\n");
  EXPECT_FALSE(h.session.wants("BW"));
  EXPECT_EQ(h.send("QUIT"), "250 closing connection\r\n");
  EXPECT_FALSE(h.open);
}

// TAKEOWNERSHIP and DROPOWNERSHIP: C tor's 250 OK (arguments ignored, as C tor ignores them); the
// session says whether its closing must stop the relay. Before authentication, 514 as any other.
TEST(ControlSession, TakeAndDropOwnership) {
  Harness h;
  h.auth.cookieAuthentication = true;
  h.auth.cookie = testCookie();
  EXPECT_EQ(h.send("TAKEOWNERSHIP"), "514 Authentication required.\r\n");
  EXPECT_FALSE(h.session.owning());
  Harness g;
  g.send("AUTHENTICATE");
  EXPECT_FALSE(g.session.owning());
  EXPECT_EQ(g.send("takeownership"), "250 OK\r\n");
  EXPECT_TRUE(g.session.owning());
  EXPECT_EQ(g.send("DROPOWNERSHIP"), "250 OK\r\n");
  EXPECT_FALSE(g.session.owning());
  EXPECT_EQ(g.send("TAKEOWNERSHIP now"), "250 OK\r\n");
  EXPECT_TRUE(g.session.owning());
  EXPECT_TRUE(g.open);
  EXPECT_EQ(settableOption("__owningcontrollerprocess"), "__OwningControllerProcess");
}

// LOADCONF: a whole torrc; the options that changed are applied as SETCONF applies them, with C
// tor's 552 and 553 for what it refuses.
TEST(ControlSession, LoadconfAppliesRuntimeOptionsAndRefusesOthersAsCtor) {
  Harness h;
  h.send("AUTHENTICATE");
  EXPECT_EQ(h.send("+LOADCONF\r\nContactInfo me\r\n."), "250 OK\r\n");
  ASSERT_EQ(h.backend.set.size(), 1u);
  EXPECT_EQ(h.backend.set[0], ConfChange("ContactInfo", "me"));
  EXPECT_EQ(h.send("+LOADCONF\r\nDataDirectory /x\r\n."),
            "553 Transition not allowed: While Tor is running, changing DataDirectory is not "
            "allowed\r\n");
  EXPECT_EQ(h.send("+LOADCONF\r\nNoSuchOption 1\r\n."),
            "552 Invalid config file: Unknown option 'NoSuchOption'.  Failing.\r\n");
  EXPECT_EQ(h.send("+LOADCONF\r\n%include /etc/shadow\r\n.").substr(0, 25),
            "552 Invalid config file: ");
  EXPECT_EQ(h.send("+LOADCONF\r\nBandwidthRate bad\r\n."),
            "552 Invalid config file: BandwidthRate: bad\r\n");
}

}  // namespace
}  // namespace onionsplit::control
