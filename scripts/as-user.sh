#!/usr/bin/env bash
# as-user.sh CMD [ARGS...]: run CMD as the test user (BOX_TEST_USER, default
# boxtest) the way CI does, and exit with its status. Run it as root.
#
# CMD runs in a private mount namespace where /sys/fs/cgroup is a unified
# cgroup2 mount with a cgroup delegated to the user, and /run/systemd/system
# exists so that `systemd --user` starts (with its D-Bus) even when PID 1 is
# not systemd. The host's own cgroups and /run are untouched: the mounts live
# only in that namespace, and the cgroup is removed afterwards. If systemd
# --user or the cgroup cannot be had, it says why and runs CMD anyway: only
# the tests that need them should notice, by skipping.
set -euo pipefail

die() { echo "as-user: $*" >&2; exit 2; }

# The part that runs as the user, in POSIX sh: the user's login shell runs it.
# $0 is a placeholder; "$@" is CMD.
# shellcheck disable=SC2016 # expanded by the user's shell, not here
user_stage='
rt=/run/user/$(id -u)
export XDG_RUNTIME_DIR=$rt
sd=
if [ -d /run/systemd/system ] && [ -x /lib/systemd/systemd ] && [ -w "$rt" ]; then
	/lib/systemd/systemd --user >"$rt/systemd.log" 2>&1 &
	sd=$!
	i=0
	while [ ! -S "$rt/bus" ] && kill -0 "$sd" 2>/dev/null && [ $i -lt 100 ]; do
		i=$((i + 1)); sleep 0.1
	done
	if [ -S "$rt/bus" ]; then
		export DBUS_SESSION_BUS_ADDRESS=unix:path=$rt/bus
	else
		echo "as-user: systemd --user did not come up (it exited, or no $rt/bus after 10s); running without it. Its log:" >&2
		tail -n 20 "$rt/systemd.log" >&2 || true
		kill "$sd" 2>/dev/null || true
		sd=
	fi
else
	echo "as-user: not starting systemd --user (no /run/systemd/system, /lib/systemd/systemd or $rt)" >&2
fi
rc=0
"$@" || rc=$?
if [ -n "$sd" ]; then
	systemctl --user exit 2>/dev/null || kill "$sd" 2>/dev/null || true
	i=0
	while kill -0 "$sd" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
	kill -9 "$sd" 2>/dev/null || true
fi
exit $rc
'

if [[ ${1-} != --in-namespace ]]; then
	[[ $# -gt 0 ]] || die "usage: as-user.sh CMD [ARGS...]"
	[[ $EUID -eq 0 ]] || die "must run as root (it mounts and switches user)"
	user=${BOX_TEST_USER:-boxtest}
	id "$user" >/dev/null 2>&1 || die "no user $user (scripts/test.sh creates it)"
	# Everything mounted below stays in this new mount namespace.
	exec unshare --mount --propagation private -- "$BASH" "${BASH_SOURCE[0]}" --in-namespace "$user" "$@"
fi

shift
user=$1
shift
uid=$(id -u "$user")
gid=$(id -g "$user")

cg=
if mount -t cgroup2 cgroup2 /sys/fs/cgroup; then
	cg=/sys/fs/cgroup/boxci-$$
	mkdir "$cg"
	# Exactly the files /sys/kernel/cgroup/delegate lists, as systemd does.
	chown "$user:" "$cg" "$cg/cgroup.procs" "$cg/cgroup.threads" "$cg/cgroup.subtree_control"
	echo $$ >"$cg/cgroup.procs"
else
	echo "as-user: cannot mount cgroup2 on /sys/fs/cgroup; running without a delegated cgroup" >&2
fi

# sd_booted() is "does /run/systemd/system exist"; make it true here only.
mkdir -p /run/systemd
mount -t tmpfs -o mode=755 tmpfs /run/systemd
mkdir /run/systemd/system
mkdir -p /run/user
mount -t tmpfs -o mode=755 tmpfs /run/user
install -d -o "$uid" -g "$gid" -m 700 "/run/user/$uid"

rc=0
# `--` keeps su from taking CMD's own options; without -l, su keeps the
# environment (PATH included) apart from HOME, SHELL, USER and LOGNAME.
su "$user" -c "$user_stage" -- as-user "$@" || rc=$?

if [[ -n $cg ]]; then
	# Leave the cgroup, kill whatever the user left in it, then remove it.
	echo $$ >/sys/fs/cgroup/cgroup.procs
	echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null && break
		sleep 0.2
	done
fi
exit "$rc"
