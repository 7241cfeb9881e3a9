// What progress displays are fed besides starts and ends: the bytes a running task reports
// through its context, throttled, to every Status of a run, with the task's index.
#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "flavourgraph/executor.h"

using namespace flavourgraph;

namespace {

/// Records progress events; several threads may call it.
class ProgressRecorder : public Status {
 public:
  struct Event {
    uint32_t index;
    uint64_t done, total;
  };
  std::mutex m;
  std::vector<Event> events;
  std::map<uint32_t, std::string> names;
  void task_started(const TaskEvent& e) override {
    std::lock_guard l(m);
    names[e.index] = std::string(e.name);
  }
  void task_progress(uint32_t index, uint64_t done, uint64_t total) override {
    std::lock_guard l(m);
    events.push_back({index, done, total});
  }
};

}  // namespace

TEST_CASE("task progress: throttled in the context, passed on with the task's index by the executor") {
  ExecGraph g;
  for (int i = 0; i < 3; ++i) {
    ExecTask t;
    t.id = "layer:" + std::to_string(i);
    t.kind = "layer";
    t.name = "layer number " + std::to_string(i);
    g.tasks.push_back(t);
  }
  g.tasks[2].name.clear();  // a task without a name shows its id
  constexpr uint64_t kTotal = 10u << 20;
  struct Runner : TaskRunner {
    TaskOutcome run(uint32_t index, TaskContext& ctx) override {
      if (index == 1) return {};  // reports nothing
      for (uint64_t done = 0; done <= kTotal; done += 4096) ctx.progress(done, kTotal);  // every 4 KiB
      ctx.progress(1000, 2000);  // another blob: a new total is always heard of
      ctx.progress(1000, 2000);  // the same again is not
      return {};
    }
  } runner;
  ProgressRecorder a, b;
  MultiStatus both;
  both.add(&a);
  both.add(&b);
  CancelSource cancel;
  ExecOptions opts;
  opts.jobs = 2;
  RunResult r = execute(g, runner, both, opts, cancel);
  REQUIRE(r.all_succeeded());
  CHECK(a.names[0] == "layer number 0");
  CHECK(a.names[2] == "layer:2");
  for (ProgressRecorder* rec : {&a, &b}) {
    std::map<uint32_t, std::vector<ProgressRecorder::Event>> by_task;
    for (const auto& e : rec->events) by_task[e.index].push_back(e);
    CHECK(by_task.count(1) == 0);
    for (uint32_t i : {0u, 2u}) {
      const auto& ev = by_task[i];
      // 2561 calls: the first, one per 256 KiB step, the last (done == total), and the new blob.
      REQUIRE(ev.size() == 1 + kTotal / TaskContext::kProgressStep + 1);
      CHECK(ev.front().done == 0);
      for (size_t k = 1; k + 1 < ev.size(); ++k) {
        CHECK(ev[k].done - ev[k - 1].done == TaskContext::kProgressStep);
        CHECK(ev[k].total == kTotal);
      }
      CHECK(ev[ev.size() - 2].done == kTotal);
      CHECK(ev.back().done == 1000);
      CHECK(ev.back().total == 2000);
    }
  }
}
