// common/config/include.cc: see include.h.
#include "common/config/include.h"

#include <algorithm>

namespace onionsplit::config {
namespace {

// A hostile file that includes itself twice would otherwise be read 2^31 times before the depth
// limit stops it: the number of files read for one configuration is bounded as well.
constexpr size_t kMaxIncludedFiles = 1024;

bool hasWildcard(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '*' || s[i] == '?') {
      return true;
    }
  }
  return false;
}

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

std::string joinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// The plain files of a directory, lexical order, dot-files skipped, subdirectories skipped.
Expected<std::vector<std::string>, std::string> directoryFiles(const std::string& dir,
                                                               const FileSource& fs) {
  auto names = fs.listDirectory(dir);
  if (!names) return fail("cannot list " + dir + ": " + names.error());
  std::sort(names->begin(), names->end());
  std::vector<std::string> out;
  for (const std::string& n : *names) {
    if (n.empty() || n.front() == '.') continue;
    std::string p = joinPath(dir, n);
    if (fs.kind(p) == FileSource::Kind::kFile) out.push_back(std::move(p));
  }
  return out;
}

struct Reader {
  const FileSource& fs;
  std::vector<TorrcEntry>& entries;
  ConfigErrors& errors;
  size_t filesRead = 0;

  void read(const std::string& path, int depth, const TorrcEntry* from);
  void include(const TorrcEntry& inc, int depth);
};

void Reader::read(const std::string& path, int depth, const TorrcEntry* from) {
  auto report = [&](std::string message) {
    if (from)
      errors.push_back(ConfigError{from->line, std::move(message), from->file});
    else
      errors.push_back(ConfigError{0, std::move(message), path});
  };
  if (++filesRead > kMaxIncludedFiles) {
    if (filesRead == kMaxIncludedFiles + 1)  // once, not for every file after the limit
      report("%include: more than " + std::to_string(kMaxIncludedFiles) + " files read");
    return;
  }
  if (fs.kind(path) == FileSource::Kind::kDirectory) {
    report(from ? "%include: " + path + " is a directory" : "is a directory, not a torrc");
    return;
  }
  auto text = fs.readFile(path);
  if (!text) {
    report(from ? "cannot read " + path + ": " + text.error() : "cannot read: " + text.error());
    return;
  }
  std::vector<TorrcEntry> own;
  lexTorrcInto(*text, path, own, errors);
  for (TorrcEntry& e : own) {
    if (e.key == "%include") {
      include(e, depth);
    } else if (entries.size() >= kMaxTorrcEntries) {
      errors.push_back(ConfigError{e.line, "configuration has too many entries", e.file});
      return;
    } else {
      entries.push_back(std::move(e));
    }
  }
}

void Reader::include(const TorrcEntry& inc, int depth) {
  if (depth >= kMaxIncludeDepth) {
    errors.push_back(ConfigError{
        inc.line, "more than " + std::to_string(kMaxIncludeDepth) + " nested %includes", inc.file});
    return;
  }
  auto targets = includeTargets(inc.value, fs);
  if (!targets) {
    errors.push_back(ConfigError{inc.line, "%include: " + targets.error(), inc.file});
    return;
  }
  for (const std::string& t : *targets)
    read(t, depth + 1, &inc);
}

}  // namespace

bool wildcardMatch(std::string_view pattern, std::string_view name) {
  if (!name.empty() && name.front() == '.' && (pattern.empty() || pattern.front() != '.'))
    return false;
  // Iterative glob with one backtrack point for the last '*'.
  size_t p = 0, n = 0, starP = std::string_view::npos, starN = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starN = n;
    } else if (p < pattern.size() && pattern[p] == '?') {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '\\' && p + 1 < pattern.size() &&
               pattern[p + 1] == name[n]) {
      p += 2;
      ++n;
    } else if (p < pattern.size() && pattern[p] != '\\' && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (starP != std::string_view::npos) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

Expected<std::vector<std::string>, std::string> includeTargets(const std::string& value,
                                                               const FileSource& fs) {
  if (value.empty()) return fail(std::string("needs a file or directory"));
  size_t slash = value.rfind('/');
  std::string dir = slash == std::string::npos ? "" : value.substr(0, slash + 1);
  std::string last = slash == std::string::npos ? value : value.substr(slash + 1);
  if (hasWildcard(dir))
    return fail("wildcards are supported in the last path component only: " + value);
  std::vector<std::string> matches;
  if (hasWildcard(last)) {
    std::string listDir = dir.empty() ? "." : dir;
    auto names = fs.listDirectory(listDir);
    if (!names) return fail("cannot list " + listDir + ": " + names.error());
    std::sort(names->begin(), names->end());
    for (const std::string& n : *names)
      if (wildcardMatch(last, n)) matches.push_back(unescape(dir) + n);
  } else {
    matches.push_back(unescape(value));
  }
  std::vector<std::string> out;
  for (const std::string& m : matches) {
    switch (fs.kind(m)) {
      case FileSource::Kind::kFile:
        out.push_back(m);
        break;
      case FileSource::Kind::kDirectory: {
        auto files = directoryFiles(m, fs);
        if (!files) return fail(files.error());
        out.insert(out.end(), files->begin(), files->end());
        break;
      }
      case FileSource::Kind::kMissing:
        if (!hasWildcard(last)) return fail("no such file or directory: " + m);
        break;
      case FileSource::Kind::kOther:
        if (!hasWildcard(last)) return fail("not a file or directory: " + m);
        break;
    }
  }
  return out;
}

void readTorrcFileInto(const std::string& path, const FileSource& fs,
                       std::vector<TorrcEntry>& entries, ConfigErrors& errors) {
  Reader r{fs, entries, errors};
  r.read(path, 0, nullptr);
}

Expected<std::vector<TorrcEntry>, ConfigErrors> readTorrcFile(const std::string& path,
                                                              const FileSource& fs) {
  std::vector<TorrcEntry> entries;
  ConfigErrors errors;
  readTorrcFileInto(path, fs, entries, errors);
  if (!errors.empty()) return fail(std::move(errors));
  return entries;
}

}  // namespace onionsplit::config
