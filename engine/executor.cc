// The flow-graph executor: Plan edges become flow-graph edges; the executor owns the policy.
#include "flavourgraph/executor.h"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>

namespace flavourgraph {

std::string_view state_name(TaskState s) {
  switch (s) {
    case TaskState::pending: return "pending";
    case TaskState::running: return "running";
    case TaskState::done: return "done";
    case TaskState::cached: return "cached";
    case TaskState::failed: return "failed";
    case TaskState::skipped: return "skipped";
    case TaskState::cancelled: return "cancelled";
  }
  return "?";
}

std::string_view pool_name(Pool p) { return p == Pool::io ? "io" : "cpu"; }

void TaskContext::progress(uint64_t done, uint64_t total) {
  if (!status_) return;
  std::lock_guard lock(progress_mutex_);
  if (reported_ && done == last_done_ && total == last_total_) return;
  bool due = !reported_ || total != last_total_ || done < last_done_ || done - last_done_ >= kProgressStep ||
             (total != 0 && done >= total);
  if (!due) return;
  reported_ = true;
  last_done_ = done;
  last_total_ = total;
  status_->task_progress(index_, done, total);
}

size_t RunResult::count(TaskState s) const {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(),
                                           [&](const TaskRecord& r) { return r.state == s; }));
}

bool RunResult::all_succeeded() const {
  return std::all_of(records.begin(), records.end(), [](const TaskRecord& r) {
    return r.state == TaskState::done || r.state == TaskState::cached;
  });
}

namespace {

using Clock = std::chrono::steady_clock;

/// Threads for I/O tasks. Jobs wait in a priority queue (critical path first, then FIFO).
class IoPool {
 public:
  using Job = std::function<void(int worker)>;

  explicit IoPool(unsigned width) {
    for (unsigned i = 0; i < width; ++i) threads_.emplace_back([this, i] { loop(static_cast<int>(i)); });
  }

  ~IoPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void submit(uint32_t priority, Job job) {
    {
      std::lock_guard lock(mutex_);
      queue_.push({priority, seq_++, std::move(job)});
    }
    cv_.notify_one();
  }

 private:
  struct Item {
    uint32_t priority;
    uint64_t seq;
    Job job;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const {
      return a.priority != b.priority ? a.priority < b.priority : a.seq > b.seq;
    }
  };

  void loop(int worker) {
    while (true) {
      Item item;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left
        item = std::move(const_cast<Item&>(queue_.top()));
        queue_.pop();
      }
      item.job(worker);
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, Later> queue_;
  uint64_t seq_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

/// Priorities among ready tasks, highest first. A task that unlocks work for the other pool
/// comes first (a tag feeds the I/O threads a push; a push or base-pull feeds the CPU), so that
/// neither pool idles while the other holds its inputs back; then the task with the heaviest
/// chain after it (its bottom level, critical path first). 0 is TBB's "no priority".
std::vector<uint32_t> priorities(const ExecGraph& g, const std::vector<std::vector<uint32_t>>& dependents,
                                 const std::vector<uint32_t>& topo) {
  size_t n = g.tasks.size();
  std::vector<std::pair<bool, double>> key(n, {false, 0.0});
  for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
    uint32_t i = *it;
    double best = 0;
    bool feeds_other = false;
    for (uint32_t d : dependents[i]) {
      best = std::max(best, key[d].second);
      feeds_other |= g.tasks[d].pool != g.tasks[i].pool;
    }
    key[i] = {feeds_other, g.tasks[i].weight + best};
  }
  auto sorted = key;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<uint32_t> prio(n);
  for (size_t i = 0; i < n; ++i)
    prio[i] = 1 + static_cast<uint32_t>(std::lower_bound(sorted.begin(), sorted.end(), key[i]) - sorted.begin());
  return prio;
}

/// Kahn's algorithm over deduplicated dependency lists; throws on a cycle (a plan bug, never
/// user input).
std::vector<uint32_t> topological_order(const std::vector<std::vector<uint32_t>>& deps,
                                        const std::vector<std::vector<uint32_t>>& dependents) {
  size_t n = deps.size();
  std::vector<uint32_t> indeg(n, 0), order;
  order.reserve(n);
  for (size_t i = 0; i < n; ++i) indeg[i] = static_cast<uint32_t>(deps[i].size());
  for (size_t i = 0; i < n; ++i)
    if (indeg[i] == 0) order.push_back(static_cast<uint32_t>(i));
  for (size_t k = 0; k < order.size(); ++k)
    for (uint32_t d : dependents[order[k]])
      if (--indeg[d] == 0) order.push_back(d);
  if (order.size() != n) throw std::logic_error("executor: the task graph has a cycle");
  return order;
}

class Run {
 public:
  Run(const ExecGraph& g, TaskRunner& runner, Status& status, const ExecOptions& opts,
      const CancelSource& cancel, unsigned cpu_width)
      : g_(g), runner_(runner), status_(status), opts_(opts), cancel_(cancel), cpu_width_(cpu_width),
        states_(g.tasks.size()), records_(g.tasks.size()) {
    for (auto& s : states_) s.store(static_cast<uint8_t>(TaskState::pending), std::memory_order_relaxed);
  }

  RunResult go() {
    size_t n = g_.tasks.size();
    // Deduplicated dependency lists and the reverse edges.
    deps_.resize(n);
    std::vector<std::vector<uint32_t>> dependents(n);
    for (size_t i = 0; i < n; ++i) {
      deps_[i] = g_.tasks[i].deps;
      deps_[i].insert(deps_[i].end(), g_.tasks[i].after.begin(), g_.tasks[i].after.end());
      std::sort(deps_[i].begin(), deps_[i].end());
      deps_[i].erase(std::unique(deps_[i].begin(), deps_[i].end()), deps_[i].end());
      for (uint32_t d : deps_[i]) {
        if (d >= n || d == i) throw std::logic_error("executor: bad dependency of " + g_.tasks[i].id);
        dependents[d].push_back(static_cast<uint32_t>(i));
      }
    }
    auto topo = topological_order(deps_, dependents);
    auto prio = priorities(g_, dependents, topo);

    status_.run_started(n, cpu_width_, opts_.io_jobs);
    t0_ = Clock::now();
    if (n > 0) {
      IoPool io(opts_.io_jobs);
      io_ = &io;
      tbb::task_arena arena(static_cast<int>(cpu_width_));
      arena.execute([&] { run_graph(prio); });
      io_ = nullptr;
    }
    RunResult result;
    result.wall = seconds_since_start();
    result.records = std::move(records_);
    result.cpu_width = cpu_width_;
    result.io_width = opts_.io_jobs;
    result.interrupted = cancel_.requested();
    status_.run_finished(result.wall);
    return result;
  }

 private:
  using Msg = tbb::flow::continue_msg;
  using CpuNode = tbb::flow::continue_node<Msg>;
  using IoNode = tbb::flow::async_node<Msg, Msg>;

  void run_graph(const std::vector<uint32_t>& prio) {
    size_t n = g_.tasks.size();
    // Dispatching an I/O task only hands it to an I/O thread: it gets the highest priority so
    // that a free worker does it before any CPU task, and I/O tasks keep their own order in
    // the I/O pool's queue.
    const uint32_t top = prio.empty() ? 1 : *std::max_element(prio.begin(), prio.end()) + 1;
    auto tbb_priority = [&](uint32_t p) {
      return opts_.prioritize ? static_cast<tbb::flow::node_priority_t>(p) : tbb::flow::no_priority;
    };
    tbb::flow::graph graph;
    tbb::flow::broadcast_node<Msg> start(graph);
    std::deque<CpuNode> cpu_nodes, gates;
    std::deque<IoNode> io_nodes;
    std::vector<tbb::flow::sender<Msg>*> out(n);
    std::vector<tbb::flow::receiver<Msg>*> in(n);
    std::vector<IoNode*> io_roots;
    for (uint32_t i = 0; i < n; ++i) {
      if (g_.tasks[i].pool == Pool::cpu) {
        auto& node = cpu_nodes.emplace_back(
            graph,
            [this, i](const Msg&) {
              run_cpu(i);
              return Msg();
            },
            tbb_priority(prio[i]));
        in[i] = &node;
        out[i] = &node;
      } else {
        uint32_t p = prio[i];
        auto& node = io_nodes.emplace_back(
            graph, tbb::flow::unlimited,
            [this, i, p](const Msg&, IoNode::gateway_type& gw) { dispatch_io(i, p, gw); },
            tbb_priority(top));
        // Edges must leave from the output port: through a plain sender reference, an
        // async_node's successors are not registered.
        out[i] = &tbb::flow::output_port<0>(node);
        in[i] = &node;
        if (deps_[i].empty()) io_roots.push_back(&node);
        if (deps_[i].size() > 1) {  // an async_node fires per message: join the deps first
          auto& gate = gates.emplace_back(graph, [](const Msg&) { return Msg(); }, tbb_priority(top));
          tbb::flow::make_edge(gate, node);
          in[i] = &gate;
        }
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      if (deps_[i].empty()) {
        if (g_.tasks[i].pool == Pool::cpu) tbb::flow::make_edge(start, *in[i]);
      } else {
        for (uint32_t d : deps_[i]) tbb::flow::make_edge(*out[d], *in[i]);
      }
    }
    // Root I/O tasks go to the I/O threads at once, before any CPU task takes a worker.
    for (uint32_t i = 0, k = 0; i < n; ++i)
      if (g_.tasks[i].pool == Pool::io && deps_[i].empty()) dispatch_io(i, prio[i], io_roots[k++]->gateway());
    start.try_put(Msg());
    graph.wait_for_all();
  }

  [[nodiscard]] double seconds_since_start() const {
    return std::chrono::duration<double>(Clock::now() - t0_).count();
  }

  TaskState state(uint32_t i) const { return static_cast<TaskState>(states_[i].load(std::memory_order_acquire)); }

  /// The fate of a task whose dependencies have all ended: run it (pending), or not.
  TaskState decide(uint32_t i) const {
    bool dep_cancelled = false;
    for (uint32_t d : g_.tasks[i].deps) {  // an `after` task's failure does not skip this one
      TaskState s = state(d);
      if (s == TaskState::failed || s == TaskState::skipped) return TaskState::skipped;
    }
    for (uint32_t d : deps_[i])
      if (state(d) == TaskState::cancelled) dep_cancelled = true;
    if (dep_cancelled || !may_start()) return TaskState::cancelled;
    return TaskState::pending;
  }

  [[nodiscard]] bool may_start() const {
    return !cancel_.requested() && !stop_.load(std::memory_order_acquire);
  }

  TaskEvent event(uint32_t i, TaskState s) const {
    const TaskRecord& r = records_[i];
    TaskEvent e;
    e.index = i;
    e.id = g_.tasks[i].id;
    e.name = g_.tasks[i].name.empty() ? std::string_view(g_.tasks[i].id) : std::string_view(g_.tasks[i].name);
    e.kind = g_.tasks[i].kind;
    e.pool = g_.tasks[i].pool;
    e.state = s;
    e.lane = r.lane;
    e.error = r.error;
    e.bytes_in = r.bytes_in;
    e.bytes_out = r.bytes_out;
    return e;
  }

  /// Records a task that ends without running (skipped or cancelled).
  void end_unrun(uint32_t i, TaskState s) {
    TaskRecord& r = records_[i];
    r.state = s;
    r.start = r.end = seconds_since_start();  // decided now; it never ran (lane -1)
    if (s == TaskState::skipped) {
      for (uint32_t d : g_.tasks[i].deps)
        if (state(d) == TaskState::failed || state(d) == TaskState::skipped) {
          r.error = "dependency " + g_.tasks[d].id + " " + std::string(state_name(state(d)));
          break;
        }
    }
    states_[i].store(static_cast<uint8_t>(s), std::memory_order_release);
    TaskEvent e = event(i, s);
    e.time = r.end;
    status_.task_finished(e);
  }

  void execute_task(uint32_t i, int lane) {
    TaskRecord& r = records_[i];
    r.lane = lane;
    r.start = seconds_since_start();
    states_[i].store(static_cast<uint8_t>(TaskState::running), std::memory_order_release);
    TaskEvent started = event(i, TaskState::running);
    started.time = r.start;
    status_.task_started(started);

    TaskContext ctx(cancel_, &status_, i);
    TaskOutcome out;
    try {
      out = runner_.run(i, ctx);
    } catch (const std::exception& e) {
      out = TaskOutcome::fail(e.what());
    } catch (...) {
      out = TaskOutcome::fail("unknown error");
    }
    if (out.state != TaskState::done && out.state != TaskState::cached &&
        out.state != TaskState::failed && out.state != TaskState::cancelled)
      out = TaskOutcome::fail("task reported state " + std::string(state_name(out.state)));
    if (out.state == TaskState::failed && out.error.empty()) out.error = "failed";
    // A task that stopped because the run was interrupted was cancelled, not failed.
    if (out.state == TaskState::failed && cancel_.requested()) out.state = TaskState::cancelled;
    r.end = seconds_since_start();
    r.bytes_in = ctx.bytes_in();
    r.bytes_out = ctx.bytes_out();
    r.state = out.state;
    r.error = std::move(out.error);
    r.output = std::move(out.output);
    r.reason = std::move(out.reason);
    r.warnings = ctx.take_warnings();
    for (const auto& w : r.warnings) status_.message(Level::warning, g_.tasks[i].id + ": " + w);
    if (r.state == TaskState::failed && !opts_.keep_going) stop_.store(true, std::memory_order_release);
    states_[i].store(static_cast<uint8_t>(r.state), std::memory_order_release);
    TaskEvent finished = event(i, r.state);
    finished.time = r.end;
    finished.elapsed = r.end - r.start;
    status_.task_finished(finished);
  }

  void run_cpu(uint32_t i) {
    try {
      TaskState fate = decide(i);
      if (fate != TaskState::pending) return end_unrun(i, fate);
      execute_task(i, tbb::this_task_arena::current_thread_index());
    } catch (...) {
      contain(i);
    }
  }

  /// Something outside the task body threw (a status printer, an allocation): the task still
  /// ends, as failed, and the graph goes on.
  void contain(uint32_t i) noexcept {
    try {
      TaskState s = state(i);
      if (s == TaskState::pending || s == TaskState::running) {
        records_[i].state = TaskState::failed;
        records_[i].error = "internal error while running the task";
        if (!opts_.keep_going) stop_.store(true, std::memory_order_release);
        states_[i].store(static_cast<uint8_t>(TaskState::failed), std::memory_order_release);
      }
    } catch (...) {
    }
  }

  void dispatch_io(uint32_t i, uint32_t priority, IoNode::gateway_type& gw) {
    TaskState fate = TaskState::failed;
    try {
      fate = decide(i);
      if (fate != TaskState::pending) end_unrun(i, fate);
    } catch (...) {
      contain(i);
    }
    if (fate != TaskState::pending) {
      gw.try_put(Msg());
      return;
    }
    gw.reserve_wait();
    io_->submit(priority, [this, i, &gw](int worker) {
      try {
        // Fail-fast or cancellation may have come while the job waited for a thread.
        if (!may_start())
          end_unrun(i, TaskState::cancelled);
        else
          execute_task(i, static_cast<int>(cpu_width_) + worker);
      } catch (...) {
        contain(i);
      }
      gw.try_put(Msg());  // whatever happened, the successors hear of it and the graph can end
      gw.release_wait();
    });
  }

  const ExecGraph& g_;
  TaskRunner& runner_;
  Status& status_;
  const ExecOptions& opts_;
  const CancelSource& cancel_;
  unsigned cpu_width_;
  std::vector<std::atomic<uint8_t>> states_;
  std::vector<TaskRecord> records_;
  std::vector<std::vector<uint32_t>> deps_;
  std::atomic<bool> stop_{false};
  Clock::time_point t0_;
  IoPool* io_ = nullptr;
};

}  // namespace

RunResult execute(const ExecGraph& graph, TaskRunner& runner, Status& status,
                  const ExecOptions& options, const CancelSource& cancel) {
  ExecOptions opts = options;
  unsigned hw = static_cast<unsigned>(std::max(1, tbb::info::default_concurrency()));
  unsigned cpu = opts.jobs ? opts.jobs : hw;
  if (opts.io_jobs == 0) opts.io_jobs = 1;
  // Allow TBB more threads than cores when asked for (-j above the core count).
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, std::max(cpu, hw));
  Run run(graph, runner, status, opts, cancel, cpu);
  return run.go();
}

double makespan_lower_bound(const ExecGraph& graph, const std::vector<double>& durations,
                            unsigned cpu_width, unsigned io_width) {
  size_t n = graph.tasks.size();
  std::vector<std::vector<uint32_t>> deps(n), dependents(n);
  for (size_t i = 0; i < n; ++i) {
    deps[i] = graph.tasks[i].deps;
    deps[i].insert(deps[i].end(), graph.tasks[i].after.begin(), graph.tasks[i].after.end());
    std::sort(deps[i].begin(), deps[i].end());
    deps[i].erase(std::unique(deps[i].begin(), deps[i].end()), deps[i].end());
    for (uint32_t d : deps[i]) dependents[d].push_back(static_cast<uint32_t>(i));
  }
  auto topo = topological_order(deps, dependents);
  std::vector<double> finish(n, 0);
  double path = 0, cpu = 0, io = 0;
  for (uint32_t i : topo) {
    double start = 0;
    for (uint32_t d : deps[i]) start = std::max(start, finish[d]);
    finish[i] = start + durations[i];
    path = std::max(path, finish[i]);
    (graph.tasks[i].pool == Pool::io ? io : cpu) += durations[i];
  }
  return std::max({path, cpu / std::max(1u, cpu_width), io / std::max(1u, io_width)});
}

}  // namespace flavourgraph
