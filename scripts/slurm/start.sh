#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, for tests/test_slurm.py and for trying
# `python train.py -m hydra/launcher=slurm ...` on one machine. Debian/Ubuntu, as root, no
# systemd needed: every daemon is started directly, its pid file in the state folder.
#
#   bash scripts/slurm/start.sh      # install what is missing, start what is not running
#   bash scripts/slurm/stop.sh       # stop what this script started
#
# Started: munged (as the munge user), MariaDB (own datadir, socket only: networking off),
# slurmdbd (accounting: without it submitit cannot see a job killed from outside Python and
# waits forever), slurmctld and slurmd (as root). Node `localhost` with this machine's CPUs and
# memory, one partition `debug`. Safe to run again: what already runs is left alone.
# Exits non-zero, with the daemons' log tails, if the node is not idle or accounting does not
# answer in time.
#
# Settings (environment):
#   IMBALANCE_LAB_SLURM_DIR   state folder: pid files, logs, spool, database [/tmp/imbalance-lab-slurm]
#   SLURM_START_TIMEOUT       seconds to wait for each daemon [60]
#   SLURM_NO_INSTALL=1        never call apt-get (fail if a package is missing)
set -euo pipefail

STATE=${IMBALANCE_LAB_SLURM_DIR:-/tmp/imbalance-lab-slurm}
TIMEOUT=${SLURM_START_TIMEOUT:-60}
CLUSTER=imbalancelab
CONF_DIR=/etc/slurm
MARKER="# Written by imbalance-lab scripts/slurm/start.sh"
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
SOCK=$STATE/mysqld.sock
T0=$(date +%s.%N)

say() { echo "slurm: $*"; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
die() {
    echo "slurm: ERROR: $*" >&2
    for f in "$STATE"/log/*.log; do
        [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
    done
    echo "slurm: the cluster is NOT up (after $(elapsed) s)" >&2
    exit 1
}
# Is the daemon of pid file $1 alive, and is it the program $2 (not a recycled pid)?
alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(tr -dc 0-9 <"$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$2" "/proc/$pid/comm" 2>/dev/null
}
# Wait until command "$@" succeeds, at most $TIMEOUT s.
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
for cmd in munged mungekey slurmctld slurmd slurmdbd sinfo sacctmgr mariadbd mariadb-install-db; do
    command -v "$cmd" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null || missing+=("$cmd")
done
export PATH=$PATH:/usr/sbin:/sbin
if [ ${#missing[@]} -gt 0 ]; then
    [ "${SLURM_NO_INSTALL:-0}" = 1 ] && die "missing ${missing[*]} and SLURM_NO_INSTALL=1"
    command -v apt-get >/dev/null || die "missing ${missing[*]}; no apt-get to install ${PACKAGES[*]}"
    say "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    # Keep the packages' own init scripts from starting daemons with their default configs.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    install_ok=1
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${PACKAGES[@]}"; } >"/tmp/imbalance-lab-slurm-apt.log" 2>&1 || install_ok=0
    [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $install_ok = 1 ] || { tail -n 20 /tmp/imbalance-lab-slurm-apt.log >&2; die "apt-get install failed"; }
    say "packages installed in $(elapsed) s"
fi

mkdir -p "$STATE"/{log,ctld,d} "$STATE/munge"
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
    ln -sf "$STATE/munge/munged.pid" "$STATE/munged.pid"
    say "munged started"
fi

# --- MariaDB: own datadir, unix socket only ----------------------------------------------------
db_ok() { mariadb --no-defaults -S "$SOCK" -u root -e 'SELECT 1'; }
if alive "$STATE/mariadb.pid" mariadbd && db_ok >/dev/null 2>&1; then
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
read -r CPUS SOCKETS CORES THREADS MEM < <(slurmd -C | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"], v["RealMemory"] }')
[ -n "${MEM:-}" ] || die "slurmd -C did not report this machine's CPUs and memory"

mkdir -p "$CONF_DIR"
for f in slurm.conf slurmdbd.conf; do
    if [ -e "$CONF_DIR/$f" ] && ! grep -qF "$MARKER" "$CONF_DIR/$f"; then
        if timeout 5 sinfo >/dev/null 2>&1; then
            say "$CONF_DIR/$f was not written by this script and a cluster answers: using that cluster"
            exit 0
        fi
        die "$CONF_DIR/$f exists and was not written by this script; not overwriting it"
    fi
done

changed=0
write_conf() { # write_conf FILE MODE: stdin to FILE if different
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
# No cgroups, no systemd: track job processes by their parent pid, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Accounting through slurmdbd: sacct knows every job's end state, also of jobs killed from
# outside Python (submitit asks sacct).
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
# A request no node can satisfy fails at submission instead of pending forever.
EnforcePartLimits=ALL
# Seconds between SIGTERM and SIGKILL on cancel/timeout: short, cancellation is quick.
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
# Host localhost: the client library connects through the unix socket (MYSQL_UNIX_PORT).
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF

if [ $changed = 1 ] && { alive "$STATE/slurmctld.pid" slurmctld || alive "$STATE/slurmd.pid" slurmd; }; then
    say "configuration changed while the cluster runs: run scripts/slurm/stop.sh, then this script again"
fi

# --- slurmdbd ----------------------------------------------------------------------------------
dbd_ok() { timeout 10 sacctmgr -n -P show cluster format=cluster; }
if alive "$STATE/slurmdbd.pid" slurmdbd; then
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
    setsid slurmctld </dev/null >>"$STATE/log/slurmctld.out" 2>&1 || die "slurmctld did not start"
    wait_for slurmctld timeout 5 scontrol ping
    say "slurmctld started"
fi
if alive "$STATE/slurmd.pid" slurmd; then
    say "slurmd already running"
else
    setsid slurmd -N localhost </dev/null >>"$STATE/log/slurmd.out" 2>&1 || die "slurmd did not start"
    say "slurmd started"
fi

# --- checks ------------------------------------------------------------------------------------
node_idle() { # idle, or busy with jobs when run again on a working cluster
    case "$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null)" in
    idle | mixed | allocated) return 0 ;;
    *) return 1 ;;
    esac
}
wait_for "node localhost (idle)" node_idle
# Accounting: slurmctld registered with slurmdbd (the cluster has a control host) and sacct answers.
ctld_registered() {
    [ -n "$(timeout 10 sacctmgr -n -P show cluster "$CLUSTER" format=controlhost)" ] &&
        timeout 10 sacct -n -a -X -S now-1minute >/dev/null
}
wait_for "accounting (slurmctld registered with slurmdbd)" ctld_registered

say "cluster up: $(sinfo -h -o '%P %D node(s) %T, %c CPUs, %m MB') (state in $STATE)"
say "started in $(elapsed) s"
