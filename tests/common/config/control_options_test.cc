// Tests for common/config/control_options.h: the control port's options, read with C tor's syntax;
// a non-loopback ControlPort and a malformed HashedControlPassword are refused with their reason.
#include "common/config/control_options.h"

#include <gtest/gtest.h>

#include "common/config/config.h"
#include "common/config/reload.h"

namespace onionsplit::config {
namespace {

BuildResult ok(const std::string& text) {
  auto r = parseConfig(text);
  EXPECT_TRUE(r) << (r ? "" : describe(r.error()));
  return r ? *r : BuildResult{};
}

std::string refusal(const std::string& text) {
  auto r = parseConfig(text);
  EXPECT_FALSE(r) << text;
  return r ? "" : describe(r.error());
}

TEST(ControlOptions, OffByDefault) {
  Config c = ok("Nickname a\n").config;
  EXPECT_FALSE(c.control.enabled());
  EXPECT_FALSE(c.control.cookieAuthentication);
  EXPECT_EQ(cookieAuthFilePath(c), c.dataDirectory + "/control_auth_cookie");
  EXPECT_FALSE(ok("ControlPort 0\nControlSocket 0\n").config.control.enabled());
}

TEST(ControlOptions, ReadsPortsSocketsAndAuthentication) {
  auto r =
      ok("ControlPort 9051\nControlPort [::1]:9052\nControlPort unix:/run/os/control\n"
         "ControlSocket /run/os/control2\nCookieAuthentication 1\nCookieAuthFile /run/os/cookie\n"
         "CookieAuthFileGroupReadable 1\n"
         "HashedControlPassword 16:5D8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B5C\n");
  const ControlOptions& o = r.config.control;
  ASSERT_EQ(o.ports.size(), 2u);
  EXPECT_EQ(o.ports[0].address, "127.0.0.1");
  EXPECT_EQ(o.ports[0].port, 9051);
  EXPECT_EQ(o.ports[1].address, "::1");
  EXPECT_EQ(o.ports[1].port, 9052);
  EXPECT_EQ(o.sockets, (std::vector<std::string>{"/run/os/control", "/run/os/control2"}));
  EXPECT_TRUE(o.cookieAuthentication);
  EXPECT_TRUE(o.cookieAuthFileGroupReadable);
  EXPECT_EQ(cookieAuthFilePath(r.config), "/run/os/cookie");
  ASSERT_EQ(o.hashedControlPasswords.size(), 1u);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(ControlOptions, RefusesWhatIsNotServed) {
  EXPECT_NE(refusal("ControlPort 0.0.0.0:9051\n").find("loopback"), std::string::npos);
  EXPECT_NE(refusal("ControlPort 192.0.2.1:9051\n").find("loopback"), std::string::npos);
  EXPECT_NE(refusal("ControlPort auto\n").find("fixed port"), std::string::npos);
  EXPECT_NE(refusal("ControlPort 9051 GroupWritable\n").find("no flags"), std::string::npos);
  EXPECT_NE(refusal("ControlPort 70000\n").find("bad port"), std::string::npos);
  EXPECT_NE(refusal("ControlSocket relative/path\n").find("absolute"), std::string::npos);
  EXPECT_NE(refusal("CookieAuthentication yes\n").find("0 or 1"), std::string::npos);
  EXPECT_NE(refusal("HashedControlPassword secret\n").find("--hash-password"), std::string::npos);
}

TEST(ControlOptions, WarnsWithoutAuthentication) {
  auto r = ok("ControlPort 127.0.0.1:9051\n");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("no authentication"), std::string::npos);
}

TEST(ControlOptions, FixedWhileRunning) {
  Config running = ok("ControlPort 9051\nCookieAuthentication 1\n").config;
  EXPECT_TRUE(
      fixedWhileRunning(running, ok("ControlPort 9051\nCookieAuthentication 1\n").config).empty());
  auto changed =
      fixedWhileRunning(running, ok("ControlPort 9052\nCookieAuthentication 1\n").config);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].rfind("ControlPort", 0), 0u);
  EXPECT_EQ(fixedWhileRunning(running, ok("ControlPort 9051\n").config).size(), 1u);
}

// __OwningControllerProcess as C tor reads it: a pid, then optionally a space or a colon and
// anything; it may change while running (SETCONF from the controller that started the relay).
TEST(ControlOptions, OwningControllerProcess) {
  EXPECT_EQ(ok("Nickname a\n").config.control.owningControllerProcess, 0);
  EXPECT_EQ(ok("__OwningControllerProcess 4242\n").config.control.owningControllerProcess, 4242);
  EXPECT_EQ(ok("__owningcontrollerprocess 17:x\n").config.control.owningControllerProcess, 17);
  for (const char* bad : {"0", "-1", "abc", "12x", "99999999999"})
    EXPECT_NE(refusal(std::string("__OwningControllerProcess ") + bad + "\n")
                  .find("Bad OwningControllerProcess: invalid PID"),
              std::string::npos)
        << bad;
  Config running = ok("__OwningControllerProcess 1\n").config;
  EXPECT_TRUE(fixedWhileRunning(running, ok("__OwningControllerProcess 2\n").config).empty());
}

// __OwningControllerFD: a descriptor number, fixed while running (as C tor's immutable option).
TEST(ControlOptions, OwningControllerFd) {
  EXPECT_EQ(ok("Nickname a\n").config.control.owningControllerFd, -1);
  EXPECT_EQ(ok("__OwningControllerFD 5\n").config.control.owningControllerFd, 5);
  EXPECT_EQ(ok("__owningcontrollerfd 0\n").config.control.owningControllerFd, 0);
  EXPECT_FALSE(ok("__OwningControllerFD 5\n").config.control.enabled());  // no listener
  for (const char* bad : {"-1", "abc", "5x", "99999999999"})
    EXPECT_NE(refusal(std::string("__OwningControllerFD ") + bad + "\n")
                  .find("__OwningControllerFD: not a file descriptor number"),
              std::string::npos)
        << bad;
  Config running = ok("__OwningControllerFD 5\n").config;
  EXPECT_EQ(fixedWhileRunning(running, ok("__OwningControllerFD 6\n").config).size(), 1u);
}

}  // namespace
}  // namespace onionsplit::config

namespace onionsplit::config {
namespace {

// Debian's tor-service-defaults-torrc: `ControlSocket /run/tor/control GroupWritable
// RelaxDirModeCheck` and `ControlSocketsGroupWritable 1`; the socket modes C tor gives.
TEST(ControlOptions, ControlSocketFlagsAndModes) {
  auto c = ok("ControlSocket /run/tor/control GroupWritable RelaxDirModeCheck\n"
              "ControlSocket unix:/run/os/world WorldWritable\n"
              "ControlSocket /run/os/private\n")
               .config.control;
  ASSERT_EQ(c.sockets,
            (std::vector<std::string>{"/run/tor/control", "/run/os/world", "/run/os/private"}));
  EXPECT_EQ(c.socketMode(0), 0660u);
  EXPECT_EQ(c.socketMode(1), 0666u);
  EXPECT_EQ(c.socketMode(2), 0600u);
  auto g = ok("ControlSocket /run/os/private\nControlSocketsGroupWritable 1\n").config.control;
  EXPECT_EQ(g.socketMode(0), 0660u);
  EXPECT_NE(refusal("ControlSocket /run/os/x Sideways\n").find("unknown flag"), std::string::npos);
  EXPECT_FALSE(sameControlOptions(c, g));
}

}  // namespace
}  // namespace onionsplit::config
