#!/usr/bin/env bash
# Stop the single-node SLURM cluster of scripts/slurm/start.sh: only the daemons whose pid files
# it wrote into the state folder (a munged or database it found running is left alone). Jobs
# still in the cluster are cancelled first, so no job outlives it. Safe to run again.
#
#   bash scripts/slurm/stop.sh           # stop; keep the state folder (logs, accounting database)
#   bash scripts/slurm/stop.sh --purge   # also delete the state folder and start.sh's configs
#
# IMBALANCE_LAB_SLURM_DIR: the state folder [/tmp/imbalance-lab-slurm], as for start.sh.
set -uo pipefail

STATE=${IMBALANCE_LAB_SLURM_DIR:-/tmp/imbalance-lab-slurm}
MARKER="# Written by imbalance-lab scripts/slurm/start.sh"
export PATH=$PATH:/usr/sbin:/sbin
purge=0
[ "${1:-}" = --purge ] && purge=1

say() { echo "slurm: $*"; }
pid_of() { # pid of pid file $1 if that process lives and is program $2
    local pid
    [ -s "$1" ] || return 1
    pid=$(tr -dc 0-9 <"$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$2" "/proc/$pid/comm" 2>/dev/null &&
        echo "$pid"
}
stop() { # stop PIDFILE PROGRAM
    local pid i
    if pid=$(pid_of "$1" "$2"); then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 150; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null
            say "$2 (pid $pid) killed: it ignored SIGTERM for 30 s"
        else
            say "$2 (pid $pid) stopped"
        fi
    fi
    rm -f "$1"
}

if [ -d "$STATE" ]; then
    if pid_of "$STATE/slurmctld.pid" slurmctld >/dev/null; then
        jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | paste -sd ' ')
        if [ -n "${jobs// /}" ]; then
            say "cancelling jobs $jobs"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null
            for ((i = 0; i < 50; i++)); do
                [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    stop "$STATE/slurmd.pid" slurmd
    stop "$STATE/slurmctld.pid" slurmctld
    stop "$STATE/slurmdbd.pid" slurmdbd
    stop "$STATE/mariadb.pid" mariadbd
    stop "$STATE/munge/munged.pid" munged
else
    say "nothing to stop: no state folder $STATE"
fi

if [ $purge = 1 ]; then
    rm -rf "$STATE"
    for f in /etc/slurm/slurm.conf /etc/slurm/slurmdbd.conf; do
        [ -e "$f" ] && grep -qF "$MARKER" "$f" && rm -f "$f"
    done
    say "state folder $STATE and configs removed"
fi
say "stopped"
