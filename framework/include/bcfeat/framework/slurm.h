// Slurm bookkeeping for `bcfeat run --launcher slurm`: which array task of which job runs each
// run directory, and what Slurm says of it. Every submission appends its tasks to
// <output>/slurm/jobs.tsv ("JOB<TAB>TASK<TAB>RUN_ID"); a run belongs to its latest submission.
// States come from `squeue -t all` while the controller remembers the job and, after that,
// from the task's output file (Slurm writes the reason a task was killed there).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace bcfeat {

struct SlurmTask {
  std::string job_id;
  int task = 0;
  // lower case: pending, running, completed, failed, cancelled, timeout, out_of_memory,
  // node_fail, preempted, ended (gone from the queue, no reason recorded) or unknown
  std::string state;
};

// `sbatch --parsable SCRIPT`, recorded as one submission (task i runs run_ids[i]); returns the
// array job's id.
std::string submit_slurm_array(const std::string& output_dir, const std::string& script_path,
                               const std::vector<std::string>& run_ids);

// The latest submission's task for every run that has one, with its current state.
std::map<std::string, SlurmTask> slurm_task_states(const std::string& output_dir);

// Pending or running: submitting the run again would run it twice.
bool slurm_in_flight(const std::string& state);

// The status `bcfeat report` shows for a run with no result yet: the Slurm state, with
// "completed"/"ended" (a task that finished without writing its result) shown as "lost".
std::string slurm_report_status(const std::string& state);

}  // namespace bcfeat
