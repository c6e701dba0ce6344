#!/usr/bin/env bash
# bench/run.sh [NETBENCH FLAGS...]: `make bench`. Builds box, tcpbench and
# netbench, then runs netbench (bench/cmd/netbench): TCP throughput through
# a container's published port, box's default port driver against
# slirp4netns's own, ending in a table.
#
# As a normal user (with a subordinate id range): builds into bin/bench and
# runs it. As root: builds into a temporary directory, then runs netbench
# as BOX_TEST_USER (default boxtest) through scripts/as-user.sh, as
# scripts/test.sh runs the tests: box's rootless path is the one measured.
# It does not set the machine up; scripts/test.sh does that.
#
# Flags go to netbench, e.g. bench/run.sh -duration 5s -runs 5.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAGS=containers_image_openpgp,exclude_graphdriver_btrfs,containers_image_docker_daemon_stub
GOROOT_BIN=/usr/local/go/bin
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 2
}

# build DIR: box, tcpbench and netbench, static (tcpbench runs in a busybox
# image with no libc; box execs itself inside containers).
build() {
	local out=$1
	command -v go >/dev/null || PATH=$PATH:$GOROOT_BIN
	command -v go >/dev/null || die "no go in PATH or $GOROOT_BIN"
	(
		cd "$ROOT"
		export CGO_ENABLED=0
		go build -tags "$TAGS" -o "$out/box" .
		go build -tags "$TAGS" -o "$out/tcpbench" ./bench/cmd/tcpbench
		go build -tags "$TAGS" -o "$out/netbench" ./bench/cmd/netbench
	)
}

if [[ $EUID -ne 0 ]]; then
	build "$ROOT/bin/bench"
	exec "$ROOT/bin/bench/netbench" -box "$ROOT/bin/bench/box" -tcpbench "$ROOT/bin/bench/tcpbench" "$@"
fi

user=${BOX_TEST_USER:-boxtest}
id "$user" >/dev/null 2>&1 || die "no user $user; run scripts/test.sh as root once to set the machine up, or set BOX_TEST_USER"
uid=$(id -u "$user")
for f in /etc/subuid /etc/subgid; do
	grep -qE "^($user|$uid):" "$f" 2>/dev/null ||
		die "$user has no subordinate id range in $f; run scripts/test.sh as root once, or usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $user"
done

# Root's build cache does the building; the user only needs to read and
# execute the results.
out=$(mktemp -d /tmp/box-bench-bin.XXXXXX)
trap 'rm -rf "$out"' EXIT
chmod 0755 "$out"
build "$out"
echo ">>> running netbench as $user"
# Not exec: the trap removes the binaries afterwards.
"$ROOT/scripts/as-user.sh" env PATH="$GOROOT_BIN:$SYS_PATH" \
	"$out/netbench" -box "$out/box" -tcpbench "$out/tcpbench" "$@"
