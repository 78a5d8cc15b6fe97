// bench/support/result.cc
#include "bench/support/result.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>

namespace onionsplit::bench {
namespace {

// Records, per benchmark name, nanoseconds per item and items per second of the (mean) run.
class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  struct Figures {
    double nsPerItem = 0;
    double itemsPerSecond = 0;
  };

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      Figures f;
      auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) f.itemsPerSecond = it->second.value;
      double ns = r.GetAdjustedRealTime() * 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
      f.nsPerItem = ns;
      if (f.itemsPerSecond > 0) f.nsPerItem = 1e9 / f.itemsPerSecond;
      figures[r.run_name.str()] = f;
    }
  }

  std::map<std::string, Figures> figures;
};

}  // namespace

int runAndReport(int argc, char** argv, const std::vector<ResultSpec>& specs) {
  benchmark::Initialize(&argc, argv);
  CapturingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  int rc = 0;
  for (const ResultSpec& s : specs) {
    auto a = reporter.figures.find(s.subject);
    auto b = reporter.figures.find(s.baseline);
    if (a == reporter.figures.end() || b == reporter.figures.end()) {
      std::fprintf(stderr, "bench: %s: benchmark %s or %s did not run\n", s.name.c_str(),
                   s.subject.c_str(), s.baseline.c_str());
      rc = 1;
      continue;
    }
    double v = s.metric == Metric::kTimePerItem ? a->second.nsPerItem : a->second.itemsPerSecond;
    double base = s.metric == Metric::kTimePerItem ? b->second.nsPerItem : b->second.itemsPerSecond;
    std::printf("RESULT %s value=%.4g %s baseline=%.4g ratio=%.3f\n", s.name.c_str(), v,
                s.unit.c_str(), base, base > 0 ? v / base : 0.0);
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace onionsplit::bench
