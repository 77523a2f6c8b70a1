// Slurm task states. squeue is asked once per recorded job (`-r` lists array tasks one per
// line as JOB_TASK, `-t all` includes finished ones the controller still holds, MinJobAge seconds).
#include "bcfeat/framework/slurm.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"

namespace bcfeat {
namespace fs = std::filesystem;

namespace {

fs::path jobs_file(const std::string& output_dir) { return fs::path(output_dir) / "slurm" / "jobs.tsv"; }

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_job_id(const std::string& text) { return text.size() < 20 && all_digits(text); }

// The standard output of `command` (run by the shell) and its exit status.
std::string command_output(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    status = -1;
    return output;
  }
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  status = ::pclose(pipe);
  return output;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// task -> state of one array job, from squeue; empty when squeue does not know the job.
std::map<int, std::string> squeue_states(const std::string& job_id) {
  std::map<int, std::string> states;
  int status = 0;
  std::istringstream lines(command_output("squeue -h -r -t all -j " + job_id + " -o '%i|%T' 2>/dev/null", status));
  for (std::string line; std::getline(lines, line);) {
    // "JOB_TASK|STATE"; a task that has started has its own job id but keeps this name
    const auto underscore = line.find('_');
    const auto bar = line.find('|');
    if (underscore == std::string::npos || bar == std::string::npos || bar < underscore ||
        line.substr(0, underscore) != job_id) {
      continue;
    }
    const std::string task = line.substr(underscore + 1, bar - underscore - 1);
    if (!all_digits(task)) continue;  // a range not yet expanded
    std::string state = lower(line.substr(bar + 1));
    if (state == "configuring" || state == "completing" || state == "suspended" || state == "stopped") state = "running";
    if (state == "requeued" || state == "resizing") state = "pending";
    states[std::stoi(task)] = state;
  }
  return states;
}

// After the controller has forgotten a task: slurmstepd writes why it killed a task into the
// task's output file ("*** JOB 12 ON node CANCELLED AT ...", "DUE TO TIME LIMIT", oom-kill).
std::string state_from_output(const std::string& output_dir, const std::string& job_id, int task) {
  const fs::path path = fs::path(output_dir) / "slurm" / (job_id + "_" + std::to_string(task) + ".out");
  std::ifstream in(path);
  if (!in) return "unknown";
  std::stringstream content;
  content << in.rdbuf();
  const std::string text = content.str();
  if (text.find("DUE TO TIME LIMIT") != std::string::npos) return "timeout";
  if (text.find("CANCELLED AT") != std::string::npos) return "cancelled";
  if (text.find("oom-kill") != std::string::npos || text.find("Out Of Memory") != std::string::npos) {
    return "out_of_memory";
  }
  return "ended";
}

}  // namespace

std::string submit_slurm_array(const std::string& output_dir, const std::string& script_path,
                               const std::vector<std::string>& run_ids) {
  int status = 0;
  const std::string output = command_output(fmt::format("sbatch --parsable '{}'", script_path), status);
  if (status != 0) throw std::runtime_error(fmt::format("sbatch '{}' failed with status {}", script_path, status));
  const std::string job_id = output.substr(0, output.find_first_of(";\n"));  // "12" or "12;cluster"
  if (!is_job_id(job_id)) throw std::runtime_error(fmt::format("sbatch returned a job id '{}'", job_id));
  const fs::path path = jobs_file(output_dir);
  std::string content;
  if (fs::exists(path)) content = read_text_file(path.string());
  for (size_t i = 0; i < run_ids.size(); ++i) content += fmt::format("{}\t{}\t{}\n", job_id, i, run_ids[i]);
  write_file_atomic(path.string(), content);
  return job_id;
}

std::map<std::string, SlurmTask> slurm_task_states(const std::string& output_dir) {
  std::map<std::string, SlurmTask> tasks;
  std::ifstream in(jobs_file(output_dir));
  if (!in) return tasks;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    SlurmTask task;
    std::string run_id;
    if (!(fields >> task.job_id >> task.task >> run_id) || !is_job_id(task.job_id)) continue;
    tasks[run_id] = task;  // later lines are later submissions
  }
  std::map<std::string, std::map<int, std::string>> by_job;
  for (const auto& [run_id, task] : tasks) by_job.emplace(task.job_id, std::map<int, std::string>{});
  for (auto& [job_id, states] : by_job) states = squeue_states(job_id);
  for (auto& [run_id, task] : tasks) {
    const auto& states = by_job[task.job_id];
    const auto found = states.find(task.task);
    if (found != states.end()) {
      task.state = found->second;
    } else {
      task.state = state_from_output(output_dir, task.job_id, task.task);
      // A pending array task that is cancelled leaves the queue without a trace (and never had an
      // output file) while its siblings stay listed.
      if (task.state == "unknown" && !states.empty()) task.state = "cancelled";
    }
  }
  return tasks;
}

bool slurm_in_flight(const std::string& state) { return state == "pending" || state == "running"; }

std::string slurm_report_status(const std::string& state) {
  return state == "completed" || state == "ended" ? "lost" : state;
}

}  // namespace bcfeat
