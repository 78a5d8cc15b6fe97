// common/daemon/config_file.h: reading the torrc from disk (I/O): the real file system behind
// common/config/include.h's FileSource, and loadConfigFile, which every daemon and the launcher
// use so they agree on what the file means.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/config/include.h"

namespace onionsplit::daemon {

class DiskFileSource final : public config::FileSource {
 public:
  Kind kind(const std::string& path) const override;
  Expected<std::string, std::string> readFile(const std::string& path) const override;
  Expected<std::vector<std::string>, std::string> listDirectory(
      const std::string& path) const override;
};

// Builds the Config from `entries` and checks every ExitPolicy item and the effective exit policy,
// as loadConfigFile does after reading a file (SETCONF's entries are checked so; `name` names them
// in errors). On failure returns false with every problem in `errors`, one line each.
bool buildCheckedConfig(const std::vector<config::TorrcEntry>& entries, const std::string& name,
                        config::BuildResult& out, std::vector<std::string>& errors);

// Reads `path` (with its %includes), builds the Config and checks every ExitPolicy item and the
// effective exit policy with streamd's parser. On failure returns false with every problem in
// `errors`, one line each, with file and line where there is one.
// With `entries`, also the file's entries (%includes expanded) the Config was built from: what the
// launcher writes for its daemons (common/config/reload.h, renderTorrc).
bool loadConfigFile(const std::string& path, config::BuildResult& out,
                    std::vector<std::string>& errors,
                    std::vector<config::TorrcEntry>* entries = nullptr);

// Where the launcher's configuration comes from, as C tor's command line gives it: the torrc
// (-f), a defaults torrc under it (--defaults-torrc; "" for none) and options given on the
// command line over both (--Key value; config::layerTorrc).
struct ConfigSources {
  std::string torrc;
  std::string defaults;
  std::vector<config::TorrcEntry> commandLine;
};

// loadConfigFile over the layers of `sources`.
bool loadConfigSources(const ConfigSources& sources, config::BuildResult& out,
                       std::vector<std::string>& errors,
                       std::vector<config::TorrcEntry>* entries = nullptr);

}  // namespace onionsplit::daemon
