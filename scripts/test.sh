#!/usr/bin/env bash
# scripts/test.sh [GO TEST ARGS...]: run all of box's tests. This is the test
# command of the README and of CI (.ci/run, `make test`).
#
# As root (a fresh Debian 12 CI machine): installs the packages the suite
# needs, creates the unprivileged test user with subordinate id ranges,
# opens /dev/fuse and /dev/net/tun as udev would, copies the checkout to a
# directory the user owns, and runs this script there as that user through
# scripts/as-user.sh (delegated cgroup2, systemd --user). Idempotent.
#
# As a normal user: checks the prerequisites, builds the test images, and
# runs `go test` over every package and the testscripts. The output ends
# with go test's package lines and `N passed, N failed, N skipped`; the
# whole transcript goes to bin/test.log. Exits non-zero if anything failed.
#
# Arguments go to go test, e.g. scripts/test.sh -run 'TestScripts/run_'.
# Environment: BOX_TEST_USER (boxtest), BOX_TEST_DIR (the user's copy,
# /home/USER/box-ci), BOX_TEST_IMAGES (image cache), BOX_TEST_PKGS (./...),
# BOX_TEST_TIMEOUT (20m), BOX_TEST_AS_ROOT=1 to run the tests as root,
# BOX_TEST_VM and BOX_TEST_FUZZ (1/0: the limits VM and the short fuzzing,
# both on by default on a full run), BOX_TEST_FUZZTIME (2000x: executions per target).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAGS=containers_image_openpgp,exclude_graphdriver_btrfs,containers_image_docker_daemon_stub
GOROOT_BIN=/usr/local/go/bin
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PACKAGES=(
	uidmap fuse-overlayfs fuse3 slirp4netns passt busybox-static iproute2
	util-linux docker-registry skopeo umoci e2fsprogs python3 make git
	ca-certificates curl procps systemd dbus dbus-user-session libpam-systemd
	qemu-system-x86 debootstrap zstd zsh fish
)

say() { printf '>>> %s\n' "$*"; }
# with_go puts Go's own bin directory on PATH, once.
with_go() {
	case ":$PATH:" in
	*":$GOROOT_BIN:"*) ;;
	*) [[ ! -d $GOROOT_BIN ]] || export PATH=$GOROOT_BIN:$PATH ;;
	esac
}
die() {
	printf 'test.sh: %s\n' "$*" >&2
	exit 2
}

# ---- as root: prepare the machine, then hand over to the test user ----
as_root() {
	local user=${BOX_TEST_USER:-boxtest}
	local start=$SECONDS
	export DEBIAN_FRONTEND=noninteractive
	"$ROOT/scripts/install-packages.sh" "${PACKAGES[@]}"
	with_go
	command -v go >/dev/null || die "no go in PATH or $GOROOT_BIN; install Go $(awk '/^go /{print $2}' "$ROOT/go.mod") in /usr/local/go"

	# The test user, its subordinate ids, /dev/fuse and /dev/net/tun.
	"$ROOT/scripts/setup-user.sh" "$user"

	local home dest
	home=$(getent passwd "$user" | cut -d: -f6)
	dest=${BOX_TEST_DIR:-$home/box-ci}
	if grep -q " ${dest}[/ ]" /proc/self/mountinfo; then
		die "something is still mounted under $dest; unmount it first"
	fi
	say "copying the checkout to $dest"
	rm -rf "$dest"
	mkdir -p "$dest"
	copy_checkout "$ROOT" "$dest"
	chown -R "$user:" "$dest"
	say "machine ready in $((SECONDS - start))s"

	# box as real root writes its id maps itself (no newuidmap): check that
	# path here, since the suite below runs as the unprivileged user.
	local rc=0 smoke out
	smoke=$(mktemp -d)
	if (cd "$ROOT" && CGO_ENABLED=0 go build -tags "$TAGS" -o "$smoke/box" .) &&
		out=$(cd "$smoke" && XDG_DATA_HOME=$smoke/data XDG_RUNTIME_DIR=$smoke/run "$smoke/box" run --rm --rootfs / \
			sh -c 'echo "pid=$$ map=$(tr -s " " </proc/self/uid_map)"; exit 3' 2>&1; echo "rc=$?") &&
		grep -q 'pid=1 map= 0 0 4294967295' <<<"$out" && grep -q 'rc=3' <<<"$out"; then
		say "box as root: ok ($(echo $out))"
	else
		say "box as root: FAILED: ${out:-build failed}"
		rc=1
	fi
	rm -rf "$smoke"

	# The limits VM: on a full run, or when BOX_TEST_VM=1 asks for it.
	if [[ ${BOX_TEST_VM:-$([[ $# -eq 0 && -z ${BOX_TEST_PKGS-} ]] && echo 1)} == 1 ]]; then
		vm_stage "$dest" || rc=1
		chown -R "$user:" "$dest/bin"
	fi

	# box build's realistic test needs an offline Debian (cached).
	local debian=${BOX_TEST_DEBIAN:-/var/cache/box-build-debian}
	if ! "$ROOT/scripts/debian-image.sh" "$debian"; then
		say "offline Debian for build_debian.txtar: FAILED (the test will skip)"
		debian=
	fi

	say "running the tests as $user"
	local urc=0
	"$dest/scripts/as-user.sh" env PATH="$GOROOT_BIN:$SYS_PATH" ${debian:+BOX_TEST_DEBIAN=$debian} \
		"$BASH" "$dest/scripts/test.sh" "$@" || urc=$?
	[[ $urc -eq 0 ]] || rc=$urc
	# Keep the logs where CI looks for artifacts: in the original checkout.
	mkdir -p "$ROOT/bin"
	cp -f "$dest/bin/test.log" "$dest/bin/test.json" "$ROOT/bin/" 2>/dev/null || true
	exit "$rc"
}

# vm_stage runs testscripts/testdata/vm in a VM with systemd and the
# unified hierarchy (scripts/vm-stage.sh): the resource limits need cgroup
# controllers that this machine may not delegate. Its results become go
# test JSON in DEST/bin/vm.json, which the user's run adds to its summary.
vm_stage() {
	local dest=$1 payload vrc=0
	local out=$dest/bin/vm json=$dest/bin/vm.json pkg=github.com/boxcli/box/testscripts/vm
	mkdir -p "$out"
	rm -f "$json"
	payload=$(mktemp -d /tmp/box-vm-payload.XXXXXX)
	say "limits VM: building the payload (box, the test binary, its helpers, images)"
	if ! (cd "$ROOT" && export CGO_ENABLED=0 &&
		go build -tags "$TAGS" -o "$payload/box" . &&
		go test -c -tags "$TAGS" -o "$payload/testscripts.test" ./testscripts &&
		mkdir -p "$payload/helpers" "$payload/testdata" &&
		go build -tags "$TAGS" -o "$payload/helpers/" ./registrytest/cmd/testregistry ./testscripts/cmd/udpecho ./testscripts/cmd/escprobe ./testscripts/cmd/mkimage &&
		go run -tags "$TAGS" ./imagetest/cmd/mkimages "$payload/images" >/dev/null &&
		cp -r testscripts/testdata/vm "$payload/testdata/"); then
		rm -rf "$payload"
		printf '{"Action":"fail","Package":"%s","Output":"vm stage: building the payload failed\\n"}\n' "$pkg" >"$json"
		return 1
	fi
	# In the VM, as boxvm in a login session (su through pam_systemd).
	cat >"$payload/run-tests.sh" <<'EOF'
#!/bin/sh
cd "$(dirname "$0")" || exit 125
{
	env BOX_VM_STAGE=1 BOX_BINARY="$PWD/box" BOX_TEST_IMAGES="$PWD/images" BOX_TEST_HELPERS="$PWD/helpers" \
		./testscripts.test -test.run '^TestVMScripts$' -test.v -test.timeout 12m 2>&1
	echo $? >rc
} | sed -u 's/^/VMOUT /'
exit "$(cat rc)"
EOF
	chmod 755 "$payload/run-tests.sh"
	say "limits VM: booting (qemu; the root filesystem is cached in ${VMSTAGE_CACHE:-/var/cache/box-vm-stage})"
	VMSTAGE_TIMEOUT=${VMSTAGE_TIMEOUT:-900} "$ROOT/scripts/vm-stage.sh" "$out" "$payload" || vrc=$?
	rm -rf "$payload"
	tr -d '\r' <"$out/serial.log" | sed -n 's/^VMOUT //p' | go tool test2json -t -p "$pkg" >"$json" || true
	if [[ $vrc -ne 0 ]]; then
		printf '{"Action":"fail","Package":"%s","Output":"vm stage: exit %d; console in %s\\n"}\n' "$pkg" "$vrc" "$out/serial.log" >>"$json"
		say "limits VM: FAILED (exit $vrc; console in $out/serial.log)"
		return 1
	fi
	say "limits VM: ok"
}

# copy_checkout copies the files git knows (tracked or not ignored), or
# everything but bin/ when this is not a git checkout.
copy_checkout() {
	local src=$1 dest=$2
	if command -v git >/dev/null && git -c safe.directory='*' -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -c safe.directory='*' -C "$src" ls-files -z --cached --others --exclude-standard |
			tar -C "$src" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$dest" -xf -
	else
		tar -C "$src" --exclude=./bin --exclude=./.git -cf - . | tar -C "$dest" -xf -
	fi
}

# ---- as the test user: check, build images, run go test ----
as_user() {
	cd "$ROOT"
	with_go
	local me
	me=$(id -un)
	local fix="run scripts/test.sh as root once to set the machine up, or"
	command -v go >/dev/null || die "no go in PATH; install Go in /usr/local/go"
	command -v python3 >/dev/null || die "no python3 (it summarises go test); $fix apt-get install python3"
	command -v busybox >/dev/null || die "no busybox (the test images are built from it); $fix apt-get install busybox-static"
	if ! command -v newuidmap >/dev/null || ! command -v newgidmap >/dev/null; then
		die "no newuidmap/newgidmap; $fix apt-get install uidmap"
	fi
	local f
	for f in /etc/subuid /etc/subgid; do
		grep -qE "^($me|$(id -u)):" "$f" 2>/dev/null ||
			die "no subordinate id range for $me in $f; $fix sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $me"
	done
	[[ -r /dev/fuse && -w /dev/fuse ]] || say "note: /dev/fuse is not usable by $me (sudo chmod 0666 /dev/fuse); fuse-overlayfs tests will fail or skip"

	export CGO_ENABLED=0
	mkdir -p bin
	local images=${BOX_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/box-test/images}
	say "building test images into $images"
	go run -tags "$TAGS" ./imagetest/cmd/mkimages "$images" >/dev/null
	export BOX_TEST_IMAGES=$images

	# Every fuzz target, briefly (BOX_TEST_FUZZTIME executions beyond its
	# seed corpus): on a full run, or when BOX_TEST_FUZZ=1 asks for it. A
	# count, not a duration: a duration races go's coordinator before 1.27
	# (go.dev/issue/75804) and failed a CI run with no input at fault.
	# `make fuzz FUZZTIME=...` runs them for long.
	local fuzzed=0
	if [[ ${BOX_TEST_FUZZ:-$([[ $# -eq 0 && -z ${BOX_TEST_PKGS-} ]] && echo 1)} == 1 ]]; then
		say "fuzzing every target for ${BOX_TEST_FUZZTIME:-2000x} (scripts/fuzz.sh)"
		scripts/fuzz.sh "${BOX_TEST_FUZZTIME:-2000x}" || fuzzed=1
	fi

	local pkgs
	read -ra pkgs <<<"${BOX_TEST_PKGS:-./...}"
	say "go test ${pkgs[*]} $* (transcript: $ROOT/bin/test.log)"
	local status
	set +e
	# The limits VM's results (vm_stage, as root) join the summary; its
	# scripts are not run again here, where they could only be skipped.
	local vm=()
	if [[ -s bin/vm.json ]]; then
		vm=(-skip '^TestVMScripts$')
	fi
	{
		[[ ! -s bin/vm.json ]] || cat bin/vm.json
		go test -tags "$TAGS" -count=1 -json -timeout "${BOX_TEST_TIMEOUT:-20m}" "${vm[@]}" "${pkgs[@]}" "$@" 2>&1
	} | tee bin/test.json | python3 scripts/gotest-summary.py --log bin/test.log
	status=("${PIPESTATUS[@]}")
	set -e
	# go test's status, and the summary's (which also fails on a failed
	# package that go test reported only in its output).
	if [[ ${status[0]} -ne 0 || ${status[2]} -ne 0 ]]; then
		exit 1
	fi
	if [[ $fuzzed -ne 0 ]]; then
		say "a fuzz target failed: see the fuzz table above"
		exit 1
	fi
}

if [[ $EUID -eq 0 && -z ${BOX_TEST_AS_ROOT-} ]]; then
	as_root "$@"
else
	as_user "$@"
fi
