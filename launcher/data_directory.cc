// launcher/data_directory.cc: see data_directory.h.
#include "launcher/data_directory.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/config/data_directory.h"

namespace onionsplit::launcher {
namespace {

struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

bool runAs(const config::Config& cfg, RunAs& out, std::vector<std::string>& errors) {
  if (!cfg.user.empty()) {
    const passwd* pw = getpwnam(cfg.user.c_str());
    if (!pw) {
      errors.push_back("User " + cfg.user + ": no such user");
      return false;
    }
    out = RunAs{pw->pw_uid, pw->pw_gid, cfg.user};
    return true;
  }
  out.uid = geteuid();
  out.gid = getegid();
  const passwd* pw = getpwuid(out.uid);
  out.name = pw ? pw->pw_name : "uid " + std::to_string(out.uid);
  return true;
}

// The facts judgeDataDirectory needs. Writability is asked of the kernel only when we are the
// relay's user; root checking for User relies on owner and mode, as C tor does.
config::DataDirectoryFacts gatherFacts(const std::string& path, const RunAs& who) {
  config::DataDirectoryFacts f;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {  // a symbolic link is judged by its target, as in C tor
    f.kind = S_ISDIR(st.st_mode) ? config::DataDirectoryFacts::Kind::kDirectory
                                 : config::DataDirectoryFacts::Kind::kOther;
    f.ownerUid = st.st_uid;
    f.mode = st.st_mode & 07777;
    if (geteuid() == who.uid) f.writable = access(path.c_str(), W_OK | X_OK) == 0;
    return f;
  }
  f.kind = config::DataDirectoryFacts::Kind::kMissing;
  std::filesystem::path p = std::filesystem::absolute(path).lexically_normal();
  while (p.has_parent_path() && p != p.parent_path()) {
    p = p.parent_path();
    if (stat(p.c_str(), &st) != 0) continue;
    bool dir = S_ISDIR(st.st_mode);
    f.writable = dir && (geteuid() != who.uid || access(p.c_str(), W_OK | X_OK) == 0);
    if (!f.writable) f.blockingAncestor = p.string();
    break;
  }
  return f;
}

}  // namespace

DataDirectoryCheck checkDataDirectory(const config::Config& cfg, bool apply) {
  DataDirectoryCheck out;
  RunAs who;
  if (!runAs(cfg, who, out.errors)) return out;
  auto facts = gatherFacts(cfg.dataDirectory, who);
  auto v = config::judgeDataDirectory(cfg.dataDirectory, facts, who.uid, who.name);
  out.errors = v.errors;
  if (!out.errors.empty()) return out;
  if (v.create) {
    if (!apply) return out;
    std::error_code ec;
    std::filesystem::create_directories(cfg.dataDirectory, ec);
    if (ec || chmod(cfg.dataDirectory.c_str(), 0700) != 0) {
      out.errors.push_back("cannot create DataDirectory " + cfg.dataDirectory + ": " +
                           (ec ? ec.message() : std::string(std::strerror(errno))));
      return out;
    }
    // C tor makes it after switching to User; here root makes it, so it hands it over.
    if (geteuid() != who.uid && chown(cfg.dataDirectory.c_str(), who.uid, who.gid) != 0)
      out.errors.push_back("cannot hand DataDirectory " + cfg.dataDirectory + " to " + who.name +
                           ": " + std::strerror(errno));
    return out;
  }
  if (v.fixMode) {
    if (!apply) {
      out.notes.push_back(v.fixMessage + " at start");
    } else if (chmod(cfg.dataDirectory.c_str(), *v.fixMode) != 0) {
      out.errors.push_back("cannot fix the permissions of DataDirectory " + cfg.dataDirectory +
                           ": " + std::strerror(errno));
    } else {
      out.notes.push_back(v.fixMessage);
    }
  }
  return out;
}

}  // namespace onionsplit::launcher
