// launcher/supervisor.cc: see supervisor.h.
#include "launcher/supervisor.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/daemon/log.h"
#include "common/daemon/runtime.h"
#include "common/sandbox/policy.h"
#include "launcher/daemons.h"

namespace onionsplit::launcher {

namespace {
timeval timevalOf(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000),
                 static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}
}  // namespace

// Output lines longer than this are split; a daemon cannot make the launcher buffer without bound.
static constexpr size_t kMaxLine = 4096;

struct Supervisor::Child {
  Supervisor* owner = nullptr;
  DaemonSpec spec;
  RestartBackoff backoff;
  pid_t pid = -1;
  int outFd = -1;
  event* outEvent = nullptr;
  event* restartTimer = nullptr;
  int channelFd = -1;  // our end of its "launcher" socket
  std::string partial;
};

Supervisor::Supervisor(event_base* base, std::vector<DaemonSpec> daemons,
                       RestartBackoff::Params backoff, std::function<void(const std::string&)> out,
                       Events events)
    : base_(base), out_(std::move(out)), events_(std::move(events)) {
  for (auto& d : daemons) {
    auto c = std::make_unique<Child>();
    c->owner = this;
    c->spec = std::move(d);
    std::string_view program = baseName(c->spec.name);  // circuitd's shards are circuitd
    if (sandbox::isDaemon(program) && !sandbox::needsNetwork(program)) c->spec.emptyNetwork = true;
    c->backoff = RestartBackoff(backoff);
    c->restartTimer = evtimer_new(base_, &Supervisor::onRestartTimer, c.get());
    children_.push_back(std::move(c));
  }
  sigchld_ = evsignal_new(base_, SIGCHLD, &Supervisor::onSigchld, this);
  event_add(sigchld_, nullptr);
  stopTimer_ = evtimer_new(base_, &Supervisor::onStopTimer, this);
  termTimer_ = evtimer_new(base_, &Supervisor::onTermTimer, this);
}

Supervisor::~Supervisor() {
  for (auto& c : children_) {
    if (c->pid > 0) {
      kill(c->pid, SIGKILL);
      waitpid(c->pid, nullptr, 0);
    }
    if (c->outEvent) event_free(c->outEvent);
    if (c->outFd >= 0) close(c->outFd);
    if (c->channelFd >= 0) close(c->channelFd);
    event_free(c->restartTimer);
  }
  event_free(sigchld_);
  event_free(stopTimer_);
  event_free(termTimer_);
}

void Supervisor::startAll() {
  for (auto& c : children_)
    start(*c);
}

namespace {

// In the child, between fork and exec: the spec's sockets become fds 3, 4, ... in order, everything
// else above 2 is closed, and the environment says what they are as systemd would (LISTEN_PID is
// this process, which exec keeps). setenv is safe here because the launcher is single-threaded.
void passSockets(const DaemonSpec& spec, int channel) {
  std::vector<std::pair<std::string, int>> fds;
  if (spec.listenFd >= 0) fds.emplace_back(spec.name, spec.listenFd);
  fds.insert(fds.end(), spec.extraFds.begin(), spec.extraFds.end());
  if (channel >= 0) fds.emplace_back("launcher", channel);
  // First out of the way (above every target), then into place: no source is overwritten early.
  int high = 3 + static_cast<int>(fds.size()) + 64;
  for (auto& entry : fds) {
    entry.second = fcntl(entry.second, F_DUPFD, high);
    if (entry.second < 0) _exit(126);
  }
  std::string names;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (dup2(fds[i].second, 3 + static_cast<int>(i)) < 0) _exit(126);
    names += (i ? ":" : "") + fds[i].first;
  }
  close_range(3 + static_cast<unsigned>(fds.size()), ~0U, 0);
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDNAMES");
  if (fds.empty()) return;
  setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
  setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
  setenv("LISTEN_FDNAMES", names.c_str(), 1);
}

}  // namespace

void Supervisor::start(Child& c) {
  int pipeFds[2], channel[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) {
    note("pipe for " + c.spec.name + " failed: " + std::strerror(errno), true);
    return;
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0)
    channel[0] = channel[1] = -1;  // the daemon runs without; its Log files are not reopened
  if (c.channelFd >= 0) close(c.channelFd);
  c.channelFd = channel[0];
  pid_t pid = fork();
  if (pid < 0) {
    note("fork for " + c.spec.name + " failed: " + std::strerror(errno), true);
    close(pipeFds[0]);
    close(pipeFds[1]);
    if (channel[1] >= 0) close(channel[1]);
    return;
  }
  if (pid == 0) {
    // Child: stdout and stderr into the pipe, the listening socket as fd 3, nothing else inherited.
    // A process group of its own: signals reach it from the launcher only (Ctrl-C's SIGINT on a
    // terminal would otherwise arrive twice, once from the terminal and once forwarded).
    setpgid(0, 0);
    dup2(pipeFds[1], STDOUT_FILENO);
    dup2(pipeFds[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    passSockets(c.spec, channel[1]);
    // Where the kernel or a container refuses, the daemon runs on; its seccomp filter still
    // allows it no IP socket.
    if (c.spec.emptyNetwork && geteuid() == 0 && unshare(CLONE_NEWNET) != 0)
      std::fprintf(stderr, "no empty network namespace for %s: unshare: %s\n", c.spec.name.c_str(),
                   std::strerror(errno));
    signal(SIGPIPE, SIG_DFL);
    std::vector<char*> argv;
    argv.push_back(c.spec.name.data());
    for (auto& a : c.spec.args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(c.spec.path.c_str(), argv.data());
    std::fprintf(stderr, "exec %s failed: %s\n", c.spec.path.c_str(), std::strerror(errno));
    _exit(127);
  }
  close(pipeFds[1]);
  if (channel[1] >= 0) close(channel[1]);
  c.pid = pid;
  c.backoff.started(std::chrono::steady_clock::now());
  if (c.outEvent) event_free(c.outEvent);
  if (c.outFd >= 0) close(c.outFd);
  c.outFd = pipeFds[0];
  evutil_make_socket_nonblocking(c.outFd);
  c.outEvent = event_new(base_, c.outFd, EV_READ | EV_PERSIST, &Supervisor::onOutput, &c);
  event_add(c.outEvent, nullptr);
  note("started " + c.spec.name + " (pid " + std::to_string(pid) + ")", false);
  if (!controlLogMessage_.empty()) sendText(c, controlLogMessage_);
}

void Supervisor::sendText(Child& c, const std::string& text) {
  if (c.pid > 0 && c.channelFd >= 0)
    send(c.channelFd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void Supervisor::setControlLogLevel(const std::string& message) {
  controlLogMessage_ = message;
  for (auto& c : children_)
    sendText(*c, message);
}

void Supervisor::switchLogsToDebug() {
  for (auto& c : children_)
    sendText(*c, std::string(daemon::kLogsDebugMessage));
}

// One line of a daemon's output: a line marked for the control port goes there only.
void Supervisor::relay(Child& c, const std::string& line) {
  if (!line.empty() && line[0] == daemon::kControlLogMark) {
    if (controlLog_) controlLog_(c.spec.name + ": " + line.substr(1));
    return;
  }
  out_(c.spec.name + ": " + line);
}

void Supervisor::onOutput(evutil_socket_t fd, short, void* arg) {
  auto& c = *static_cast<Child*>(arg);
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\n' || c.partial.size() >= kMaxLine) {
          c.owner->relay(c, c.partial);
          c.partial.clear();
          if (buf[i] == '\n') continue;
        }
        c.partial.push_back(buf[i]);
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // EOF: the child closed its output (it exited, or is exiting).
    if (!c.partial.empty()) c.owner->relay(c, c.partial);
    c.partial.clear();
    event_del(c.outEvent);
    return;
  }
}

void Supervisor::onSigchld(evutil_socket_t, short, void* self) {
  static_cast<Supervisor*>(self)->reap();
}

void Supervisor::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    for (auto& c : children_) {
      if (c->pid != pid) continue;
      c->pid = -1;
      std::string how = WIFSIGNALED(status)
                            ? "killed by signal " + std::to_string(WTERMSIG(status))
                            : "exited with status " + std::to_string(WEXITSTATUS(status));
      if (stopping_) {
        note(c->spec.name + " stopped (" + how + ")", false);
        break;
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == daemon::kExitRefuseToRun && refusal_) {
        note(c->spec.name + " refuses to run (see its log); stopping the relay", true);
        refusal_(c->spec.name);
        break;
      }
      auto wait = c->backoff.exited(std::chrono::steady_clock::now());
      note(c->spec.name + " " + how + "; restarting in " + std::to_string(wait.count()) + " ms",
           true);
      timeval tv = timevalOf(wait);
      evtimer_add(c->restartTimer, &tv);
      break;
    }
  }
  if (stopping_) finishStopIfDone();
}

void Supervisor::note(const std::string& line, bool warning) {
  if (events_) {
    events_(line, warning);
  } else {
    out_("launcher: " + line);
  }
}

void Supervisor::onRestartTimer(evutil_socket_t, short, void* arg) {
  auto& c = *static_cast<Child*>(arg);
  if (!c.owner->stopping_ && c.pid < 0) c.owner->start(c);
}

void Supervisor::stopAll(std::chrono::milliseconds grace, std::function<void()> done,
                         std::chrono::milliseconds termAfter) {
  stopping_ = true;
  stopped_ = std::move(done);
  killGrace_ = grace;
  for (auto& c : children_)
    evtimer_del(c->restartTimer);
  if (termAfter.count() > 0) {
    timeval tv = timevalOf(termAfter);
    evtimer_add(termTimer_, &tv);
  } else {
    terminateAll();
  }
  finishStopIfDone();
}

void Supervisor::terminateAll() {
  evtimer_del(termTimer_);
  for (auto& c : children_)
    if (c->pid > 0) kill(c->pid, SIGTERM);
  timeval tv = timevalOf(killGrace_);
  evtimer_add(stopTimer_, &tv);
}

void Supervisor::hurry() {
  if (evtimer_pending(termTimer_, nullptr)) terminateAll();
}

void Supervisor::onTermTimer(evutil_socket_t, short, void* self) {
  static_cast<Supervisor*>(self)->terminateAll();
}

void Supervisor::sendLogFile(const std::string& path, int fd) {
  for (auto& c : children_) {
    if (c->pid <= 0 || c->channelFd < 0) continue;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{const_cast<char*>(path.data()), path.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    if (sendmsg(c->channelFd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
      note("cannot pass the Log file " + path + " to " + c->spec.name + ": " + std::strerror(errno),
           true);
  }
}

void Supervisor::drain() {
  stopping_ = true;
  for (auto& c : children_) {
    evtimer_del(c->restartTimer);
    for (auto& [name, fd] : c->spec.extraFds)
      if (fd >= 0) close(std::exchange(fd, -1));
    if (c->pid > 0) kill(c->pid, SIGINT);
  }
}

void Supervisor::onStopTimer(evutil_socket_t, short, void* self) {
  auto* s = static_cast<Supervisor*>(self);
  for (auto& c : s->children_) {
    if (c->pid > 0) {
      s->note(c->spec.name + " did not stop in time; killing it", true);
      kill(c->pid, SIGKILL);
    }
  }
}

void Supervisor::finishStopIfDone() {
  for (auto& c : children_)
    if (c->pid > 0) return;
  evtimer_del(stopTimer_);
  evtimer_del(termTimer_);
  if (stopped_) {
    auto done = std::move(stopped_);
    stopped_ = nullptr;
    done();
  }
}

pid_t Supervisor::pidOf(const std::string& name) const {
  for (auto& c : children_)
    if (c->spec.name == name) return c->pid;
  return -1;
}

unsigned Supervisor::restartsOf(const std::string& name) const {
  for (auto& c : children_)
    if (c->spec.name == name) return c->backoff.restarts();
  return 0;
}

}  // namespace onionsplit::launcher
