// common/daemon/config_file.cc: see config_file.h.
#include "common/daemon/config_file.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/exitpolicy/from_config.h"

namespace onionsplit::daemon {

config::FileSource::Kind DiskFileSource::kind(const std::string& path) const {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return errno == ENOENT ? Kind::kMissing : Kind::kOther;
  if (S_ISREG(st.st_mode)) return Kind::kFile;
  if (S_ISDIR(st.st_mode)) return Kind::kDirectory;
  return Kind::kOther;
}

Expected<std::string, std::string> DiskFileSource::readFile(const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::string(std::strerror(errno)));
  std::string text;
  char buf[4096];
  // Bounded: one byte over the lexer's limit is enough for it to refuse the file.
  while (text.size() <= config::kMaxTorrcBytes && in.read(buf, sizeof buf).gcount() > 0)
    text.append(buf, static_cast<size_t>(in.gcount()));
  if (in.bad()) return fail(std::string("read error"));
  return text;
}

Expected<std::vector<std::string>, std::string> DiskFileSource::listDirectory(
    const std::string& path) const {
  DIR* d = opendir(path.c_str());
  if (!d) return fail(std::string(std::strerror(errno)));
  std::vector<std::string> names;
  while (const dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
    if (names.size() > config::kMaxTorrcEntries) break;  // a hostile directory stays bounded
  }
  closedir(d);
  return names;
}

namespace {

// The checks of buildCheckedConfig on top of `problems` already found (a file's unreadable lines).
bool buildAndCheck(const std::vector<config::TorrcEntry>& entries, const std::string& name,
                   config::ConfigErrors problems, config::BuildResult& out,
                   std::vector<std::string>& errors) {
  auto built = config::buildConfig(entries);
  if (!built) problems.insert(problems.end(), built.error().begin(), built.error().end());
  auto policyErrors = exitpolicy::checkExitPolicyEntries(entries);
  problems.insert(problems.end(), policyErrors.begin(), policyErrors.end());
  if (problems.empty() && built) {
    // The items are good one by one; the effective policy (with Address, IPv6Exit...) must build.
    auto policy = exitpolicy::policyFromConfig(built->config);
    if (!policy) problems.push_back(config::ConfigError{0, policy.error(), name});
  }
  if (!problems.empty()) {
    config::sortErrors(problems);
    for (const auto& p : problems)
      errors.push_back(config::describe(p));
    return false;
  }
  out = std::move(*built);
  return true;
}

}  // namespace

bool buildCheckedConfig(const std::vector<config::TorrcEntry>& entries, const std::string& name,
                        config::BuildResult& out, std::vector<std::string>& errors) {
  return buildAndCheck(entries, name, {}, out, errors);
}

bool loadConfigSources(const ConfigSources& sources, config::BuildResult& out,
                       std::vector<std::string>& errors,
                       std::vector<config::TorrcEntry>* entriesOut) {
  if (sources.defaults.empty() && sources.commandLine.empty())
    return loadConfigFile(sources.torrc, out, errors, entriesOut);
  DiskFileSource fs;
  std::vector<config::TorrcEntry> defaults, torrc;
  config::ConfigErrors problems;
  if (!sources.defaults.empty())
    config::readTorrcFileInto(sources.defaults, fs, defaults, problems);
  config::readTorrcFileInto(sources.torrc, fs, torrc, problems);
  auto entries = config::layerTorrc(std::move(defaults), std::move(torrc), sources.commandLine);
  if (!buildAndCheck(entries, sources.torrc, std::move(problems), out, errors)) return false;
  if (entriesOut) *entriesOut = std::move(entries);
  return true;
}

bool loadConfigFile(const std::string& path, config::BuildResult& out,
                    std::vector<std::string>& errors, std::vector<config::TorrcEntry>* entriesOut) {
  DiskFileSource fs;
  std::vector<config::TorrcEntry> entries;
  config::ConfigErrors problems;
  config::readTorrcFileInto(path, fs, entries, problems);
  if (!buildAndCheck(entries, path, std::move(problems), out, errors)) return false;
  if (entriesOut) *entriesOut = std::move(entries);
  return true;
}

}  // namespace onionsplit::daemon
