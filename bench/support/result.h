// bench/support/result.h: runs the registered Google Benchmarks and prints the RESULT lines.
//
// Each RESULT compares two benchmarks of the same run: the subject and its baseline. With
// Metric::kTimePerItem the value is nanoseconds per item (lower is better, so a ratio of 1.3 means
// 30% slower than the baseline); with Metric::kItemsPerSecond it is a rate (higher is better).
#pragma once

#include <string>
#include <vector>

namespace onionsplit::bench {

enum class Metric { kTimePerItem, kItemsPerSecond };

struct ResultSpec {
  std::string name;      // the RESULT's name
  std::string subject;   // benchmark name (as registered, with arguments) measured
  std::string baseline;  // benchmark name used as the baseline
  Metric metric = Metric::kTimePerItem;
  std::string unit;  // printed after value=, e.g. "ns/cell" or "handshakes/s"
};

// Runs every registered benchmark (honouring --benchmark_* flags) and prints one RESULT line per
// spec, in order; returns a process exit code (non-zero if a named benchmark did not run).
int runAndReport(int argc, char** argv, const std::vector<ResultSpec>& specs);

}  // namespace onionsplit::bench
