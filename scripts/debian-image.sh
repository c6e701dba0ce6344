#!/usr/bin/env bash
# scripts/debian-image.sh [DIR]: the offline Debian of box build's
# realistic test (testscripts/testdata/build_debian.txtar): a debootstrap
# --variant=minbase root file system as a tarball (DIR/minbase.tar), and
# the .deb files of a C compiler and what it needs beyond minbase
# (DIR/debs/*.deb), which the build installs with dpkg from its context:
# no network during the test. As root; cached in DIR
# (default /var/cache/box-build-debian) by suite and packages, so a warm
# run costs nothing. scripts/test.sh runs it and hands DIR to the tests as
# BOX_TEST_DEBIAN. Environment: DEBIAN_MIRROR (default: the host's apt
# mirror), DEBIAN_SUITE (bookworm).
set -euo pipefail

[[ $EUID -eq 0 ]] || { echo "debian-image.sh: run as root (debootstrap, chroot)" >&2; exit 2; }
dir=${1:-/var/cache/box-build-debian}
suite=${DEBIAN_SUITE:-bookworm}
pkgs="gcc libc6-dev"
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
[[ -n $mirror ]] || mirror=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || { echo "debian-image.sh: no apt mirror found; set DEBIAN_MIRROR" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "debian-image.sh: no debootstrap; apt-get install debootstrap" >&2; exit 2; }

key=$(printf '%s\n' "$suite" "$pkgs" "v2" | sha256sum | cut -c1-16)
if [[ -f $dir/key && $(cat "$dir/key") == "$key" && -f $dir/minbase.tar && -n $(ls "$dir"/debs/*.deb 2>/dev/null) ]]; then
	echo "debian-image: from the cache ($dir)" >&2
	exit 0
fi
t0=$SECONDS
work=$(mktemp -d /tmp/box-debian.XXXXXX)
trap 'umount "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
root=$work/root
echo "debian-image: debootstrap $suite minbase from $mirror" >&2
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -20 "$work/debootstrap.log" >&2; exit 1; }
# The compiler's packages, downloaded by apt in the new root, which knows
# exactly what minbase lacks.
cp /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap leaves the base system's own .debs there: not ours.
rm -f "$root"/var/cache/apt/archives/*.deb
mount -t proc proc "$root/proc"
chroot "$root" apt-get update -qq >"$work/apt.log" 2>&1 &&
	chroot "$root" apt-get install -y -qq --download-only --no-install-recommends $pkgs >>"$work/apt.log" 2>&1 ||
	{ tail -20 "$work/apt.log" >&2; exit 1; }
umount "$root/proc"
mkdir -p "$work/debs"
mv "$root"/var/cache/apt/archives/*.deb "$work/debs/"
# An image carries no package lists, caches or the host's resolv.conf.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root/etc/resolv.conf"
tar --numeric-owner -C "$root" -cf "$work/minbase.tar" .
mkdir -p "$dir"
rm -rf "$dir/debs" "$dir/minbase.tar"
mv "$work/debs" "$work/minbase.tar" "$dir/"
echo "$key" >"$dir/key"
chmod -R a+rX "$dir"
echo "debian-image: made in $((SECONDS - t0))s: $(du -sh "$dir/minbase.tar" | cut -f1) root, $(ls "$dir"/debs | wc -l) packages" >&2
