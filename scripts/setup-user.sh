#!/usr/bin/env bash
# setup-user.sh USER: as root, make USER a rootless-container user the way a
# stock Debian machine would: create it (Debian's useradd also writes
# /etc/subuid and /etc/subgid), give it subordinate id ranges if it has
# none, and open /dev/fuse and /dev/net/tun as Debian's udev rules do (CI
# machines may run no udevd). Idempotent. Used by scripts/test.sh and
# bench/run.sh.
set -euo pipefail
user=${1:?usage: setup-user.sh USER}
if ! id "$user" >/dev/null 2>&1; then
	echo ">>> creating user $user"
	useradd -m -s /bin/bash "$user"
fi
grep -q "^$user:" /etc/subuid || usermod --add-subuids 1000000-1065535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 1000000-1065535 "$user"
[[ -e /dev/fuse ]] || mknod -m 0666 /dev/fuse c 10 229
[[ -e /dev/net/tun ]] || { mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200; }
chmod 0666 /dev/fuse /dev/net/tun
