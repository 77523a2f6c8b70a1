#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests: slurmctld and slurmd from Debian's
# slurm-wlm, auth/none (no munge), state and logs under one directory.
#
#   tools/slurm/cluster.sh start DIR   writes DIR/slurm.conf, starts both daemons, waits for the node
#   tools/slurm/cluster.sh stop DIR    stops both daemons (cancelling every job first)
#
# Clients find the cluster through SLURM_CONF=DIR/slurm.conf. Ports are chosen from DIR's path so
# two clusters on one machine do not collide. Must run as root (slurmd starts the jobs' processes).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# = 2 ] || usage
action=$1
dir=$(realpath -m "$2")
conf="$dir/slurm.conf"

stop() {
  [ -f "$conf" ] || return 0
  SLURM_CONF="$conf" scancel --quiet --user="$(id -un)" 2>/dev/null || true
  for daemon in slurmd slurmctld; do
    local pidfile="$dir/$daemon.pid"
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "$action" in
  stop) stop; exit 0 ;;
  start) ;;
  *) usage ;;
esac

for tool in slurmctld slurmd sbatch squeue; do
  command -v "$tool" >/dev/null || { echo "cluster.sh: $tool not found (Debian: slurmctld slurmd slurm-client)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "cluster.sh: slurmd must run as root" >&2; exit 2; }

mkdir -p "$dir/state" "$dir/spool" "$dir/log"
host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)
port=$((20000 + $(printf '%s' "$dir" | cksum | cut -d' ' -f1) % 20000))
cat >"$conf" <<EOF
ClusterName=bcfeat-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=2
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

stop  # leftovers of an earlier cluster in the same directory
export SLURM_CONF="$conf"
slurmctld -c -f "$conf"
slurmd -f "$conf"
for _ in $(seq 150); do
  if state=$(sinfo -h -N -o '%T' 2>/dev/null) && [[ "$state" == idle* ]]; then
    echo "cluster.sh: node $host idle; SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.2
done
echo "cluster.sh: the node did not come up (state '${state:-none}'); logs in $dir/log" >&2
tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
stop
exit 1
