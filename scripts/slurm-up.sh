#!/usr/bin/env bash
# A one-node Slurm on this machine for the Slurm executor's tests and CI (Debian 12, as root).
#
# Installs slurm-wlm and munge with apt, creates a munge key if missing, writes a minimal
# /etc/slurm/slurm.conf (this host as the only node, with its real CPU count and memory; one
# partition per test site, sw_a and sw_b, plus the default `debug`), and starts munged,
# slurmctld and slurmd directly (there is no systemd here). Idempotent: when the daemons are
# up with this configuration it exits at once. About 20 s on a fresh machine.
#
# No slurmdbd: `sacct` is not available on this cluster, so the executor's squeue/scontrol path
# is what is tested. Finished jobs stay in slurmctld's memory for MinJobAge (600 s). The daemons
# run as root; the schedulers run every 1-2 s (Slurm's defaults, 30-60 s, would keep a job queued
# behind a restart for half a minute); EnforcePartLimits=ALL makes sbatch refuse a job larger
# than the node instead of leaving it pending for ever; KillWait=5 s.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
NODE="$(hostname -s)"
LOG_DIR=/var/log/slurm

log() { echo "slurm-up: $*" >&2; }

node_ready() {
  local state
  state="$(timeout 10 sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n1)" || return 1
  [[ "$state" =~ ^(idle|mix|mixed|alloc|allocated)$ ]]
}

ctld_up() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- packages -------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  # No init system: keep the packages' maintainer scripts from starting the daemons.
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
  fi
  if [[ "$made_policy" == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# --- configuration --------------------------------------------------------------------------
cpus="$(nproc --all)"
mem_mb="$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)"
mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
new_conf="$(mktemp)"
trap 'rm -f "$new_conf"' EXIT
cat > "$new_conf" <<CONF
# Written by suanwang scripts/slurm-up.sh: a one-node test cluster. Re-running the script
# rewrites it (and restarts the daemons) only when it would change.
ClusterName=suanwang
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
EnforcePartLimits=ALL
KillWait=5
InactiveLimit=0
Waittime=0
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=sw_a Nodes=ALL MaxTime=INFINITE State=UP
PartitionName=sw_b Nodes=ALL MaxTime=INFINITE State=UP
CONF

changed=0
if ! cmp -s "$new_conf" "$CONF"; then
  install -m 0644 "$new_conf" "$CONF"
  changed=1
fi
if [[ ! -f "$CONF_DIR/cgroup.conf" ]]; then
  # slurmd reads it even with proctrack/linuxproc; nothing here is constrained.
  printf 'CgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\n' > "$CONF_DIR/cgroup.conf"
fi

if [[ "$changed" == 0 ]] && ctld_up && node_ready; then
  log "already up ($(sinfo -h -o %P | tr '\n' ' '))"
  exit 0
fi

# --- munge ----------------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
  log "creating the munge key"
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  munge -n | unmunge >/dev/null
fi

# --- slurm daemons --------------------------------------------------------------------------
stop_pidfile() {  # stop the daemon whose pid file is $1, waiting for it to exit
  if pid_alive "$1"; then
    local pid
    pid="$(cat "$1")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}
if [[ "$changed" == 1 ]]; then
  log "configuration changed: restarting the daemons"
  stop_pidfile /run/slurmd.pid
  stop_pidfile /run/slurmctld.pid
fi
if ! pid_alive /run/slurmctld.pid; then
  log "starting slurmctld"
  /usr/sbin/slurmctld
fi
for _ in $(seq 150); do ctld_up && break; sleep 0.2; done
ctld_up || { log "slurmctld did not come up; see $LOG_DIR/slurmctld.log"; tail -n 20 "$LOG_DIR/slurmctld.log" >&2; exit 1; }
if ! pid_alive /run/slurmd.pid; then
  log "starting slurmd"
  /usr/sbin/slurmd -N "$NODE"
fi

for i in $(seq 300); do
  node_ready && break
  state="$(timeout 10 sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n1 || true)"
  if [[ "$state" =~ ^(down|drain|drng|fail|down\*|drain\*)$ ]] && (( i % 10 == 0 )); then
    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
  fi
  sleep 0.2
done
if ! node_ready; then
  log "node $NODE is not idle; see $LOG_DIR/slurmd.log"
  sinfo -N -l >&2 || true
  tail -n 20 "$LOG_DIR/slurmd.log" >&2
  exit 1
fi
log "up: node $NODE, partitions $(sinfo -h -o %P | tr '\n' ' ')"
