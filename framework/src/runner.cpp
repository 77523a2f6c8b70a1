// Sweep execution. In-process runs call the body directly; parallel runs fork/exec
// `bcfeat run-one DIR` so that a crash or a CUDA context of one run cannot touch another,
// and so that the same command runs one point under Slurm or by hand. Children die with
// the parent (PR_SET_PDEATHSIG), so a killed sweep leaves no stray writers behind.
#include "bcfeat/framework/runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/provenance.h"
#include "bcfeat/framework/slurm.h"

namespace bcfeat {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
  const long total = static_cast<long>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}h{:02d}m", total / 3600, (total / 60) % 60);
  return fmt::format("{}:{:02d}", total / 60, total % 60);
}

// A live bar on a terminal; one line at most every 10 s (and at the end) otherwise.
class Progress {
 public:
  Progress(size_t total, size_t already_done) : total_(total), done_(already_done), first_done_(already_done) {
    interactive_ = isatty(STDERR_FILENO) != 0;
  }
  void finished(bool ok) {
    ++done_;
    if (!ok) ++failed_;
    draw(done_ == total_);
  }
  void draw(bool final_line) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const size_t run_here = done_ - first_done_;
    const size_t remaining = total_ - done_;
    const std::string eta = run_here ? format_duration(elapsed / run_here * remaining) : "?";
    const std::string counts = fmt::format("{}/{} runs, {} failed, elapsed {}, eta {}", done_, total_, failed_,
                                           format_duration(elapsed), eta);
    if (interactive_) {
      constexpr int kWidth = 30;
      const int filled = total_ ? static_cast<int>(kWidth * done_ / total_) : kWidth;
      fmt::print(stderr, "\r[{}{}] {}\033[K{}", std::string(filled, '#'), std::string(kWidth - filled, '.'), counts,
                 final_line ? "\n" : "");
      std::fflush(stderr);
    } else if (final_line || elapsed - last_line_ >= 10.0) {
      fmt::print(stderr, "progress: {}\n", counts);
      last_line_ = elapsed;
    }
  }

 private:
  size_t total_, done_, first_done_, failed_ = 0;
  bool interactive_ = false;
  double last_line_ = -1e9;
  Clock::time_point start_ = Clock::now();
};

nlohmann::json failure_record(const std::string& run_id, const std::string& error) {
  return {{"run_id", run_id}, {"status", "failed"}, {"error", error}, {"provenance", provenance_snapshot()}};
}

}  // namespace

std::string config_to_text(const YAML::Node& config) {
  YAML::Emitter out;
  out << config;
  return std::string(out.c_str()) + "\n";
}

bool execute_run(const std::string& run_dir, const YAML::Node& config, const RunBody& body) {
  const std::string run_id = fs::path(run_dir).filename().string();
  std::ofstream log((fs::path(run_dir) / "log.txt").string(), std::ios::app);
  log << "=== run " << run_id << " started " << iso_time_now() << " (pid " << getpid() << ")\n";
  log.flush();

  nlohmann::json record;
  const std::string started = iso_time_now();
  const auto start = Clock::now();
  bool ok = false;
  try {
    RunContext context{run_dir, run_id, log};
    nlohmann::json metrics = body(config, context);
    record = {{"run_id", run_id}, {"status", "ok"}, {"metrics", std::move(metrics)}};
    ok = true;
  } catch (const std::exception& e) {
    record = failure_record(run_id, e.what());
    log << "error: " << e.what() << "\n";
  }
  nlohmann::json provenance = provenance_snapshot();
  provenance["seed"] = config["seed"] ? yaml_to_json(config["seed"]) : nlohmann::json(nullptr);
  provenance["start_time"] = started;
  provenance["end_time"] = iso_time_now();
  provenance["wall_s"] = std::chrono::duration<double>(Clock::now() - start).count();
  record["provenance"] = provenance;
  write_file_atomic((fs::path(run_dir) / "metrics.json").string(), record.dump(2) + "\n");
  log << "=== run " << run_id << (ok ? " finished" : " failed") << " " << iso_time_now() << "\n";
  return ok;
}

namespace {

// An exclusive lock on <output>/.lock for as long as a launcher works on the directory, so two
// `bcfeat run` on one output cannot run (and record) the same runs twice. The kernel drops it
// when the process ends, however it ends.
class OutputLock {
 public:
  explicit OutputLock(const std::string& output_dir) {
    make_directories(output_dir);
    const std::string path = (fs::path(output_dir) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw StorageError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw_input_error("output directory '{}' is in use by another bcfeat run; wait for it to finish or choose "
                        "another --output",
                        output_dir);
    }
  }
  ~OutputLock() { ::close(fd_); }
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  int fd_ = -1;
};

// Records of every run (complete ones with their metrics) and the indices still to run.
// Pending runs get their config.yaml; a stale failure record from an earlier attempt is
// dropped so that only the next attempt's outcome counts.
// Runs in `in_flight` (queued or running elsewhere) are recorded but neither touched nor pending.
std::vector<size_t> prepare_runs(const std::vector<PlannedRun>& runs, const std::string& output_dir,
                                 std::vector<SummaryRecord>& records, const std::set<std::string>& in_flight = {}) {
  std::vector<size_t> pending;
  for (size_t i = 0; i < runs.size(); ++i) {
    records.push_back({runs[i].run_id, runs[i].swept, nullptr});
    if (in_flight.count(runs[i].run_id)) continue;
    if (run_is_complete(runs[i].dir)) {
      records[i].metrics_file = *read_json_file((fs::path(runs[i].dir) / "metrics.json").string());
    } else {
      pending.push_back(i);
    }
  }
  make_directories(output_dir);
  const size_t complete = runs.size() - pending.size() - in_flight.size();
  if (complete > 0) {
    fmt::print(stderr, "{} of {} runs already complete in {}; running {}\n", complete, runs.size(), output_dir,
               pending.size());
  }
  for (size_t i : pending) {
    write_file_atomic((fs::path(runs[i].dir) / "config.yaml").string(), config_to_text(runs[i].config));
    fs::remove(fs::path(runs[i].dir) / "metrics.json");
  }
  write_summary(output_dir, records);
  return pending;
}

}  // namespace

std::string launch_slurm(const std::vector<PlannedRun>& runs, const std::string& output_dir, const LaunchOptions& options,
                         const SlurmOptions& slurm) {
  const OutputLock lock(output_dir);
  // Runs an earlier submission still holds (queued or running) are not submitted again.
  std::set<std::string> planned;
  for (const auto& run : runs) planned.insert(run.run_id);
  std::set<std::string> in_flight;
  std::set<std::string> holding_jobs;
  for (const auto& [run_id, task] : slurm_task_states(output_dir)) {
    if (!planned.count(run_id) || !slurm_in_flight(task.state)) continue;
    in_flight.insert(run_id);
    holding_jobs.insert(task.job_id);
  }
  if (!in_flight.empty()) {
    fmt::print(stderr, "{} runs are still queued or running under Slurm job {}; not submitted again\n",
               in_flight.size(), fmt::join(holding_jobs, ", "));
  }
  std::vector<SummaryRecord> records;
  const std::vector<size_t> pending = prepare_runs(runs, output_dir, records, in_flight);
  const fs::path slurm_dir = fs::absolute(fs::path(output_dir) / "slurm");
  const std::string script_path = (slurm_dir / "array.sbatch").string();
  if (pending.empty()) {
    fmt::print(stderr, "{}; nothing to submit\n", in_flight.empty() ? "every run is complete" : "no other run is left");
    return script_path;
  }
  // The script carries its own run list: Slurm keeps a copy of the script per job, so a later
  // submission (which rewrites array.sbatch) cannot change what an earlier job's tasks run.
  std::string list;
  std::string array;
  std::vector<std::string> run_ids;
  for (size_t i : pending) {
    const std::string dir = fs::absolute(runs[i].dir).string();
    if (dir.find('\'') != std::string::npos || dir.find('\n') != std::string::npos) {
      throw_input_error("the run directory '{}' contains a quote or newline; choose another --output", dir);
    }
    list += dir + "\n";
    array += "  '" + dir + "'\n";
    run_ids.push_back(runs[i].run_id);
  }
  write_file_atomic((slurm_dir / "runs.txt").string(), list);
  std::string script = "#!/bin/bash\n";
  script += fmt::format("#SBATCH --job-name=bcfeat-{}\n", fs::path(output_dir).filename().string());
  script += fmt::format("#SBATCH --array=0-{}{}\n", pending.size() - 1,
                        slurm.max_concurrent > 0 ? fmt::format("%{}", slurm.max_concurrent) : "");
  script += fmt::format("#SBATCH --output={}/%A_%a.out\n", slurm_dir.string());
  for (const auto& option : slurm.sbatch_options) script += "#SBATCH " + option + "\n";
  script += "# One sweep point per array task; each run writes its own config.yaml/metrics.json/log.txt.\n";
  script += "runs=(\n" + array + ")\n";
  script += fmt::format("exec '{}' run-one \"${{runs[$SLURM_ARRAY_TASK_ID]}}\"\n", options.self_executable);
  write_file_atomic(script_path, script);
  ::chmod(script_path.c_str(), 0755);
  const bool have_sbatch = std::system("command -v sbatch >/dev/null 2>&1") == 0;
  if (slurm.submit && have_sbatch) {
    const std::string job_id = submit_slurm_array(output_dir, script_path, run_ids);
    fmt::print(stderr, "submitted Slurm array job {} ({} tasks)\n", job_id, run_ids.size());
  } else {
    fmt::print(stderr, "{} runs prepared; submit with: sbatch {}\n", pending.size(), script_path);
  }
  return script_path;
}

int launch_sweep(const std::vector<PlannedRun>& runs, const std::string& output_dir, const LaunchOptions& options,
                 const RunBody& body) {
  const OutputLock lock(output_dir);
  std::vector<SummaryRecord> records;
  const std::vector<size_t> pending = prepare_runs(runs, output_dir, records);

  Progress progress(runs.size(), runs.size() - pending.size());
  int failed = 0;
  auto finish = [&](size_t i) {
    const auto file = read_json_file((fs::path(runs[i].dir) / "metrics.json").string());
    records[i].metrics_file = file ? *file : nlohmann::json(nullptr);
    const bool ok = run_is_complete(runs[i].dir);
    if (!ok) ++failed;
    write_summary(output_dir, records);
    progress.finished(ok);
  };

  if (options.jobs <= 1) {
    if (!options.gpus.empty()) setenv("CUDA_VISIBLE_DEVICES", options.gpus.front().c_str(), 1);
    for (size_t i : pending) {
      execute_run(runs[i].dir, runs[i].config, body);
      finish(i);
    }
    return failed;
  }

  // Worker processes: at most `jobs` at once; slot s uses GPU gpus[s % gpus.size()].
  std::map<pid_t, std::pair<size_t, int>> active;  // pid -> (run index, slot)
  std::vector<bool> slot_busy(options.jobs, false);
  size_t next = 0;
  while (next < pending.size() || !active.empty()) {
    while (next < pending.size() && static_cast<int>(active.size()) < options.jobs) {
      int slot = 0;
      while (slot_busy[slot]) ++slot;
      const size_t i = pending[next++];
      const std::string log_path = (fs::path(runs[i].dir) / "log.txt").string();
      const pid_t parent = getpid();
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        if (!options.gpus.empty()) {
          setenv("CUDA_VISIBLE_DEVICES", options.gpus[slot % options.gpus.size()].c_str(), 1);
        }
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
          dup2(fd, STDOUT_FILENO);
          dup2(fd, STDERR_FILENO);
          ::close(fd);
        }
        execl(options.self_executable.c_str(), options.self_executable.c_str(), "run-one", runs[i].dir.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
      }
      slot_busy[slot] = true;
      active[pid] = {i, slot};
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("waitpid failed");
    }
    auto it = active.find(pid);
    if (it == active.end()) continue;
    const auto [i, slot] = it->second;
    active.erase(it);
    slot_busy[slot] = false;
    // A child that died without writing metrics.json (crash, OOM kill) is recorded here.
    const auto file = read_json_file((fs::path(runs[i].dir) / "metrics.json").string());
    if (!file || !file->is_object() || !file->contains("status")) {
      const std::string reason = WIFSIGNALED(status) ? fmt::format("worker killed by signal {}", WTERMSIG(status))
                                                     : fmt::format("worker exited with code {} without results",
                                                                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      write_file_atomic((fs::path(runs[i].dir) / "metrics.json").string(),
                        failure_record(runs[i].run_id, reason).dump(2) + "\n");
    }
    finish(i);
  }
  return failed;
}

}  // namespace bcfeat
