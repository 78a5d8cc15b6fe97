// launcher/data_directory.h: the DataDirectory check of C tor's check_private_dir, done by the
// launcher before anything is written there (I/O: stat, access, mkdir, chmod; the decision is
// common/config/data_directory.h's judgeDataDirectory).
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"

namespace onionsplit::launcher {

struct DataDirectoryCheck {
  std::vector<std::string> errors;  // the configuration cannot start
  std::vector<std::string> notes;   // what was (or, verifying, would be) changed
};

// With `apply` false (--verify-config) nothing is changed: a mode that start would fix is a note.
// With `apply` true a missing directory is made (mode 0700, handed to User when root makes it) and
// a too-open mode is fixed to 0700.
DataDirectoryCheck checkDataDirectory(const config::Config& cfg, bool apply);

}  // namespace onionsplit::launcher
