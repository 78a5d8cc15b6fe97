// common/sandbox/policy.h: what each daemon may still do once its start-up is over (DESIGN.md §5),
// as plain data: the system calls it may make, the files it may read, the sockets it may open, the
// TCP ports it may connect to. No I/O here: common/sandbox/sandbox.h applies a Policy (Landlock,
// seccomp, user), and the daemons (through common/daemon/runtime.cc) and tests/sandbox/ build
// theirs with the same policyFor(), so the tests prove what production runs.
//
// Every daemon has opened its listening sockets, log files and keys before the sandbox starts;
// what is left is its loop: Unix-socket IPC (accept, and connect again when a peer restarts), and
// per daemon:
//   channeld  TCP in and out (ORPort connections, descriptor uploads); reads the descriptor's
//             onion-key file again on SIGHUP. Never an onion secret.
//   circuitd  no IP at all; reads DataDirectory again on SIGHUP (rotated onion keys).
//   streamd   TCP to the ports the exit policy may accept, UDP to nameservers; reads no file.
//   confluxd  no IP at all; reads no file.
//   metrics, control  `onionsplit metrics` and `onionsplit control` under systemd: as confluxd
//             (accept on the sockets they hold; control may read its torrc's directory again).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/config/config.h"

namespace onionsplit::sandbox {

// Which AF_INET/AF_INET6 sockets a daemon may create (AF_UNIX stream and datagram sockets are
// always allowed: IPC and syslog).
enum class Inet : uint8_t { kNone, kTcp, kTcpAndUdp };

struct Policy {
  std::string daemon;
  // Files, or directories with everything beneath them, the daemon may open read-only after
  // start-up. Nothing is ever opened for writing. Empty: opening any file fails (seccomp says
  // EACCES even where the kernel has no Landlock).
  std::vector<std::string> readPaths;
  // Paths the self-check expects to be refused (EACCES) after entry, when they exist.
  std::vector<std::string> mustNotRead;
  Inet inet = Inet::kNone;
  // TCP ports connect() may reach (Landlock ABI 4+). nullopt: any port. Empty: none.
  std::optional<std::vector<uint16_t>> tcpConnectPorts;
  // Started by a root launcher, the daemon runs in a network namespace of its own with nothing in
  // it (Unix sockets on the filesystem still work).
  bool emptyNetworkNamespace = false;
  // When the daemon has to leave root itself (see dropRoot in sandbox.h), it keeps
  // CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: the launcher's sockets and keys are root's, and it
  // must connect again to a restarted peer or reread keys. Landlock still bounds what it opens.
  bool keepFileAccessWhenLeavingRoot = false;
  // OutboundBindAddressExit: streamd binds its exit sockets to a local address (port 0, so the
  // kernel picks the port). Allows bind(2) and Landlock's TCP bind on port 0; nothing else.
  bool bindOutgoingTcp = false;
  // System calls allowed whatever their arguments. The ones allowed only with some arguments
  // (socket, mmap/mprotect without PROT_EXEC, open read-only, ioctl, prctl, kill, prlimit) are
  // derived from the fields above by the seccomp code; every other call kills the process.
  std::vector<std::string> syscalls;
};

// The four daemons' names.
bool isDaemon(std::string_view name);
// Whether `daemon` needs IP networking at all (false: the launcher may give it an empty network
// namespace).
bool needsNetwork(std::string_view daemon);

// The policy of `daemon` ("channeld", "circuitd", "streamd", "confluxd") under `cfg`. Fails for
// another name or an exit policy that does not build.
Expected<Policy, std::string> policyFor(std::string_view daemon, const config::Config& cfg);

// Lets the daemon read the directory of its configuration file after start-up, so that a reload
// (SIGHUP) can read the file again. Refused (false, the policy unchanged) when that directory holds
// DataDirectory's keys: a torrc kept beside the keys is then read at start-up only.
bool allowConfigDirectory(Policy& p, const std::string& configDir, const config::Config& cfg);

// The TCP ports the relay's exit policy may accept for some address (IPv4 or IPv6): nullopt when
// that is every port.
std::optional<std::vector<uint16_t>> exitPorts(const config::Config& cfg);

}  // namespace onionsplit::sandbox
