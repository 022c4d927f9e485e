#!/usr/bin/env bash
# A real single-node Slurm (Debian's 22.05 packages) on 127.0.0.1, for the Slurm executor's tests.
# No systemd, no cgroups, no accounting: munged, slurmctld and slurmd are started by hand, as root,
# with their state, logs and PIDs under one folder, and stopped by PID.
#
#   scripts/slurm-local.sh start   # installs the packages if needed, starts, waits until the node is idle
#   scripts/slurm-local.sh env     # prints `export SLURM_CONF=...` for the shell
#   scripts/slurm-local.sh status  # sinfo
#   scripts/slurm-local.sh stop    # stops the daemons by PID
#
# The folder is $MEXP_SLURM_DIR (default /tmp/mexp-slurm). Clients find the cluster through SLURM_CONF.
set -euo pipefail

DIR="${MEXP_SLURM_DIR:-/tmp/mexp-slurm}"
CONF="$DIR/slurm.conf"
PACKAGES=(munge slurmctld slurmd slurm-client)

die() {
  echo "slurm-local: $*" >&2
  for log in "$DIR/slurmctld.log" "$DIR/slurmd.log" "$DIR/munged.log"; do
    if [[ -f "$log" ]]; then
      echo "--- last lines of $log" >&2
      tail -n 15 "$log" >&2
    fi
  done
  exit 1
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "installing ${missing[*]} needs root (apt-get)"
    echo "slurm-local: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$DIR/apt.log" 2>&1 ||
      { apt-get update -q >>"$DIR/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$DIR/apt.log" 2>&1; } ||
      die "apt-get install ${missing[*]} failed (see $DIR/apt.log)"
  fi
}

write_config() {
  local cpus mem
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: one node on 127.0.0.1, no cgroups, no accounting.
ClusterName=mexp-local
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Schedule at once when a job ends (the defaults wait up to 3 s between batch-job scheduling passes).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmctldPort=${MEXP_SLURMCTLD_PORT:-6817}
SlurmdPort=${MEXP_SLURMD_PORT:-6818}
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
MaxArraySize=100001
MinJobAge=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  mkdir -p "$DIR"
  install_packages
  write_config
  export SLURM_CONF="$CONF"
  # munge: the package creates /etc/munge/munge.key; make one if it did not.
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
    chmod 400 /etc/munge/munge.key
  fi
  if ! pid_alive "$DIR/munged.pid"; then
    munged --force --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" ||
      die "munged did not start"
  fi
  munge -n | unmunge >/dev/null 2>&1 || die "munge does not round-trip a credential"
  if ! pid_alive "$DIR/slurmctld.pid"; then
    slurmctld -f "$CONF" || die "slurmctld did not start"
  fi
  if ! pid_alive "$DIR/slurmd.pid"; then
    slurmd -f "$CONF" -N localhost || die "slurmd did not start"
  fi
  local state=""
  for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
    case "$state" in
      idle | mixed | allocated) echo "slurm-local: node localhost is $state (SLURM_CONF=$CONF)" >&2; return 0 ;;
    esac
    sleep 1
  done
  die "the node did not become idle within 60 s (last state: '${state:-no answer}')"
}

stop() {
  for d in slurmd slurmctld munged; do
    if pid_alive "$DIR/$d.pid"; then
      kill "$(cat "$DIR/$d.pid")" 2>/dev/null || true
    fi
  done
  for d in slurmd slurmctld munged; do
    for _ in $(seq 1 50); do
      pid_alive "$DIR/$d.pid" || break
      sleep 0.1
    done
    rm -f "$DIR/$d.pid"
  done
  echo "slurm-local: stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  status) SLURM_CONF="$CONF" sinfo ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
