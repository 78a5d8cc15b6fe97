// common/config/data_directory.h: whether a DataDirectory is usable, as C tor's check_private_dir
// decides it (pure: the launcher gathers the facts with stat(2) and applies the verdict).
//
// C tor's facts: a missing directory is created with mode 0700; a path that is not a directory is
// refused; a directory owned by anyone but the user the relay runs as (User, else the current
// user) is refused; a directory whose mode lets the group or others in, or does not give its owner
// rwx, is fixed to 0700 with a log line. `--verify-config` changes nothing: it reports the fix as a
// warning and the refusals as errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace onionsplit::config {

struct DataDirectoryFacts {
  enum class Kind : uint8_t { kMissing, kDirectory, kOther } kind = Kind::kMissing;
  uint32_t ownerUid = 0;
  uint32_t mode = 0;  // permission bits (st_mode & 07777)
  // When the directory exists and the checker runs as the relay's user: access(W_OK|X_OK).
  // When it is missing: whether its nearest existing ancestor is a directory the relay's user can
  // write (or, checked as root for another user, is a directory at all).
  bool writable = true;
  std::string blockingAncestor;  // when missing and not creatable: the ancestor in the way
};

struct DataDirectoryVerdict {
  std::vector<std::string> errors;  // refuse the configuration
  bool create = false;              // missing: make it with mode 0700
  std::optional<uint32_t> fixMode;  // chmod to this, with `fixMessage` in the log
  std::string fixMessage;
};

// `runUid` is the uid the relay runs as, `runUser` its name for messages.
DataDirectoryVerdict judgeDataDirectory(const std::string& path, const DataDirectoryFacts& facts,
                                        uint32_t runUid, const std::string& runUser);

}  // namespace onionsplit::config
