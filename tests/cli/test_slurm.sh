#!/usr/bin/env bash
# `bcfeat run --launcher slurm` against a real single-node Slurm cluster started for this test
# (tools/slurm/cluster.sh; Debian's slurmctld/slurmd, auth/none): a sweep runs to completion as an
# array job; a task cancelled mid-run and one cancelled while pending are reported as cancelled,
# and re-launching runs exactly those; re-launching while the array still runs submits nothing
# twice; a failed task is FAILED in Slurm and "failed" in the report. The cluster is stopped at
# the end whatever happens. Exit 77 (CTest: skipped) where Slurm is not installed or not root.
# usage: test_slurm.sh BCFEAT WORKDIR
set -u
bcfeat=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
   [ "$(id -u)" != 0 ]; then
  echo "skipped: needs Debian's slurmctld, slurmd and slurm-client, run as root"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
source "$root/tests/cli/common.sh"

cluster="$work/cluster"
trap '"$root/tools/slurm/cluster.sh" stop "$cluster"' EXIT
"$root/tools/slurm/cluster.sh" start "$cluster" || { echo "FAIL: the Slurm cluster did not start"; exit 1; }
export SLURM_CONF="$cluster/slurm.conf"

job_of() { sed -n 's/^submitted Slurm array job \([0-9]*\) .*/\1/p' "$1"; }
tasks_in() { squeue -h -r -t "$2" -j "$1" -o '%i' 2>/dev/null | wc -l; }  # tasks of job $1 in states $2
wait_job() {  # until job $1 has no pending or running task (at most $2 seconds)
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(tasks_in "$1" pending,running,configuring,completing)" = 0 ] && return 0
    sleep 0.5
  done
  return 1
}
status_counts() { "$bcfeat" report "$1" --columns status --format csv 2>/dev/null | tail -n +2 | sort | uniq -c |
                  awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }'; }
finished_once() {  # every run of $1 finished exactly once
  local log
  for log in "$1"/*/log.txt; do [ "$(grep -c ' finished ' "$log")" = 1 ] || return 1; done
  return 0
}

small_sweep_config >fast.yaml
# about 5 s a run on two cores: long enough to cancel one mid-run
cat >slow.yaml <<'YAML'
experiment: quantize_baseline
features: {batch: 12, tokens_hw: [32, 32], dim: 256}
compression: {method: texture, format: bc7, quality: normal}
sweep:
  grid:
    seed: [1, 2, 3, 4, 5, 6]
YAML

# --- a sweep submitted with sbatch runs to completion ---------------------------------------------
"$bcfeat" run fast.yaml --output fast --launcher slurm >out.txt 2>err.txt && pass "sweep submitted" \
  || fail "submission: $(cat err.txt)"
job=$(job_of err.txt)
[ -n "$job" ] && [ "$(wc -l <fast/slurm/jobs.tsv)" = 6 ] && pass "array job $job recorded with 6 tasks" \
  || fail "job record: $(cat err.txt; cat fast/slurm/jobs.tsv)"
wait_job "$job" 120 && pass "array job finished" || fail "array job $job still queued after 120 s"
[ "$(status_counts fast)" = "ok=6" ] && pass "report: 6 ok" || fail "report after the array: $(status_counts fast)"
[ "$(squeue -h -r -t all -j "$job" -o '%T' | sort -u)" = COMPLETED ] && pass "Slurm: every task COMPLETED" \
  || fail "Slurm states: $(squeue -h -r -t all -j "$job" -o '%i %T')"
finished_once fast && pass "every run finished once" || fail "a run finished more or less than once"

# --- cancel one task mid-run and one while pending; report; re-launch ----------------------------
"$bcfeat" run slow.yaml --output slow --launcher slurm --sbatch "--cpus-per-task=2" >out.txt 2>err.txt
job=$(job_of err.txt)
running=""
for _ in $(seq 240); do
  running=$(squeue -h -r -t running -j "$job" -o '%i' | head -1)
  [ -n "$running" ] && break
  sleep 0.25
done
pending=$(squeue -h -r -t pending -j "$job" -o '%i' | tail -1)
if [ -n "$running" ] && [ -n "$pending" ]; then
  pass "task $running running, $pending pending"
  sleep 1
  report=$(status_counts slow)
  [[ "$report" == *running=1* && "$report" == *pending=* ]] && pass "report shows the array's progress ($report)" \
    || fail "report while running: $report"
  scancel "$running" "$pending"
  cancelled_runs=$(awk -v a="${running#*_}" -v b="${pending#*_}" -F'\t' '$2 == a || $2 == b { print $3 }' slow/slurm/jobs.tsv)
else
  fail "no running and pending task to cancel (running '$running', pending '$pending')"
  cancelled_runs=""
fi
wait_job "$job" 300 || fail "slow array still queued after 300 s"
[ "$(status_counts slow)" = "cancelled=2 ok=4" ] && pass "report: 4 ok, 2 cancelled" \
  || fail "report after cancelling: $(status_counts slow)"
for run in $cancelled_runs; do
  [ ! -e "slow/$run/metrics.json" ] || fail "cancelled run $run has a metrics.json"
done
# Slurm keeps the task cancelled mid-run as CANCELLED and drops the pending one from the array.
[ "$(squeue -h -r -t all -j "$job" -o '%i %T' | grep -c -e "^$running CANCELLED" -e "^$pending ")" = 1 ] \
  && pass "Slurm: $running CANCELLED, $pending gone" || fail "Slurm states: $(squeue -h -r -t all -j "$job" -o '%i %T')"
declare -A stamp
for f in slow/*/metrics.json; do stamp[$f]=$(stat -c '%i %Y' "$f"); done
"$bcfeat" run slow.yaml --output slow --launcher slurm --sbatch "--cpus-per-task=2" >out.txt 2>err.txt
grep -q "4 of 6 runs already complete" err.txt && grep -q "submitted Slurm array job [0-9]* (2 tasks)" err.txt \
  && pass "re-launch submits the 2 cancelled runs" || fail "re-launch: $(cat err.txt)"
wait_job "$(job_of err.txt)" 300 || fail "re-launched array still queued after 300 s"
[ "$(status_counts slow)" = "ok=6" ] && pass "report: 6 ok after the re-launch" || fail "after re-launch: $(status_counts slow)"
unchanged=1
for f in "${!stamp[@]}"; do [ "${stamp[$f]}" = "$(stat -c '%i %Y' "$f")" ] || unchanged=0; done
[ $unchanged = 1 ] && pass "finished runs were not re-run" || fail "a finished run was re-run"
finished_once slow && pass "every run finished exactly once" || fail "a run finished more than once"

# --- re-launching while the array runs submits nothing twice ---------------------------------------
"$bcfeat" run slow.yaml seed=9 'sweep.grid.seed=[7,8,9]' --output busy --launcher slurm --sbatch "--cpus-per-task=2" \
  >out.txt 2>err.txt
job=$(job_of err.txt)
"$bcfeat" run slow.yaml seed=9 'sweep.grid.seed=[7,8,9]' --output busy --launcher slurm >out.txt 2>err.txt
code=$?
if [ "$(tasks_in "$job" pending,running)" -gt 0 ]; then
  [ $code = 0 ] && grep -q "3 runs are still queued or running under Slurm job $job; not submitted again" err.txt &&
    grep -q "nothing to submit" err.txt && ! grep -q "submitted Slurm" err.txt \
    && pass "a re-launch during the array submits nothing" || fail "re-launch during the array: $(cat err.txt)"
else
  fail "the array ended before the re-launch could be tried"
fi
wait_job "$job" 300 || fail "busy array still queued after 300 s"
[ "$(status_counts busy)" = "ok=3" ] && finished_once busy && pass "3 ok, each once" || fail "busy: $(status_counts busy)"

# --- a failed task: FAILED in Slurm, failed in the report -----------------------------------------
/usr/bin/python3 -c "import numpy as np; np.save('features.npy', np.random.default_rng(0).random((64, 32), dtype=np.float32))"
"$bcfeat" run fast.yaml features.source=file features.path="$work/features.npy" --output failing --launcher slurm \
  --sbatch "--hold" >out.txt 2>err.txt
job=$(job_of err.txt)
rm -f features.npy  # the runs fail once released: their feature file is gone
scontrol release "$job"
wait_job "$job" 120 || fail "failing array still queued after 120 s"
[ "$(status_counts failing)" = "failed=6" ] && pass "report: 6 failed" || fail "report of failed runs: $(status_counts failing)"
[ "$(squeue -h -r -t all -j "$job" -o '%T' | sort -u)" = FAILED ] && pass "Slurm: every task FAILED, not COMPLETED" \
  || fail "Slurm states of failed runs: $(squeue -h -r -t all -j "$job" -o '%i %T')"
grep -q "features.npy" failing/*/metrics.json && pass "each failure names the missing file" \
  || fail "failure message: $(head -c 400 failing/*/metrics.json | head -20)"

echo "$failures failures"
[ $failures = 0 ]
