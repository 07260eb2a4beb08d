#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, for tests/test_slurm.py and for trying
# `python train.py -m hydra/launcher=slurm ...` on one machine. Debian/Ubuntu, as root; no
# systemd needed: every daemon is started directly, its pid file in the state folder.
#
#   bash scripts/slurm/start.sh      # install what is missing, start what is not running
#   bash scripts/slurm/stop.sh       # stop what this script started
#
# Started: munged (as the munge user), MariaDB (own datadir, unix socket only: no networking),
# slurmdbd (accounting: without it submitit cannot see that a job killed from outside Python
# ended, and the sweep waits forever), slurmctld and slurmd (as root). One node, `localhost`,
# with this machine's CPUs and memory; one partition, `debug`. Configs: /etc/slurm/slurm.conf
# and slurmdbd.conf (marked as written by this script; configs of anyone else are never
# overwritten: a cluster already configured here is used as it is).
# Safe to run again: what already runs is left alone. Exits non-zero, with the daemons' log
# tails, when the node is not idle or accounting does not answer in time.
#
# Environment:
#   IMBALANCE_LAB_SLURM_DIR  state folder: pid files, logs, spool, database
#                            [/tmp/imbalance-lab-slurm]
#   SLURM_START_TIMEOUT      seconds to wait for each daemon [60]
#   SLURM_NO_INSTALL=1       never call apt-get (fail when a package is missing)
set -euo pipefail

STATE=${IMBALANCE_LAB_SLURM_DIR:-/tmp/imbalance-lab-slurm}
TIMEOUT=${SLURM_START_TIMEOUT:-60}
CLUSTER=imbalancelab
CONF_DIR=/etc/slurm
MARKER="# Written by imbalance-lab scripts/slurm/start.sh"
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
APT_LOG=/tmp/imbalance-lab-slurm-apt.log
SOCK=$STATE/mysqld.sock
T0=$(date +%s.%N)
export PATH=$PATH:/usr/sbin:/sbin

say() { echo "slurm: $*"; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
die() {
    echo "slurm: ERROR: $*" >&2
    local f
    for f in "$STATE"/munge/munged.log "$STATE"/log/{mariadb,slurmdbd,slurmctld,slurmd}.log; do
        [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -n 12 "$f" >&2; }
    done
    echo "slurm: the cluster is NOT up (after $(elapsed) s)" >&2
    exit 1
}
# Is the daemon of pid file $1 alive, and is it program $2 (not a recycled pid)?
alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(tr -dc 0-9 <"$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$2" "/proc/$pid/comm" 2>/dev/null
}
# wait_for WHAT COMMAND...: until COMMAND succeeds, at most $TIMEOUT s.
wait_for() {
    local what=$1 deadline=$((SECONDS + TIMEOUT))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || die "$what did not come up within $TIMEOUT s"
        sleep 0.5
    done
}

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts daemons)"

# --- packages ----------------------------------------------------------------------------------
missing=()
for cmd in munged mungekey slurmctld slurmd slurmdbd sinfo sacctmgr mariadbd mariadb-install-db
do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "${SLURM_NO_INSTALL:-0}" = 1 ] && die "missing ${missing[*]} and SLURM_NO_INSTALL=1"
    command -v apt-get >/dev/null || die "missing ${missing[*]}; no apt-get to install them"
    say "installing ${PACKAGES[*]} (missing: ${missing[*]}); log: $APT_LOG"
    # Keep the packages' init scripts from starting daemons with their default configs.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    install_ok=1
    {
        apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                "${PACKAGES[@]}"
    } >"$APT_LOG" 2>&1 || install_ok=0
    [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    if [ $install_ok = 0 ]; then
        tail -n 20 "$APT_LOG" >&2
        die "apt-get install ${PACKAGES[*]} failed"
    fi
    say "packages installed in $(elapsed) s"
fi

# A cluster configured by someone else is theirs: use it, never overwrite its configs.
mkdir -p "$CONF_DIR"
for f in slurm.conf slurmdbd.conf; do
    if [ -e "$CONF_DIR/$f" ] && ! grep -qF "$MARKER" "$CONF_DIR/$f"; then
        if timeout 5 sinfo >/dev/null 2>&1; then
            say "$CONF_DIR/$f is not this script's and its cluster answers: using that cluster"
            exit 0
        fi
        die "$CONF_DIR/$f exists and was not written by this script; not overwriting it"
    fi
done

mkdir -p "$STATE"/{log,ctld,d,munge}
chmod 755 "$STATE"

# --- munge -------------------------------------------------------------------------------------
munge_ok() { munge -n -t 10 | unmunge >/dev/null; }
if munge_ok 2>/dev/null; then
    say "munged already running"
else
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge /etc/munge/munge.key
    chmod 700 /etc/munge
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge
    chown munge:munge /run/munge /var/lib/munge "$STATE/munge"
    chmod 755 /run/munge
    chmod 700 "$STATE/munge"
    runuser -u munge -- munged --force --pid-file="$STATE/munge/munged.pid" \
        --log-file="$STATE/munge/munged.log" </dev/null || die "munged did not start"
    wait_for munged munge_ok
    say "munged started"
fi

# --- MariaDB: own datadir, unix socket only ----------------------------------------------------
db_ok() { mariadb --no-defaults -S "$SOCK" -u root -e 'SELECT 1'; }
if alive "$STATE/mariadb.pid" mariadbd; then
    wait_for mariadb db_ok
    say "mariadb already running"
else
    if [ ! -d "$STATE/mysql/mysql" ]; then
        rm -rf "$STATE/mysql"
        mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$STATE/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
    fi
    setsid mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$SOCK" \
        --pid-file="$STATE/mariadb.pid" --skip-networking --log-error="$STATE/log/mariadb.log" \
        --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
        </dev/null >>"$STATE/log/mariadb.log" 2>&1 &
    wait_for mariadb db_ok
    say "mariadb started (socket $SOCK, no networking)"
fi

# --- configuration -----------------------------------------------------------------------------
# This machine as slurmd sees it: CPUs, sockets, cores, threads, memory (MB).
read -r CPUS SOCKETS CORES THREADS MEM < <(slurmd -C | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"],
                v["RealMemory"] }')
[ -n "${MEM:-}" ] || die "slurmd -C did not report this machine's CPUs and memory"

changed=0
write_conf() { # write_conf FILE MODE < CONTENT: replace FILE when the content differs
    local tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
    else
        mv "$tmp" "$1"
        changed=1
    fi
    chmod "$2" "$1"
}

write_conf "$CONF_DIR/slurm.conf" 644 <<EOF
$MARKER; rewritten by it.
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
# No cgroups, no systemd: job processes are tracked by parent pid, bound to no CPU.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Accounting through slurmdbd: sacct knows how every job ended, also a job killed from
# outside Python (submitit asks sacct).
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
# A request no node can satisfy fails at submission instead of pending forever.
EnforcePartLimits=ALL
# Seconds from SIGTERM to SIGKILL when a job is cancelled or times out: short, for quick tests.
KillWait=2
InactiveLimit=0
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MailProg=/bin/true
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS Sockets=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

write_conf "$CONF_DIR/slurmdbd.conf" 600 <<EOF
$MARKER; rewritten by it.
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
# localhost: through the unix socket that start.sh gives slurmdbd in MYSQL_UNIX_PORT.
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF

if [ $changed = 1 ] && alive "$STATE/slurmctld.pid" slurmctld; then
    say "the configuration changed while the cluster runs; to apply it:" \
        "bash scripts/slurm/stop.sh && bash scripts/slurm/start.sh"
fi

# --- slurmdbd ----------------------------------------------------------------------------------
dbd_ok() { timeout 10 sacctmgr -n -P show cluster format=cluster; }
if alive "$STATE/slurmdbd.pid" slurmdbd; then
    wait_for slurmdbd dbd_ok
    say "slurmdbd already running"
else
    MYSQL_UNIX_PORT=$SOCK setsid slurmdbd </dev/null >>"$STATE/log/slurmdbd.out" 2>&1 ||
        die "slurmdbd did not start"
    wait_for slurmdbd dbd_ok
    say "slurmdbd started"
fi
if ! dbd_ok | grep -qx "$CLUSTER"; then
    timeout 20 sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster failed"
fi

# --- slurmctld, slurmd -------------------------------------------------------------------------
if alive "$STATE/slurmctld.pid" slurmctld; then
    say "slurmctld already running"
else
    setsid slurmctld </dev/null >>"$STATE/log/slurmctld.out" 2>&1 ||
        die "slurmctld did not start"
    wait_for slurmctld timeout 5 scontrol ping
    say "slurmctld started"
fi
if alive "$STATE/slurmd.pid" slurmd; then
    say "slurmd already running"
else
    setsid slurmd -N localhost </dev/null >>"$STATE/log/slurmd.out" 2>&1 ||
        die "slurmd did not start"
    say "slurmd started"
fi

# --- checks ------------------------------------------------------------------------------------
node_up() { # idle; or running jobs, when started again on a working cluster
    case "$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null)" in
    idle | mixed | allocated) return 0 ;;
    *) return 1 ;;
    esac
}
wait_for "node localhost (idle)" node_up
# Accounting: slurmctld registered with slurmdbd (the cluster has a control host); sacct answers.
accounting_ok() {
    [ -n "$(timeout 10 sacctmgr -n -P show cluster "$CLUSTER" format=controlhost)" ] &&
        timeout 10 sacct -n -a -X -S now-1minutes >/dev/null
}
wait_for "accounting (slurmctld registered with slurmdbd)" accounting_ok

say "cluster up: $(sinfo -h -o '%P %D node %T, %c CPUs, %m MB') (state: $STATE)"
say "started in $(elapsed) s"
