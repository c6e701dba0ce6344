#!/usr/bin/env bash
# vm-stage.sh OUTDIR PAYLOAD_DIR: run PAYLOAD_DIR/run-tests.sh as the
# ordinary user boxvm, logged in through systemd, in a Debian 12 VM with the
# unified cgroup hierarchy (qemu TCG, no KVM needed). The console goes to
# OUTDIR/serial.log; exits with the payload's status, 125 if it gave none.
# Run it as root.
#
# Why a VM: box's limits need cgroup v2 controllers delegated by a systemd
# user manager, which a cgroup v1/v2 hybrid build machine cannot give even
# to root (the controllers are held by the v1 hierarchies). The recipe is
# the one in ../shared/notes/vm-stage.md, checked there; what differs here
# is box's: a packages list for box's runtime, the payload's own scope.
#
# The debootstrapped root is cached as a tarball in VMSTAGE_CACHE
# (/var/cache/box-vm-stage), keyed by the suite, the packages and the
# customize function below, so that a warm run costs ~30s. Environment:
# VMSTAGE_CACHE, VMSTAGE_TIMEOUT (seconds, 600), VMSTAGE_MIRROR (default:
# the host's apt mirror), VMSTAGE_APPEND (kernel arguments, e.g.
# loglevel=7), VMSTAGE_MEM (MB, 2048).
set -euo pipefail

use='usage: vm-stage.sh OUTDIR PAYLOAD_DIR'
out=${1:?$use}
payload=${2:?$use}
die() { echo "vm-stage: $*" >&2; exit 2; }
[[ -x $payload/run-tests.sh ]] || die "no executable $payload/run-tests.sh"
[[ $EUID -eq 0 ]] || die "run as root (debootstrap, chroot)"
for t in qemu-system-x86_64 debootstrap mkfs.ext4 zstd; do
	command -v "$t" >/dev/null || die "no $t; apt-get install --no-install-recommends qemu-system-x86 debootstrap e2fsprogs zstd"
done
cache=${VMSTAGE_CACHE:-/var/cache/box-vm-stage}
tmo=${VMSTAGE_TIMEOUT:-600}
mirror=${VMSTAGE_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
[[ -n $mirror ]] || mirror=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || die "no apt mirror found; set VMSTAGE_MIRROR"
suite=bookworm
vm_uid=1000
pkgs=systemd-sysv,udev,dbus,dbus-user-session,libpam-systemd,linux-image-cloud-amd64,initramfs-tools,kmod,uidmap,fuse-overlayfs,slirp4netns,busybox-static,iproute2,util-linux,procps

# customize is the payload-independent setup, part of the cache key.
customize() {
	local r=$1
	echo vmstage >"$r/etc/hostname"
	echo '/dev/vda / ext4 rw 0 1' >"$r/etc/fstab"
	tr -d - </proc/sys/kernel/random/uuid >"$r/etc/machine-id" # no first-boot logic
	chroot "$r" useradd -m -u $vm_uid -s /bin/bash boxvm
	local f
	for f in subuid subgid; do
		grep -qs '^boxvm:' "$r/etc/$f" || echo boxvm:100000:65536 >>"$r/etc/$f"
	done
	# Lingering: user@1000.service (the user's systemd, which delegates
	# cpu, memory and pids) starts at boot without a login.
	# Debian's user@.service delegates cpu, memory and pids; box's
	# error for a missing controller tells users to add the rest so.
	mkdir -p "$r/etc/systemd/system/user@.service.d"
	printf '[Service]\nDelegate=cpu cpuset io memory pids\n' >"$r/etc/systemd/system/user@.service.d/delegate.conf"
	mkdir -p "$r/var/lib/systemd/linger"
	touch "$r/var/lib/systemd/linger/boxvm"
	cat >"$r/etc/systemd/system/vmstage.service" <<EOF
[Unit]
After=systemd-logind.service systemd-user-sessions.service user@$vm_uid.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmstage-run
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
EOF
	chroot "$r" systemctl -q enable vmstage.service
	chroot "$r" systemctl -q mask serial-getty@ttyS0.service getty@tty1.service \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer
	rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
}

mkdir -p "$out" "$cache"
out=$(cd "$out" && pwd)
key=$({ echo "$suite $pkgs"; declare -f customize; } | sha256sum | cut -c1-16)
tarball=$cache/rootfs-$suite-$key.tar.zst
tar=(tar --numeric-owner --xattrs '--xattrs-include=*')
work=$(mktemp -d /tmp/vm-stage.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir "$root"
t0=$SECONDS
if [[ -s $tarball ]]; then
	echo "vm-stage: root from the cache ($tarball)" >&2
	zstd -dcq "$tarball" | "${tar[@]}" -C "$root" -xpf -
else
	echo "vm-stage: debootstrap $suite from $mirror (cache key $key)" >&2
	debootstrap --variant=minbase --include="$pkgs" $suite "$root" "$mirror" >"$out/debootstrap.log" 2>&1 ||
		{ tail -20 "$out/debootstrap.log" >&2; die "debootstrap failed; see $out/debootstrap.log"; }
	echo "vm-stage: debootstrap took $((SECONDS - t0))s" >&2
	customize "$root"
	rm -f "$cache"/rootfs-$suite-*.tar.zst # older keys
	"${tar[@]}" -C "$root" -cf - . | zstd -q -T0 -3 >"$tarball.tmp" && mv "$tarball.tmp" "$tarball"
fi
# The runner is outside the cache key: changing it needs no debootstrap.
runner() {
	local r=$1
	cat >"$r/usr/local/sbin/vmstage-run" <<'EOF'
#!/bin/sh
uid=$(id -u boxvm) n=0
until systemctl -q is-active user@$uid.service && [ -S /run/user/$uid/bus ]; do
	n=$((n + 1))
	if [ $n -gt 240 ]; then echo "VMTEST rc=125 (user@$uid.service not up)"; systemctl poweroff --no-block; exit 0; fi
	sleep 0.5
done
echo "VMTEST payload-start uptime=$(cut -d' ' -f1 /proc/uptime)"
# su, not runuser: its PAM stack has pam_systemd, so the payload runs in
# a login session (session-N.scope), as a user at a terminal would.
su -l boxvm -c 'cd ~/payload && exec ./run-tests.sh'
echo "VMTEST rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
systemctl poweroff --no-block
EOF
	chmod 755 "$r/usr/local/sbin/vmstage-run"
}
runner "$root"
mkdir -p "$root/home/boxvm/payload"
cp -a "$payload/." "$root/home/boxvm/payload/"
chown -R $vm_uid:$vm_uid "$root/home/boxvm/payload"
cp "$(ls "$root"/boot/vmlinuz-* | tail -n1)" "$work/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | tail -n1)" "$work/initrd"
truncate -s $(($(du -sm "$root" | cut -f1) + ${VMSTAGE_DISK_EXTRA_MB:-1024}))M "$work/root.img"
mkfs.ext4 -q -F -d "$root" "$work/root.img"
rm -rf "$root"
t1=$SECONDS
echo "vm-stage: image ready in $((t1 - t0))s, booting (timeout ${tmo}s)" >&2
set +e
# -nic none: the guest has no network beyond what box makes inside it.
timeout -k 10 "$tmo" qemu-system-x86_64 -accel tcg -smp "$(nproc)" -m "${VMSTAGE_MEM:-2048}" -display none \
	-monitor none -serial stdio -no-reboot -nic none -kernel "$work/vmlinuz" \
	-initrd "$work/initrd" -drive file="$work/root.img",if=virtio,format=raw \
	-append "root=/dev/vda rw console=ttyS0 panic=-1 quiet loglevel=3 ${VMSTAGE_APPEND:-}" \
	</dev/null >"$out/serial.log" 2>&1
qrc=$?
set -e
echo "vm-stage: qemu exit $qrc after $((SECONDS - t1))s, total $((SECONDS - t0))s" >&2
rc=$(tr -d '\r' <"$out/serial.log" | sed -n 's/.*VMTEST rc=\([0-9]*\).*/\1/p' | tail -n1)
[[ -n $rc ]] || { tail -n 30 "$out/serial.log" >&2; echo "vm-stage: no 'VMTEST rc=' line in $out/serial.log (qemu exit $qrc; 124 = timeout ${tmo}s)" >&2; exit 125; }
exit "$rc"
