// common/config/include.h: C tor's "%include" (pure): a torrc's entries with every %include line
// replaced by the entries of the files it names, read through an injected FileSource (the real
// file system in common/daemon, a map in tests).
//
// Semantics (C tor 0.4.9's manual): the path may end in a '*'/'?' wildcard pattern (in its last
// component); the matches are taken in lexical order. A file is read where the %include line is; a
// directory's files are read in lexical order, skipping names that start with a dot and skipping
// subdirectories. Included files may include others, at most kMaxIncludeDepth levels deep. Every
// error names the file and line it is in.
#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/config/torrc.h"

namespace onionsplit::config {

// C tor's MAX_INCLUDE_RECURSION_LEVEL.
inline constexpr int kMaxIncludeDepth = 31;

class FileSource {
 public:
  enum class Kind { kMissing, kFile, kDirectory, kOther };
  virtual ~FileSource() = default;
  virtual Kind kind(const std::string& path) const = 0;
  // The file's text; the error says why it cannot be read.
  virtual Expected<std::string, std::string> readFile(const std::string& path) const = 0;
  // The names (not paths) in a directory, in any order.
  virtual Expected<std::vector<std::string>, std::string> listDirectory(
      const std::string& path) const = 0;
};

// Reads `path` and every file it includes. Entries keep their own file and line. On any error the
// result holds every error found (lexing errors of each file included).
Expected<std::vector<TorrcEntry>, ConfigErrors> readTorrcFile(const std::string& path,
                                                              const FileSource& fs);
// The same, appending to `entries` and `errors` so the caller can still build the good entries.
void readTorrcFileInto(const std::string& path, const FileSource& fs,
                       std::vector<TorrcEntry>& entries, ConfigErrors& errors);

// The files one "%include VALUE" stands for, in the order they are read; exposed for tests.
Expected<std::vector<std::string>, std::string> includeTargets(const std::string& value,
                                                               const FileSource& fs);

// C tor's wildcard match of one path component: '*' any run, '?' one character, '\' escapes; a
// leading dot is matched only by a literal dot.
bool wildcardMatch(std::string_view pattern, std::string_view name);

}  // namespace onionsplit::config
