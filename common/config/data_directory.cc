// common/config/data_directory.cc: see data_directory.h.
#include "common/config/data_directory.h"

#include <cstdio>

namespace onionsplit::config {
namespace {

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

DataDirectoryVerdict judgeDataDirectory(const std::string& path, const DataDirectoryFacts& facts,
                                        uint32_t runUid, const std::string& runUser) {
  DataDirectoryVerdict v;
  const std::string name = "DataDirectory " + path;
  switch (facts.kind) {
    case DataDirectoryFacts::Kind::kMissing:
      if (!facts.writable) {
        v.errors.push_back(
            name + " does not exist and cannot be created: " +
            (facts.blockingAncestor.empty() ? std::string("its parent") : facts.blockingAncestor) +
            " is not a directory " + runUser + " can write");
      } else {
        v.create = true;
      }
      return v;
    case DataDirectoryFacts::Kind::kOther:
      v.errors.push_back(name + " is not a directory");
      return v;
    case DataDirectoryFacts::Kind::kDirectory:
      break;
  }
  if (facts.ownerUid != runUid) {
    v.errors.push_back(name + " is owned by uid " + std::to_string(facts.ownerUid) + ", not by " +
                       runUser + " (uid " + std::to_string(runUid) + ") that the relay runs as");
    return v;
  }
  const uint32_t perms = facts.mode & 0777;
  if ((perms & 077) != 0 || (perms & 0700) != 0700) {
    v.fixMode = 0700;
    v.fixMessage = "Fixing permissions on " + name + " (mode " + octal(facts.mode) + " to 0700)";
    return v;  // once fixed, its owner can write it
  }
  if (!facts.writable) v.errors.push_back(name + " is not writable by " + runUser);
  return v;
}

}  // namespace onionsplit::config
