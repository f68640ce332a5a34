#!/usr/bin/env bash
# Real Slurm test of Deploy/slurm/conaclip.sbatch on this machine (needs root).
#
# Installs Debian's slurm-wlm and munge if missing, writes a one-node
# slurm.conf into a scratch directory (4 CPUs declared on whatever the machine
# has, so 3 single-CPU tasks fit on 2 cores), starts munged (unless one is
# running), slurmctld and slurmd, and then either
#   bash Deploy/slurm/test-slurm.sh            # the conaclip job (default)
#   bash Deploy/slurm/test-slurm.sh trivial    # a 3-task `srun hostname` job (bring-up only)
# For the conaclip job it submits conaclip.sbatch with configs/smoke.yaml (or
# $CONACLIP_TEST_CONFIG) and 3 tasks (coordinator + 2 workers), waits for the
# job (bounded), checks it COMPLETED with exit code 0, and checks that the
# run's `conaclip checkpoint digest` equals that of a single-process
# `conaclip train` of the same config. Every daemon it started is stopped on
# every exit path; the scratch directory is kept on failure for its logs.
#
# Environment: CONACLIP_BIN (default: a debug build from this checkout),
# CONACLIP_TEST_CONFIG (default configs/smoke.yaml), SLURM_TEST_TIMEOUT
# (seconds to wait for the job, default 900), SLURM_TEST_PORT (slurmctld port;
# slurmd uses the next one; default 16817).
set -euo pipefail
mode=${1:-conaclip}
case "$mode" in conaclip|trivial) ;; *) echo "usage: $0 [conaclip|trivial]" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "test-slurm: run as root (it installs packages and starts slurm daemons)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/Deploy/lib.sh"
cd "$repo"
started=$(date +%s)
say() { echo "test-slurm: $*"; }

# ---- packages ---------------------------------------------------------------
need=()
for p in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  # Keep the packages' maintainer scripts from starting daemons with the
  # system-wide config: this test starts its own.
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
  fi
  installed=0
  apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    && installed=1
  if [ "$policy_added" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$installed" = 1 ] || { say "installing ${need[*]} failed"; exit 1; }
fi

# ---- scratch directory and cleanup ------------------------------------------
work=$(mktemp -d /tmp/conaclip-slurm.XXXXXX)
chmod 755 "$work"
pids=()        # daemons this script started, stopped in reverse order
munge_socket=""
ok=0
cleanup() {
  local status=$?
  if [ -n "${SLURM_CONF:-}" ] && command -v scancel >/dev/null && [ -e "$work/slurmctld.pid" ]; then
    timeout 10 scancel --user=root >/dev/null 2>&1 || true
  fi
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  remove_or_keep_work
  exit "$status"
}
on_exit_cleanup

# ---- munge ------------------------------------------------------------------
if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "munged already running; using it"
else
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    (umask 077 && dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none)
    chown munge:munge /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
  # A private munged on its own socket, in a directory the munge user owns.
  install -d -o munge -g munge -m 755 "$work/munge"
  munge_socket=$work/munge/munge.socket
  runuser -u munge -- /usr/sbin/munged --socket="$munge_socket" --pid-file="$work/munge/munged.pid" \
    --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed"
  wait_for 10 test -s "$work/munge/munged.pid" || { say "munged did not start (see $work/munge/munged.log)"; exit 1; }
  pids+=("$(cat "$work/munge/munged.pid")")
fi

# ---- slurm.conf for one node --------------------------------------------------
host=$(hostname -s)
port=${SLURM_TEST_PORT:-16817}
mkdir -p "$work/state" "$work/spool"
{
  echo "ClusterName=conaclip-test"
  echo "SlurmctldHost=$host(127.0.0.1)"
  echo "SlurmctldPort=$port"
  echo "SlurmdPort=$((port + 1))"
  echo "SlurmUser=root"
  echo "SlurmdUser=root"
  echo "AuthType=auth/munge"
  [ -n "$munge_socket" ] && echo "AuthInfo=socket=$munge_socket"
  echo "CredType=cred/munge"
  echo "StateSaveLocation=$work/state"
  echo "SlurmdSpoolDir=$work/spool"
  echo "SlurmctldPidFile=$work/slurmctld.pid"
  echo "SlurmdPidFile=$work/slurmd.pid"
  echo "SlurmctldLogFile=$work/slurmctld.log"
  echo "SlurmdLogFile=$work/slurmd.log"
  echo "ProctrackType=proctrack/linuxproc"
  echo "TaskPlugin=task/none"
  echo "JobAcctGatherType=jobacct_gather/none"
  echo "AccountingStorageType=accounting_storage/none"
  echo "MpiDefault=none"
  echo "SchedulerType=sched/backfill"
  echo "SelectType=select/cons_tres"
  echo "SelectTypeParameters=CR_CPU"
  echo "ReturnToService=2"
  echo "MinJobAge=600"
  # Declare 4 CPUs whatever the hardware has; config_overrides makes slurmd accept it.
  echo "SlurmdParameters=config_overrides"
  echo "NodeName=$host NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN"
  echo "PartitionName=test Nodes=$host Default=YES MaxTime=60 State=UP"
} >"$work/slurm.conf"
export SLURM_CONF=$work/slurm.conf

slurmctld -f "$SLURM_CONF"
wait_for 20 test -s "$work/slurmctld.pid" || { say "slurmctld did not start (see $work/slurmctld.log)"; exit 1; }
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
wait_for 20 test -s "$work/slurmd.pid" || { say "slurmd did not start (see $work/slurmd.log)"; exit 1; }
pids+=("$(cat "$work/slurmd.pid")")
node_ready() { sinfo -h -N -n "$host" -o %T | grep -Eq '^(idle|mixed|allocated)'; }
wait_for 60 node_ready || { say "node $host not idle: $(sinfo -h -N -o '%T %E' 2>&1)"; exit 1; }
say "slurm up: $(sinfo -h -N -o '%N %T cpus=%c')"

# ---- the job ------------------------------------------------------------------
if [ "$mode" = trivial ]; then
  job=$(sbatch --parsable --ntasks=3 --chdir="$work" --output="$work/job-%j.out" \
          --wrap 'srun --ntasks=3 bash -c "echo task \$SLURM_PROCID of \$SLURM_NTASKS on \$(hostname)"')
else
  find_conaclip
  config=${CONACLIP_TEST_CONFIG:-configs/smoke.yaml}
  single_process_reference "$config"
  job=$(CONACLIP_BIN=$bin sbatch --parsable --ntasks=3 --chdir="$repo" --output="$work/job-%j.out" \
          Deploy/slurm/conaclip.sbatch "$config" "$work/run")
fi
say "submitted job $job"
job_state() { scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
job_done() { case "$(job_state)" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) return 0 ;; *) return 1 ;; esac; }
if ! wait_for "${SLURM_TEST_TIMEOUT:-900}" job_done; then
  say "job $job still $(job_state) after ${SLURM_TEST_TIMEOUT:-900} s; cancelling"
  scancel "$job" || true
  exit 1
fi
state=$(job_state)
exit_code=$(scontrol show job "$job" | grep -o ' ExitCode=[0-9:]*' | cut -d= -f2)
echo "----- job $job output -----"; cat "$work/job-$job.out"; echo "-----"
[ "$state" = COMPLETED ] && [ "$exit_code" = 0:0 ] || { say "FAIL: job $job $state, exit code $exit_code"; exit 1; }

if [ "$mode" = conaclip ]; then
  actual=$("$bin" checkpoint digest "$work/run")
  say "digest single-process $expected"
  say "digest slurm 2 workers $actual"
  [ "$actual" = "$expected" ] || { say "FAIL: digests differ"; exit 1; }
else
  [ "$(grep -c '^task [0-2] of 3 on ' "$work/job-$job.out")" = 3 ] || { say "FAIL: expected 3 task lines"; exit 1; }
fi
ok=1
say "PASS ($mode job $job $state exit $exit_code, $(( $(date +%s) - started )) s)"
