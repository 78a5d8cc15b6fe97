// launcher/supervisor.cc: see supervisor.h.
#include "launcher/supervisor.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/sandbox/policy.h"

namespace onionsplit::launcher {

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
  std::string partial;
};

Supervisor::Supervisor(event_base* base, std::vector<DaemonSpec> daemons,
                       RestartBackoff::Params backoff, std::function<void(const std::string&)> out)
    : base_(base), out_(std::move(out)) {
  for (auto& d : daemons) {
    auto c = std::make_unique<Child>();
    c->owner = this;
    c->spec = std::move(d);
    if (sandbox::isDaemon(c->spec.name) && !sandbox::needsNetwork(c->spec.name))
      c->spec.emptyNetwork = true;
    c->backoff = RestartBackoff(backoff);
    c->restartTimer = evtimer_new(base_, &Supervisor::onRestartTimer, c.get());
    children_.push_back(std::move(c));
  }
  sigchld_ = evsignal_new(base_, SIGCHLD, &Supervisor::onSigchld, this);
  event_add(sigchld_, nullptr);
  stopTimer_ = evtimer_new(base_, &Supervisor::onStopTimer, this);
}

Supervisor::~Supervisor() {
  for (auto& c : children_) {
    if (c->pid > 0) {
      kill(c->pid, SIGKILL);
      waitpid(c->pid, nullptr, 0);
    }
    if (c->outEvent) event_free(c->outEvent);
    if (c->outFd >= 0) close(c->outFd);
    event_free(c->restartTimer);
  }
  event_free(sigchld_);
  event_free(stopTimer_);
}

void Supervisor::startAll() {
  for (auto& c : children_)
    start(*c);
}

void Supervisor::start(Child& c) {
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) {
    out_("launcher: pipe for " + c.spec.name + " failed: " + std::strerror(errno));
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    out_("launcher: fork for " + c.spec.name + " failed: " + std::strerror(errno));
    close(pipeFds[0]);
    close(pipeFds[1]);
    return;
  }
  if (pid == 0) {
    // Child: stdout and stderr into the pipe, the listening socket as fd 3, nothing else inherited.
    dup2(pipeFds[1], STDOUT_FILENO);
    dup2(pipeFds[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    std::string env;
    if (c.spec.listenFd >= 0) {
      if (c.spec.listenFd != 3) {
        if (dup2(c.spec.listenFd, 3) < 0) _exit(126);
      } else {
        fcntl(3, F_SETFD, 0);
      }
      env = c.spec.name + "=3";
      close_range(4, ~0U, 0);
    } else {
      close_range(3, ~0U, 0);
    }
    if (!env.empty()) setenv("ONIONSPLIT_LISTEN_FDS", env.c_str(), 1);
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
  c.pid = pid;
  c.backoff.started(std::chrono::steady_clock::now());
  if (c.outEvent) event_free(c.outEvent);
  if (c.outFd >= 0) close(c.outFd);
  c.outFd = pipeFds[0];
  evutil_make_socket_nonblocking(c.outFd);
  c.outEvent = event_new(base_, c.outFd, EV_READ | EV_PERSIST, &Supervisor::onOutput, &c);
  event_add(c.outEvent, nullptr);
  out_("launcher: started " + c.spec.name + " (pid " + std::to_string(pid) + ")");
}

void Supervisor::onOutput(evutil_socket_t fd, short, void* arg) {
  auto& c = *static_cast<Child*>(arg);
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\n' || c.partial.size() >= kMaxLine) {
          c.owner->out_(c.spec.name + ": " + c.partial);
          c.partial.clear();
          if (buf[i] == '\n') continue;
        }
        c.partial.push_back(buf[i]);
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // EOF: the child closed its output (it exited, or is exiting).
    if (!c.partial.empty()) c.owner->out_(c.spec.name + ": " + c.partial);
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
        out_("launcher: " + c->spec.name + " stopped (" + how + ")");
        break;
      }
      auto wait = c->backoff.exited(std::chrono::steady_clock::now());
      out_("launcher: " + c->spec.name + " " + how + "; restarting in " +
           std::to_string(wait.count()) + " ms");
      timeval tv{static_cast<time_t>(wait.count() / 1000),
                 static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
      evtimer_add(c->restartTimer, &tv);
      break;
    }
  }
  if (stopping_) finishStopIfDone();
}

void Supervisor::onRestartTimer(evutil_socket_t, short, void* arg) {
  auto& c = *static_cast<Child*>(arg);
  if (!c.owner->stopping_ && c.pid < 0) c.owner->start(c);
}

void Supervisor::stopAll(std::chrono::milliseconds grace, std::function<void()> done) {
  stopping_ = true;
  stopped_ = std::move(done);
  for (auto& c : children_) {
    evtimer_del(c->restartTimer);
    if (c->pid > 0) kill(c->pid, SIGTERM);
  }
  timeval tv{static_cast<time_t>(grace.count() / 1000),
             static_cast<suseconds_t>((grace.count() % 1000) * 1000)};
  evtimer_add(stopTimer_, &tv);
  finishStopIfDone();
}

void Supervisor::onStopTimer(evutil_socket_t, short, void* self) {
  auto* s = static_cast<Supervisor*>(self);
  for (auto& c : s->children_) {
    if (c->pid > 0) {
      s->out_("launcher: " + c->spec.name + " did not stop in time; killing it");
      kill(c->pid, SIGKILL);
    }
  }
}

void Supervisor::finishStopIfDone() {
  for (auto& c : children_)
    if (c->pid > 0) return;
  evtimer_del(stopTimer_);
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
