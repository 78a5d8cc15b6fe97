// channeld/net/consensus_cache.cc: see consensus_cache.h.
#include "channeld/net/consensus_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/dirdoc/key_cert.h"

namespace onionsplit::channeld {
namespace {

int openCacheFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    spdlog::info("consensus cache: cannot open {} ({}); running without a cache", path,
                 std::strerror(errno));
    return -1;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    spdlog::warn("consensus cache: {} is not a regular file; running without a cache", path);
    close(fd);
    return -1;
  }
  return fd;
}

// The whole file, when it is not empty and at most `max` bytes long.
std::optional<std::string> readAll(int fd, size_t max) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || static_cast<uint64_t>(st.st_size) > max)
    return std::nullopt;
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // shorter than it said: being written, or an error
    got += static_cast<size_t>(n);
  }
  return text;
}

bool writeAll(int fd, std::string_view text) {
  if (ftruncate(fd, 0) != 0) return false;
  size_t put = 0;
  while (put < text.size()) {
    ssize_t n = pwrite(fd, text.data() + put, text.size() - put, static_cast<off_t>(put));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    put += static_cast<size_t>(n);
  }
  return fdatasync(fd) == 0;
}

}  // namespace

ConsensusCache::ConsensusCache(const std::string& dataDirectory) {
  certsFd_ = openCacheFile(dataDirectory + "/cached-certs");
  consensusFd_ = openCacheFile(dataDirectory + "/cached-consensus");
}

ConsensusCache::~ConsensusCache() {
  if (certsFd_ >= 0) close(certsFd_);
  if (consensusFd_ >= 0) close(consensusFd_);
}

std::optional<CachedDocuments> ConsensusCache::load() const {
  if (!usable()) return std::nullopt;
  auto certs = readAll(certsFd_, dirdoc::kMaxCertsBytes);
  auto consensus = readAll(consensusFd_, kMaxConsensusBytes);
  if (!certs || !consensus) return std::nullopt;
  return CachedDocuments{std::move(*certs), std::move(*consensus)};
}

bool ConsensusCache::store(std::string_view certs, std::string_view consensus) {
  if (!usable()) return false;
  if (certs.size() > dirdoc::kMaxCertsBytes || consensus.size() > kMaxConsensusBytes) return false;
  if (writeAll(certsFd_, certs) && writeAll(consensusFd_, consensus)) return true;
  spdlog::warn("consensus cache: writing it failed ({}); the next good consensus tries again",
               std::strerror(errno));
  return false;
}

}  // namespace onionsplit::channeld
