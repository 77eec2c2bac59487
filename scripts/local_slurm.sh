#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for testing the Slurm profile
# (workflow/profiles/slurm) end to end. Debian/Ubuntu only; needs root.
#
#   scripts/local_slurm.sh up       install slurm-wlm + munge if missing (apt-get), write
#                                   /etc/slurm/slurm.conf, start munged, slurmctld and slurmd
#                                   (directly, no systemd) and wait until `sinfo` shows the node idle
#   scripts/local_slurm.sh status   exit 0 if the cluster answers and the node is usable, else 1
#   scripts/local_slurm.sh down     stop the daemons this script started (by their pid files) and
#                                   remove the slurm.conf it wrote and its state
#
# `up` is idempotent: a second call finds the cluster up and returns at once. The cluster is
# deliberately minimal: no accounting (no slurmdbd, so `sacct` knows no jobs: the Snakemake
# Slurm executor must poll with `squeue`, see docs/cluster.md), ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none (no cgroups), one node sized from `slurmd -C`, one default partition.
#
# Exit codes: 0 ok; 2 cannot install (not root, no apt-get, apt failed); 3 a daemon did not start
# or the node did not become idle in time; 4 refusing to overwrite a slurm.conf this script did
# not write; 64 usage. Every failure prints one line starting with "local_slurm: error:".
#
# Environment: LOCAL_SLURM_TIMEOUT (seconds to wait for the node, default 90),
#              LOCAL_SLURM_PARTITION (partition name, default "debug").
set -uo pipefail

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
MARKER="# written by optdyn scripts/local_slurm.sh"
STATE_DIR=/var/spool/optdyn-slurm          # slurmctld state + slurmd spool
LOG_DIR=/var/log/optdyn-slurm
RUN_DIR=/run/optdyn-slurm                  # pid files
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PID=/run/munge/munged.pid
TIMEOUT="${LOCAL_SLURM_TIMEOUT:-90}"
PARTITION="${LOCAL_SLURM_PARTITION:-debug}"
NODE="$(hostname -s)"

say() { echo "local_slurm: $*"; }
die() { local code=$1; shift; echo "local_slurm: error: $*" >&2; exit "$code"; }

pid_alive() { [[ -s "$1" ]] && [[ -d "/proc/$(cat "$1")" ]]; }

# Node state as sinfo prints it (idle, mix, alloc, down*, drain, ...), empty if no answer.
node_state() { timeout 10 sinfo -h -N -n "$NODE" -o '%t' 2>/dev/null | head -1; }

cluster_ok() {
    pid_alive "$RUN_DIR/slurmctld.pid" && pid_alive "$RUN_DIR/slurmd.pid" || return 1
    case "$(node_state)" in idle|mix|alloc|comp) return 0 ;; *) return 1 ;; esac
}

install_packages() {
    local missing=()
    command -v munged >/dev/null || [[ -x /usr/sbin/munged ]] || missing+=(munge)
    { [[ -x /usr/sbin/slurmctld ]] && [[ -x /usr/sbin/slurmd ]] && command -v sbatch >/dev/null; } \
        || missing+=(slurm-wlm)
    ((${#missing[@]} == 0)) && return 0
    [[ $EUID -eq 0 ]] || die 2 "packages missing (${missing[*]}) and not root: cannot apt-get install them"
    command -v apt-get >/dev/null || die 2 "packages missing (${missing[*]}) and no apt-get on this machine"
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"/tmp/local_slurm_apt.log" 2>&1 \
        || die 2 "apt-get install ${missing[*]} failed (last lines of /tmp/local_slurm_apt.log: $(tail -3 /tmp/local_slurm_apt.log | tr '\n' ' '))"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        say "munged already running"
        return 0
    fi
    if [[ ! -s "$MUNGE_KEY" ]]; then
        say "creating munge key $MUNGE_KEY"
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="$MUNGE_KEY" || die 3 "mungekey could not create $MUNGE_KEY"
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        fi
    fi
    chown munge:munge /etc/munge "$MUNGE_KEY" && chmod 700 /etc/munge && chmod 400 "$MUNGE_KEY"
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 755 /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" 9>&- \
        || die 3 "munged did not start (see /var/log/munge/munged.log)"
    mkdir -p "$RUN_DIR" && touch "$RUN_DIR/munged.started"
    for _ in $(seq 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && { say "munged started"; return 0; }
        sleep 0.5
    done
    die 3 "munged started but munge/unmunge does not work (see /var/log/munge/munged.log)"
}

write_conf() {
    if [[ -e "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
        die 4 "$CONF exists and was not written by this script; not touching it (run 'down' only on a machine this script set up)"
    fi
    # The node line exactly as slurmd detects the hardware (CPUs, sockets, cores, RealMemory),
    # so that slurmd does not drain the node for a mismatch.
    local hw
    hw="$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -1)"
    [[ -n "$hw" ]] || die 3 "'slurmd -C' printed no node line: cannot size the node"
    hw="$(sed -E "s/^NodeName=[^ ]+ //; s/ UpTime=.*//" <<<"$hw")"
    mkdir -p "$CONF_DIR" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR" "$RUN_DIR"
    local tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<EOF
$MARKER
# A single-node test cluster: no accounting, no cgroups. Remove with: scripts/local_slurm.sh down
ClusterName=optdyn-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
# squeue keeps finished jobs for MinJobAge seconds; the Snakemake executor polls every <= 180 s
MinJobAge=600
InactiveLimit=0
KillWait=30
SlurmctldTimeout=120
SlurmdTimeout=300
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    if [[ -e "$CONF" ]] && cmp -s "$tmp" "$CONF"; then
        rm -f "$tmp"
    else
        install -m 644 "$tmp" "$CONF" && rm -f "$tmp"
        say "wrote $CONF ($hw)"
    fi
}

start_daemons() {
    if pid_alive "$RUN_DIR/slurmctld.pid"; then
        say "slurmctld already running (pid $(cat "$RUN_DIR/slurmctld.pid"))"
    else
        # -c: start from a clean state (no jobs or node states of an earlier incarnation)
        /usr/sbin/slurmctld -c -f "$CONF" 9>&- \
            || die 3 "slurmctld did not start (last lines of $LOG_DIR/slurmctld.log: $(tail -3 "$LOG_DIR/slurmctld.log" 2>/dev/null | tr '\n' ' '))"
    fi
    if pid_alive "$RUN_DIR/slurmd.pid"; then
        say "slurmd already running (pid $(cat "$RUN_DIR/slurmd.pid"))"
    else
        /usr/sbin/slurmd -f "$CONF" 9>&- \
            || die 3 "slurmd did not start (last lines of $LOG_DIR/slurmd.log: $(tail -3 "$LOG_DIR/slurmd.log" 2>/dev/null | tr '\n' ' '))"
    fi
}

wait_idle() {
    local t0=$SECONDS state="" resumed=0
    while ((SECONDS - t0 < TIMEOUT)); do
        for d in slurmctld slurmd; do
            # the daemons fork; the pid file appears a moment after the parent exits
            if ((SECONDS - t0 > 5)) && ! pid_alive "$RUN_DIR/$d.pid"; then
                die 3 "$d exited (last lines of $LOG_DIR/$d.log: $(tail -3 "$LOG_DIR/$d.log" 2>/dev/null | tr '\n' ' '))"
            fi
        done
        state="$(node_state)"
        case "$state" in
            idle|mix|alloc|comp)
                say "node $NODE is $state in partition $PARTITION ($((SECONDS - t0))s)"
                return 0 ;;
            down*|drain*|drng*|fail*)
                # e.g. left down by an earlier slurmctld incarnation: resume it once
                if ((resumed == 0)); then
                    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
                    resumed=1
                fi ;;
        esac
        sleep 1
    done
    die 3 "node $NODE not idle after ${TIMEOUT}s (sinfo state: '${state:-no answer}'; reason: $(timeout 5 sinfo -h -N -n "$NODE" -o '%E' 2>/dev/null); see $LOG_DIR/)"
}

up() {
    if [[ -e "$CONF" ]] && grep -qF "$MARKER" "$CONF" && cluster_ok; then
        say "already up: node $NODE is $(node_state)"
        return 0
    fi
    [[ $EUID -eq 0 ]] || { install_packages; die 2 "not root: cannot start munged/slurmctld/slurmd"; }
    install_packages
    start_munge
    write_conf
    start_daemons
    wait_idle
}

stop_pidfile() {  # name pidfile
    if pid_alive "$2"; then
        local pid
        pid="$(cat "$2")"
        kill "$pid"
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        say "stopped $1 (pid $pid)"
    fi
    rm -f "$2"
}

down() {
    if [[ -e "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
        die 4 "$CONF was not written by this script; not stopping anything"
    fi
    stop_pidfile slurmd "$RUN_DIR/slurmd.pid"
    stop_pidfile slurmctld "$RUN_DIR/slurmctld.pid"
    # munged is stopped only if `up` started it (another service may use a munged it found running)
    [[ -e "$RUN_DIR/munged.started" ]] && stop_pidfile munged "$MUNGE_PID"
    rm -rf "$STATE_DIR" "$RUN_DIR" "$CONF"
    say "down"
}

# One up/down at a time. The daemons must not inherit the lock's fd (hence `9>&-` where they start).
lock() {
    [[ $EUID -eq 0 ]] || return 0  # `up` then only reports (or fails with "not root")
    exec 9>/run/optdyn-slurm.lock || die 3 "cannot open /run/optdyn-slurm.lock"
    flock -w 300 9 || die 3 "another scripts/local_slurm.sh has held /run/optdyn-slurm.lock for 300 s"
}

case "${1:-up}" in
    up) lock; up ;;
    down) lock; down ;;
    status)
        if cluster_ok; then say "up: node $NODE is $(node_state)"; else say "not up"; exit 1; fi ;;
    *) echo "usage: $0 [up|status|down]" >&2; exit 64 ;;
esac
