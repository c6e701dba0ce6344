package testscripts_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// TestBadInput runs every box command with malformed arguments and holds
// box to Docker's and Podman's contract for the tool's own errors: exit
// status 125, exactly one line on stderr, "box: " and what is wrong (and
// how to fix it), nothing on stdout, and nothing left behind or disturbed:
// no file in the store, the runtime dir or $TMPDIR, no mount, no process.
//
// The cases share one bed like a script's (its own XDG dirs and store, the
// busybox image loaded once), with two containers so that "unknown" and
// "existing" both matter: "stopped", which ran and exited, and "running",
// detached and sleeping. Before and after each case the bed is
// snapshotted (badSnapshot); any difference fails the case.
//
// A case whose bug lies in a file outside cli's error paths names that
// file in owner: it fails like any other, and its message says who fixes it.
func TestBadInput(t *testing.T) {
	b := newBadBed(t)

	t.Run("self-check", b.selfCheck)

	cases := badCases()
	cmds := helpCommands(t, b)
	t.Run("coverage", func(t *testing.T) { checkCoverage(t, cmds, cases) })
	// Every command, and the root, refuses an unknown flag with a hint that
	// names the command's own help exactly as one types it.
	for _, path := range append([]string{""}, cmds...) {
		name := "unknown-flag"
		if path != "" {
			name = strings.ReplaceAll(path, " ", "-") + "/unknown-flag"
		}
		cases = append(cases, badCase{
			name: name,
			args: append(strings.Fields(path), "--bogus"),
			want: "^unknown flag --bogus; see '" + regexp.QuoteMeta(strings.TrimSpace("box "+path)) + " --help'$",
		})
	}
	seen := map[string]bool{}
	for i, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) { b.run(t, i, c) })
	}
}

// badCase is one malformed command line. In args, $IMAGE is the loaded
// image, $TMP the case's own $TMPDIR (so a file named there must not be
// left) and $INPUTS a directory of prepared files (see newBadBed).
type badCase struct {
	name  string
	args  []string
	env   []string // extra environment, KEY=VALUE
	stdin string   // "" is /dev/null
	// want must match the error line after "box: ": the case fails for the
	// reason it is about, not any other.
	want string
	// owner is the file whose bug the case finds when it lies outside what
	// the cases' author could change: the failure says so.
	owner string
}

func badCases() []badCase {
	const notFoundCtr = `^no such container: nosuch; see 'box ps -a'$`
	const notFoundImg = `image not found: nosuch-image; see 'box images'`
	return []badCase{
		// The root and the command groups.
		{name: "box/unknown-command", args: []string{"bogus"}, want: `^unexpected argument bogus.*; see 'box --help'$`},
		{name: "volume/rm-missing", args: []string{"volume", "rm", "nosuch"}, want: `^no such volume: nosuch; see 'box volume ls'$`},
		{name: "volume/inspect-missing", args: []string{"volume", "inspect", "nosuch"}, want: `^no such volume: nosuch; see 'box volume ls'$`},
		{name: "volume/create-bad-name", args: []string{"volume", "create", "a/b"}, want: `^invalid volume name "a/b"`},
		{name: "volume/ls-bad-filter", args: []string{"volume", "ls", "--filter", "bogus=1"}, want: `^invalid filter "bogus=1"`},
		{name: "run/volume-bad-name", args: []string{"run", "--rm", "-v", "a:/x", "$IMAGE", "true"}, want: `^invalid volume "a:/x": invalid volume name "a"`},
		{name: "system/prune-unconfirmed", args: []string{"system", "prune"}, want: `confirm with -f \(stdin is not a terminal to ask on\)$`},
		{name: "system/reset-unconfirmed", args: []string{"system", "reset"}, want: `confirm with -f \(stdin is not a terminal to ask on\)$`},
		{name: "commit/unknown-container", args: []string{"commit", "nosuch", "x:1"}, want: `^no such container: nosuch; see 'box ps -a'$`},
		{name: "build/missing-context", args: []string{"build", "$TMP/nosuch"}, want: `^build context .*/nosuch: no such file or directory$`},
		{name: "build/bad-build-arg", args: []string{"build", "--build-arg", "=x", "$INPUTS"}, want: `^--build-arg "=x": want KEY=VALUE or KEY$`},
		{name: "build/unknown-instruction", args: []string{"build", "-f", "$INPUTS/unknown.Dockerfile", "$INPUTS"}, want: `/unknown.Dockerfile:2: unknown instruction: FOO`},
		{name: "build/no-dockerfile", args: []string{"build", "$TMP"}, want: `^no Dockerfile: .*Dockerfile: no such file or directory; give one with -f$`},
		{name: "build/unknown-target", args: []string{"build", "--target", "nosuch", "-f", "$INPUTS/ok.Dockerfile", "$INPUTS"}, want: `^no such build stage "nosuch"`},
		{name: "build/bad-tag", args: []string{"build", "-t", "UPPER/Case", "$INPUTS"}, want: `^--tag UPPER/Case: invalid image reference`},
		{name: "build/bad-secret", args: []string{"build", "--secret", "id=x,src=$TMP/nosuch", "$INPUTS"}, want: `^--secret id=x: .*nosuch: no such file or directory$`},
		{name: "build/bad-pull", args: []string{"build", "--pull=sometimes", "$INPUTS"}, want: `--pull=sometimes: want missing, always, never or newer`},
		{name: "build/bad-network", args: []string{"build", "--network", "bogus", "$INPUTS"}, want: `^--network bogus: want default, none or host$`},
		{name: "builder/prune-unconfirmed", args: []string{"builder", "prune"}, want: `confirm with -f \(stdin is not a terminal to ask on\)$`},
		{name: "builder/no-subcommand", args: []string{"builder"}, want: `^expected "prune"; see 'box builder --help'$`},
		{name: "build/bad-platform", args: []string{"build", "--platform", "linux/s390x", "$INPUTS"}, want: `box builds only for this machine's platform`},
		{name: "doctor/format-bogus", args: []string{"doctor", "--format", "yaml"}, want: `^--format must be one of .* but got "yaml"`},
		{name: "completion/unknown-shell", args: []string{"completion", "tcsh"}, want: `must be one of "bash","zsh","fish" but got "tcsh"`},
		{name: "completion/no-shell", args: []string{"completion"}, want: `^expected "<shell>"; see 'box completion --help'$`},
		{name: "box/storage-driver", args: []string{"--storage-driver=bogus", "ps"}, want: `^--storage-driver must be one of .* but got "bogus"`},
		{name: "box/storage-driver-env", args: []string{"ps"}, env: []string{"BOX_STORAGE_DRIVER=bogus"}, want: `^--storage-driver must be one of .* but got "bogus"`},
		{name: "container/no-subcommand", args: []string{"container"}, want: `^expected one of "ls", .*; see 'box container --help'$`},
		{name: "container/unknown-subcommand", args: []string{"container", "bogus"}, want: `^unexpected argument bogus.*; see 'box container --help'$`},
		{name: "image/no-subcommand", args: []string{"image"}, want: `^expected one of "ls", .*; see 'box image --help'$`},
		{name: "image/unknown-subcommand", args: []string{"image", "bogus"}, want: `^unexpected argument bogus; see 'box image --help'$`},

		// Image references.
		{name: "run/ref-upper-case", args: []string{"run", "--rm", "UPPER/Case", "true"}, want: `^invalid image reference: "UPPER/Case": .*lowercase; an image reference looks like`},
		{name: "run/ref-space", args: []string{"run", "--rm", "a b", "true"}, want: `^invalid image reference: "a b"`},
		{name: "run/ref-bad-digest", args: []string{"run", "--rm", "x@sha256:zz", "true"}, want: `^invalid image reference: "x@sha256:zz"`},
		{name: "create/ref-upper-case", args: []string{"create", "UPPER/Case"}, want: `^invalid image reference: "UPPER/Case"`},
		{name: "pull/ref-no-name", args: []string{"pull", ":tag"}, want: `^invalid image reference: ":tag"`},
		{name: "pull/ref-upper-case", args: []string{"pull", "UPPER/Case"}, want: `^invalid image reference: "UPPER/Case"`},
		{name: "pull/bad-platform", args: []string{"pull", "--platform", "bogus", "127.0.0.1:1/x"}, want: `invalid platform "bogus": want os/arch`},
		{name: "pull/unreachable-registry", args: []string{"pull", "127.0.0.1:1/x"}, want: `connection refused; check the address`},
		{name: "push/bad-destination", args: []string{"push", "$IMAGE", "a b"}, want: `^invalid image reference: push destination "a b"`},
		// Not push to an unreachable registry: like podman's, box's push
		// reports its progress (Copying blob ...) before the registry's
		// first answer, so the error is the last of several lines.
		{name: "tag/bad-target", args: []string{"tag", "$IMAGE", "UPPER/Case"}, want: `invalid image reference: .*UPPER/Case`},
		{name: "import/bad-name", args: []string{"import", "$INPUTS/rootfs.tar", "UPPER/Case"}, want: `invalid image reference: .*UPPER/Case`},
		{name: "rmi/bad-ref", args: []string{"rmi", "a b"}, want: `a b`},
		{name: "save/bad-ref", args: []string{"save", "-o", "$TMP/s.tar", "a b"}, want: `a b`},

		// Unknown images.
		{name: "run/unknown-image", args: []string{"run", "--rm", "--pull=never", "nosuch-image", "true"}, want: "^" + notFoundImg},
		{name: "run/unknown-image-blocked-registry", args: []string{"run", "--rm", "nosuch-image", "true"}, want: `docker\.io.*blocked`},
		{name: "create/unknown-image", args: []string{"create", "--pull=never", "nosuch-image"}, want: "^" + notFoundImg},
		{name: "rmi/unknown-image", args: []string{"rmi", "nosuch-image"}, want: notFoundImg},
		{name: "image-rm/unknown-image", args: []string{"image", "rm", "nosuch-image"}, want: notFoundImg},
		{name: "tag/unknown-image", args: []string{"tag", "nosuch-image", "newname"}, want: notFoundImg},
		{name: "save/unknown-image", args: []string{"save", "-o", "$TMP/s.tar", "nosuch-image"}, want: notFoundImg},
		{name: "save/one-unknown-image", args: []string{"save", "-o", "$TMP/s.tar", "$IMAGE", "nosuch-image"}, want: notFoundImg},
		{name: "push/unknown-image", args: []string{"push", "nosuch-image"}, want: notFoundImg},
		{name: "history/unknown-image", args: []string{"history", "nosuch-image"}, want: notFoundImg},
		{name: "image-history/unknown-image", args: []string{"image", "history", "nosuch-image"}, want: notFoundImg},
		{name: "image-inspect/unknown-image", args: []string{"image", "inspect", "nosuch-image"}, want: notFoundImg},
		{name: "inspect/type-image-unknown", args: []string{"inspect", "--type", "image", "nosuch-image"}, want: notFoundImg},

		// Unknown containers, for every command that takes one.
		{name: "start/unknown-container", args: []string{"start", "nosuch"}, want: notFoundCtr},
		{name: "restart/unknown-container", args: []string{"restart", "nosuch"}, want: notFoundCtr},
		{name: "stop/unknown-container", args: []string{"stop", "nosuch"}, want: notFoundCtr},
		{name: "kill/unknown-container", args: []string{"kill", "nosuch"}, want: notFoundCtr},
		{name: "rm/unknown-container", args: []string{"rm", "nosuch"}, want: notFoundCtr},
		{name: "logs/unknown-container", args: []string{"logs", "nosuch"}, want: notFoundCtr},
		{name: "inspect/type-container-unknown", args: []string{"inspect", "--type", "container", "nosuch"}, want: notFoundCtr},
		{name: "inspect/unknown", args: []string{"inspect", "nosuch"}, want: `nosuch.*see 'box ps -a'.*'box images'`},
		{name: "container-inspect/unknown-container", args: []string{"container", "inspect", "nosuch"}, want: notFoundCtr},
		{name: "exec/unknown-container", args: []string{"exec", "nosuch", "true"}, want: notFoundCtr},
		{name: "attach/unknown-container", args: []string{"attach", "nosuch"}, want: notFoundCtr},
		{name: "pause/unknown-container", args: []string{"pause", "nosuch"}, want: notFoundCtr},
		{name: "unpause/unknown-container", args: []string{"unpause", "nosuch"}, want: notFoundCtr},
		{name: "port/unknown-container", args: []string{"port", "nosuch"}, want: notFoundCtr},
		{name: "top/unknown-container", args: []string{"top", "nosuch"}, want: notFoundCtr},
		{name: "diff/unknown-container", args: []string{"diff", "nosuch"}, want: notFoundCtr},
		{name: "export/unknown-container", args: []string{"export", "-o", "$TMP/e.tar", "nosuch"}, want: notFoundCtr},
		{name: "stats/unknown-container", args: []string{"stats", "--no-stream", "nosuch"}, want: notFoundCtr},
		{name: "update/unknown-container", args: []string{"update", "--memory", "64m", "nosuch"}, want: notFoundCtr},
		{name: "rename/unknown-container", args: []string{"rename", "nosuch", "newname"}, want: notFoundCtr},
		{name: "cp/unknown-container-src", args: []string{"cp", "nosuch:/etc/hosts", "$TMP/out"}, want: notFoundCtr},
		{name: "cp/unknown-container-dest", args: []string{"cp", "$INPUTS/hosts.txt", "nosuch:/tmp"}, want: notFoundCtr},
		{name: "wait/unknown-container", args: []string{"wait", "nosuch"}, want: notFoundCtr},
		{name: "wait/bad-condition", args: []string{"wait", "--condition", "soon", "nosuch"}, want: `^invalid --condition "soon": want one of`},
		{name: "generate/unknown-container", args: []string{"generate", "systemd", "nosuch"}, want: notFoundCtr},
		{name: "healthcheck/unknown-container", args: []string{"healthcheck", "run", "nosuch"}, want: notFoundCtr},
		{name: "run/health-conflict", args: []string{"run", "--rm", "--no-healthcheck", "--health-cmd", "true", "$IMAGE", "true"}, want: `^--no-healthcheck conflicts with the --health-\* options`},
		{name: "run/health-on-failure-bogus", args: []string{"run", "--rm", "--health-on-failure", "often", "$IMAGE", "true"}, want: `^invalid --health-on-failure "often"`},
		{name: "run/network-unknown-container", args: []string{"run", "--rm", "--network", "container:nosuch", "$IMAGE", "true"}, want: `^--network container:nosuch: no such container: nosuch; see 'box ps -a'$`},

		// Ports.
		{name: "run/port-out-of-range", args: []string{"run", "--rm", "-p", "99999:80", "$IMAGE", "true"}, want: `^port spec "99999:80": .*out of range 1-65535`},
		{name: "run/port-not-a-number", args: []string{"run", "--rm", "-p", "abc", "$IMAGE", "true"}, want: `^port spec "abc": .*bad port "abc"`},
		{name: "run/port-ranges-differ", args: []string{"run", "--rm", "-p", "1-2:3-5", "$IMAGE", "true"}, want: `^port spec "1-2:3-5": .*differ in number`},
		{name: "run/port-sctp", args: []string{"run", "--rm", "-p", "8080:80/sctp", "$IMAGE", "true"}, want: `sctp is not supported`},
		{name: "run/port-network-none", args: []string{"run", "--rm", "--network", "none", "-p", "80:80", "$IMAGE", "true"}, want: `^cannot publish ports with --network none`},
		{name: "run/expose-not-a-number", args: []string{"run", "--rm", "--expose", "abc", "$IMAGE", "true"}, want: `^invalid --expose: .*"abc"`},
		{name: "port/out-of-range", args: []string{"port", "running", "99999"}, want: `^invalid port "99999": want PORT\[/PROTO\]$`},
		{name: "port/not-a-number", args: []string{"port", "running", "abc"}, want: `^invalid port "abc"`},
		{name: "port/not-published", args: []string{"port", "running", "80"}, want: `^no public port 80/tcp published for running`},

		// Volumes and mounts.
		{name: "run/volume-relative-target", args: []string{"run", "--rm", "-v", "/a:relative", "$IMAGE", "true"}, want: `^invalid volume "/a:relative": the container path must be absolute$`},
		{name: "run/volume-missing-source", args: []string{"run", "--rm", "-v", "/nonexistent:/x", "$IMAGE", "true"}, want: `^bind source path /nonexistent does not exist`},
		{name: "run/volume-bad-option", args: []string{"run", "--rm", "-v", "/a:/b:bogus", "$IMAGE", "true"}, want: `unknown option "bogus"`},
		{name: "run/volume-too-many-parts", args: []string{"run", "--rm", "-v", "/a:/b:ro:x", "$IMAGE", "true"}, want: `want HOST-PATH:CONTAINER-PATH`},
		{name: "run/mount-bad-type", args: []string{"run", "--rm", "--mount", "type=bogus,target=/x", "$IMAGE", "true"}, want: `^invalid --mount "type=bogus,target=/x": type "bogus" is not supported`},
		{name: "run/mount-bind-no-source", args: []string{"run", "--rm", "--mount", "type=bind,target=/x", "$IMAGE", "true"}, want: `needs source=`},
		{name: "run/mount-relative-target", args: []string{"run", "--rm", "--mount", "type=tmpfs,target=relative", "$IMAGE", "true"}, want: `target must be an absolute path`},
		{name: "run/mount-unknown-key", args: []string{"run", "--rm", "--mount", "target=/x,bogus=1", "$IMAGE", "true"}, want: `unknown key "bogus"`},
		{name: "run/tmpfs-empty", args: []string{"run", "--rm", "--tmpfs", "", "$IMAGE", "true"}, want: `^invalid --tmpfs "": the path must be absolute$`},
		{name: "run/tmpfs-relative", args: []string{"run", "--rm", "--tmpfs", "relative", "$IMAGE", "true"}, want: `^invalid --tmpfs "relative"`},
		{name: "run/rootfs-missing", args: []string{"run", "--rm", "--rootfs", "/nonexistent", "true"}, want: `--rootfs /nonexistent`},

		// Missing or unreadable files.
		{name: "run/env-file-missing", args: []string{"run", "--rm", "--env-file", "/nonexistent", "$IMAGE", "true"}, want: `^cannot read --env-file /nonexistent: no such file or directory$`},
		{name: "run/env-file-bad-line", args: []string{"run", "--rm", "--env-file", "$INPUTS/bad.env", "$IMAGE", "true"}, want: `bad\.env line 1: invalid environment variable name "bad name"`},
		{name: "run/env-file-not-utf8", args: []string{"run", "--rm", "--env-file", "$INPUTS/latin1.env", "$IMAGE", "true"}, want: `latin1\.env line 2: invalid environment variable name "\\xe9T\\xe9": it is not UTF-8 text$`},
		{name: "run/env-file-too-long", args: []string{"run", "--rm", "--env-file", "$INPUTS/long.env", "$IMAGE", "true"}, want: `long\.env line 2: environment variable BIG is 200004 bytes long; Linux passes at most 131071 to a program$`},
		{name: "run/env-file-longer", args: []string{"run", "--rm", "--env-file", "$INPUTS/longer.env", "$IMAGE", "true"}, want: `longer\.env line 1: longer than 524284 bytes; Linux passes at most 131071 to a program$`},
		{name: "run/cidfile-exists", args: []string{"run", "--rm", "--cidfile", "$INPUTS/exists", "$IMAGE", "true"}, want: `already exists`},
		{name: "run/device-missing", args: []string{"run", "--rm", "--device-read-bps", "/dev/nonexistent:1mb", "$IMAGE", "true"}, want: `^invalid --device-read-bps "/dev/nonexistent:1mb"`},
		{name: "load/missing-file", args: []string{"load", "-i", "/nonexistent"}, want: `^cannot read the archive /nonexistent: no such file or directory; give -i `},
		{name: "load/not-an-archive", args: []string{"load", "-i", "$INPUTS/hosts.txt"}, want: `hosts\.txt`},
		{name: "load/empty-stdin", args: []string{"load"}, want: `^no archive on stdin \(it is empty\): pipe one in or use -i FILE$`},
		{name: "load/garbage-stdin", args: []string{"load"}, stdin: "not an archive\n", want: `archive`},
		{name: "import/missing-file", args: []string{"import", "/nonexistent"}, want: `^cannot read the import source /nonexistent: no such file or directory; give `},
		{name: "import/empty-stdin", args: []string{"import", "-"}, want: `not a tar archive`},
		{name: "cp/missing-host-source", args: []string{"cp", "/nonexistent", "running:/"}, want: `^on the host: /nonexistent: no such file or directory; check the path`},
		{name: "cp/missing-source-in-running", args: []string{"cp", "running:/nonexistent", "$TMP/out"}, want: `^in container running: /nonexistent: no such file or directory; check the path`},
		{name: "cp/missing-source-in-stopped", args: []string{"cp", "stopped:/nonexistent", "$TMP/out"}, want: `^in container stopped: /nonexistent: no such file or directory; check the path`},
		{name: "cp/missing-dest-in-running", args: []string{"cp", "$INPUTS/hosts.txt", "running:/nonexistent-dir/sub/"}, want: `^in container running: .*no such file or directory`},
		{name: "cp/missing-dest-in-stopped", args: []string{"cp", "$INPUTS/hosts.txt", "stopped:/nonexistent-dir/sub/"}, want: `^in container stopped: .*no such file or directory`},
		{name: "cp/missing-host-dest", args: []string{"cp", "stopped:/etc/passwd", "$TMP/nonexistent-dir/sub/x"}, want: `^on the host: .*no such file or directory`},
		{name: "cp/no-container", args: []string{"cp", "$INPUTS/hosts.txt", "$TMP/x"}, want: `exactly one of SRC and DEST must be CONTAINER:PATH`},
		{name: "cp/two-containers", args: []string{"cp", "running:/etc/hosts", "stopped:/tmp"}, want: `exactly one of SRC and DEST must be CONTAINER:PATH`},
		{name: "cp/empty-container-path", args: []string{"cp", "running:", "$TMP/x"}, want: `the path in the container is empty`},
		{name: "save/missing-directory", args: []string{"save", "-o", "/nonexistent-dir/x.tar", "$IMAGE"}, want: `^cannot write /nonexistent-dir/x\.tar: .*/nonexistent-dir`},
		{name: "export/missing-directory", args: []string{"export", "-o", "/nonexistent-dir/x.tar", "stopped"}, want: `/nonexistent-dir/x\.tar: no such file or directory`},

		// Conflicts and values box refuses.
		{name: "run/name-in-use", args: []string{"run", "--rm", "--name", "running", "$IMAGE", "true"}, want: `^container name "running" is already in use by container [0-9a-f]{64}; remove that container`},
		{name: "create/name-in-use", args: []string{"create", "--name", "stopped", "$IMAGE", "true"}, want: `^container name "stopped" is already in use`},
		{name: "run/bad-name", args: []string{"run", "--rm", "--name", "bad name", "$IMAGE", "true"}, want: `^invalid container name "bad name"`},
		{name: "rename/name-in-use", args: []string{"rename", "stopped", "running"}, want: `^container name "running" is already in use`},
		{name: "rename/same-name", args: []string{"rename", "stopped", "stopped"}, want: `^container stopped is already named stopped`},
		{name: "rename/bad-name", args: []string{"rename", "stopped", "bad name"}, want: `invalid container name "bad name"`},
		{name: "rename/empty-name", args: []string{"rename", "running", ""}, want: `invalid container name ""`},
		{name: "run/userns-bogus", args: []string{"run", "--rm", "--userns=bogus", "$IMAGE", "true"}, want: `^unknown --userns mode "bogus" \(want auto, single or keep-id\)$`},
		{name: "run/memory-not-a-size", args: []string{"run", "--rm", "--memory", "abc", "$IMAGE", "true"}, want: `^invalid --memory "abc": want a size`},
		{name: "run/memory-too-small", args: []string{"run", "--rm", "--memory", "2m", "$IMAGE", "true"}, want: `below the minimum`},
		{name: "run/cpus-negative", args: []string{"run", "--rm", "--cpus=-1", "$IMAGE", "true"}, want: `^invalid --cpus "-1"`},
		{name: "run/cpus-negative-separate", args: []string{"run", "--rm", "--cpus", "-1", "$IMAGE", "true"}, want: `^--cpus: .*"-1"`},
		{name: "run/cpus-not-a-number", args: []string{"run", "--rm", "--cpus", "abc", "$IMAGE", "true"}, want: `^invalid --cpus "abc"`},
		{name: "run/pids-limit-not-a-number", args: []string{"run", "--rm", "--pids-limit", "abc", "$IMAGE", "true"}, want: `^--pids-limit: expected a valid 64 bit int but got "abc"`},
		{name: "run/blkio-weight-out-of-range", args: []string{"run", "--rm", "--blkio-weight", "5", "$IMAGE", "true"}, want: `--blkio-weight takes 10 to 1000`},
		{name: "run/cpuset-bogus", args: []string{"run", "--rm", "--cpuset-cpus", "abc", "$IMAGE", "true"}, want: `^invalid --cpuset-cpus "abc"`},
		{name: "run/limits-without-cgroup", args: []string{"run", "--rm", "--cgroups=disabled", "--memory", "64m", "$IMAGE", "true"}, want: `resource limits need a cgroup`},
		{name: "run/restart-bogus", args: []string{"run", "--rm", "--restart", "bogus", "$IMAGE", "true"}, want: `^invalid --restart "bogus"`},
		{name: "run/restart-with-rm", args: []string{"run", "--rm", "--restart", "always", "$IMAGE", "true"}, want: `^--restart and --rm cannot be used together`},
		{name: "run/pull-bogus", args: []string{"run", "--rm", "--pull", "bogus", "$IMAGE", "true"}, want: `^--pull must be one of .* but got "bogus"`},
		{name: "run/cgroups-bogus", args: []string{"run", "--rm", "--cgroups", "bogus", "$IMAGE", "true"}, want: `^--cgroups must be one of`},
		{name: "run/cgroup-manager-bogus", args: []string{"run", "--rm", "--cgroup-manager", "bogus", "$IMAGE", "true"}, want: `^--cgroup-manager must be one of`},
		{name: "run/network-bogus", args: []string{"run", "--rm", "--network", "bogus", "$IMAGE", "true"}, want: `^invalid --network "bogus"`},
		{name: "run/mac-address-bogus", args: []string{"run", "--rm", "--mac-address", "zz", "$IMAGE", "true"}, want: `^invalid --mac-address "zz"`},
		{name: "run/mac-address-network-none", args: []string{"run", "--rm", "--network", "none", "--mac-address", "02:42:ac:11:00:02", "$IMAGE", "true"}, want: `--mac-address needs an interface`},
		{name: "run/dns-bogus", args: []string{"run", "--rm", "--dns", "bogus", "$IMAGE", "true"}, want: `^invalid --dns "bogus"`},
		{name: "run/add-host-bogus", args: []string{"run", "--rm", "--add-host", "bogus", "$IMAGE", "true"}, want: `^invalid --add-host "bogus"`},
		{name: "run/env-no-name", args: []string{"run", "--rm", "-e", "=x", "$IMAGE", "true"}, want: `^invalid environment variable "=x"`},
		{name: "run/env-not-utf8", args: []string{"run", "--rm", "-e", "\xe9T\xe9=1", "$IMAGE", "true"}, want: `^invalid environment variable name "\x{fffd}T\x{fffd}": it is not UTF-8 text$`},
		{name: "run/env-nbsp", args: []string{"run", "--rm", "-e", "A\u00a0B=1", "$IMAGE", "true"}, want: `^invalid environment variable name "A\\u00a0B": no whitespace or control characters allowed$`},
		{name: "run/workdir-relative", args: []string{"run", "--rm", "-w", "relative", "$IMAGE", "true"}, want: `"relative" is not an absolute path`},
		{name: "run/no-command", args: []string{"run", "--rm", "--entrypoint", "", "$IMAGE"}, want: `^no command specified`},
		{name: "run/detach-keys-bogus", args: []string{"run", "--rm", "-it", "--detach-keys", "bogus", "$IMAGE", "true"}, want: `^invalid detach key "bogus"`},
		{name: "run/detach-with-attach", args: []string{"run", "-d", "-a", "stdout", "$IMAGE", "true"}, want: `^unknown flag -a`},
		{name: "run/stop-signal-bogus", args: []string{"run", "--rm", "--stop-signal", "BOGUS", "$IMAGE", "true"}, want: `invalid (stop )?signal "BOGUS"`},
		{name: "run/platform-bogus", args: []string{"run", "--rm", "--platform", "bogus", "$IMAGE", "true"}, want: `invalid platform "bogus"`},
		{name: "exec/env-no-name", args: []string{"exec", "-e", "=x", "running", "true"}, want: `^invalid environment variable "=x"`},
		{name: "exec/unknown-user", args: []string{"exec", "-u", "nosuchuser", "running", "true"}, want: `nosuchuser`},
		// Ids the container's user namespace does not map: setuid(-1)
		// would change nothing and leave the command root.
		{name: "run/user-minus-one", args: []string{"run", "--rm", "-u", "4294967295", "$IMAGE", "true"}, want: `^user "4294967295": uid 4294967295 is not mapped in the container's user namespace \(0(-\d+)?\); choose one of those$`},
		{name: "run/group-minus-one", args: []string{"run", "--rm", "-u", "0:4294967295", "$IMAGE", "true"}, want: `^user "0:4294967295": gid 4294967295 is not mapped`},
		{name: "run/user-past-the-map", args: []string{"run", "--rm", "--init", "-u", "4000000000", "$IMAGE", "true"}, want: `^user "4000000000": uid 4000000000 is not mapped`},
		{name: "run/user-minus-one-no-rm", args: []string{"run", "-u", "4294967295", "$IMAGE", "true"}, want: `uid 4294967295 is not mapped`},
		{name: "exec/user-minus-one", args: []string{"exec", "-u", "4294967295", "running", "true"}, want: `^user "4294967295": uid 4294967295 is not mapped`},
		{name: "exec/group-minus-one", args: []string{"exec", "--user", "0:4294967295", "running", "true"}, want: `gid 4294967295 is not mapped`},
		{name: "login/password-twice", args: []string{"login", "--password-stdin", "-p", "x", "127.0.0.1:1"}, want: `mutually exclusive`},
		{name: "login/no-password", args: []string{"login", "-u", "me", "127.0.0.1:1"}, want: `^no password: use --password-stdin or -p$`},
		{name: "login/no-user", args: []string{"login", "127.0.0.1:1"}, want: `^no user name: give one with -u$`},
		{name: "logout/not-logged-in", args: []string{"logout", "127.0.0.1:1"}, want: `not logged in`},
		{name: "start/attach-two", args: []string{"start", "-a", "running", "stopped"}, want: `more than one container`},
		{name: "start/detach-keys-bogus", args: []string{"start", "--detach-keys", "bogus", "stopped"}, want: `^invalid detach key "bogus"`},
		{name: "attach/detach-keys-bogus", args: []string{"attach", "--detach-keys", "bogus", "running"}, want: `^invalid detach key "bogus"`},
		{name: "update/no-flags", args: []string{"update", "running"}, want: `needs at least one flag`},
		{name: "update/memory-not-a-size", args: []string{"update", "--memory", "abc", "running"}, want: `^invalid --memory "abc"`},
		{name: "update/cpus-negative", args: []string{"update", "--cpus=-1", "running"}, want: `^invalid --cpus "-1"`},
		{name: "update/blkio-weight-out-of-range", args: []string{"update", "--blkio-weight", "5", "running"}, want: `--blkio-weight takes 10 to 1000`},
		{name: "update/restart-bogus", args: []string{"update", "--restart", "bogus", "running"}, want: `^invalid --restart "bogus"`},
		{name: "save/format-bogus", args: []string{"save", "--format", "bogus", "-o", "$TMP/s.tar", "$IMAGE"}, want: `^--format must be one of`},
		{name: "save/oci-dir-to-stdout", args: []string{"save", "--format", "oci-dir", "$IMAGE"}, want: `--format oci-dir needs -o DIR`},
		// pasta is not run, so not taken; -h is run's --hostname (#18)
		{name: "run/network-pasta", args: []string{"run", "--rm", "--network", "pasta", "$IMAGE", "true"}, want: `^invalid --network "pasta": box does not run pasta; use slirp4netns`},
		{name: "run/hostname-no-value", args: []string{"run", "-h"}, want: `^--hostname: expected string value`},
		{name: "unshare/unknown-flag-before-command", args: []string{"unshare", "--bogus", "true"}, want: `^unknown flag --bogus; see 'box unshare --help'$`},

		// State: what the container's state does not allow.
		{name: "kill/not-running", args: []string{"kill", "stopped"}, want: `^container stopped is not running`},
		{name: "pause/not-running", args: []string{"pause", "stopped"}, want: `^container stopped is not running`},
		{name: "unpause/not-paused", args: []string{"unpause", "running"}, want: `^container running is not paused`},
		{name: "attach/not-running", args: []string{"attach", "stopped"}, want: `^container stopped is not running`},
		{name: "exec/not-running", args: []string{"exec", "stopped", "true"}, want: `^container stopped is not running`},
		{name: "top/not-running", args: []string{"top", "stopped"}, want: `^container stopped is not running`},
		{name: "rm/running", args: []string{"rm", "running"}, want: `^container running is running: stop it first, or remove it with box rm -f`},

		// Durations, signals, times, filters and templates.
		{name: "stop/time-not-a-number", args: []string{"stop", "-t", "abc", "running"}, want: `^--time: expected a valid 64 bit int but got "abc"`},
		{name: "restart/time-not-a-number", args: []string{"restart", "-t", "abc", "running"}, want: `^--time: expected a valid 64 bit int but got "abc"`},
		{name: "kill/signal-bogus", args: []string{"kill", "-s", "BOGUS", "running"}, want: `^invalid signal "BOGUS": use a name such as TERM or KILL, or a number$`},
		{name: "kill/signal-out-of-range", args: []string{"kill", "-s", "99", "running"}, want: `^invalid signal "99"`},
		{name: "kill/signal-zero", args: []string{"kill", "-s", "0", "running"}, want: `^invalid signal "0"`},
		{name: "logs/tail-bogus", args: []string{"logs", "--tail", "abc", "running"}, want: `^invalid --tail "abc"`},
		{name: "logs/since-bogus", args: []string{"logs", "--since", "bogus", "running"}, want: `^invalid time "bogus"`},
		{name: "logs/until-bogus", args: []string{"logs", "--until", "bogus", "running"}, want: `^invalid time "bogus"`},
		{name: "events/since-bogus", args: []string{"events", "--since", "bogus"}, want: `^invalid time "bogus"`},
		{name: "events/until-bogus", args: []string{"events", "--until", "bogus"}, want: `^invalid time "bogus"`},
		{name: "events/filter-no-value", args: []string{"events", "--filter", "bogus", "--until", "0s"}, want: `^invalid --filter "bogus": want KEY=VALUE$`},
		{name: "events/filter-unknown-key", args: []string{"events", "--filter", "foo=bar", "--until", "0s"}, want: `^invalid --filter "foo=bar"`},
		// A bad template with no event to print must not pass (or follow).
		{name: "events/format-bogus", args: []string{"events", "--format", "{{", "--filter", "event=nosuch", "--until", "0s"}, want: `^invalid --format template`},
		{name: "ps/filter-no-value", args: []string{"ps", "--filter", "bogus"}, want: `^invalid --filter "bogus"`},
		{name: "ps/filter-unknown-key", args: []string{"ps", "--filter", "foo=bar"}, want: `^invalid --filter "foo=bar"`},
		{name: "ps/format-bogus", args: []string{"ps", "--format", "{{"}, want: `^invalid --format template`},
		{name: "ps/format-unknown-field", args: []string{"ps", "-a", "--format", "{{.Bogus}}"}, want: `^invalid --format: .*Bogus.*; the fields are \.ID \.Image`},
		// Nothing of a listing the template fails on reaches stdout.
		{name: "ps/format-fails-after-output", args: []string{"ps", "-a", "--format", "{{.ID}} {{.Bogus}}"}, want: `^invalid --format: .*Bogus`},
		{name: "images/format-unknown-field", args: []string{"images", "--format", "{{.Repository}} {{.Bogus}}"}, want: `^invalid --format: .*Bogus.*; the fields are \.ID`},
		{name: "ps/last-not-a-number", args: []string{"ps", "-n", "abc"}, want: `^-n: expected a valid 64 bit int|^--last: expected`},
		{name: "images/filter-no-value", args: []string{"images", "--filter", "bogus"}, want: `^invalid --filter "bogus"`},
		{name: "images/filter-dangling-bogus", args: []string{"images", "--filter", "dangling=maybe"}, want: `dangling takes true or false`},
		{name: "images/filter-bad-pattern", args: []string{"images", "--filter", "reference=["}, want: `^invalid --filter "reference=\["`},
		{name: "images/format-bogus", args: []string{"images", "--format", "{{"}, want: `^invalid --format template`},
		{name: "history/format-bogus", args: []string{"history", "--format", "{{", "$IMAGE"}, want: `^invalid --format template`},
		{name: "inspect/format-bogus", args: []string{"inspect", "-f", "{{", "running"}, want: `^invalid --format template`},
		{name: "stats/interval-zero", args: []string{"stats", "--no-stream", "--interval", "0"}, want: `^invalid --interval 0`},
		{name: "stats/format-bogus", args: []string{"stats", "--no-stream", "--format", "{{"}, want: `^invalid --format template`},
		{name: "info/format-bogus", args: []string{"info", "--format", "{{"}, want: `^invalid --format template`},
		{name: "top/ps-option-bogus", args: []string{"top", "running", "--bogus"}, want: `^ps --bogus: error: unknown gnu long option; the arguments after the container are ps's options`},
		{name: "top/ps-format-bogus", args: []string{"top", "running", "-o", "bogusfield"}, want: `^ps -o bogusfield: .*"bogusfield"; the arguments after the container are ps's options`},

		// Too few or too many arguments.
		{name: "run/no-args", args: []string{"run"}, want: `^expected "<image>"; see 'box run --help'$`},
		{name: "create/no-args", args: []string{"create"}, want: `^expected "<image>"; see 'box create --help'$`},
		{name: "start/no-args", args: []string{"start"}, want: `^expected "<containers> \.\.\."`},
		{name: "restart/no-args", args: []string{"restart"}, want: `^expected "<containers> \.\.\."`},
		{name: "stop/no-args", args: []string{"stop"}, want: `^expected "<containers> \.\.\."`},
		{name: "kill/no-args", args: []string{"kill"}, want: `^expected "<containers> \.\.\."`},
		{name: "rm/no-args", args: []string{"rm"}, want: `^expected "<containers> \.\.\."`},
		{name: "wait/no-args", args: []string{"wait"}, want: `^expected "<containers> \.\.\."`},
		{name: "pause/no-args", args: []string{"pause"}, want: `^expected "<containers> \.\.\."`},
		{name: "unpause/no-args", args: []string{"unpause"}, want: `^expected "<containers> \.\.\."`},
		{name: "update/no-containers", args: []string{"update", "--memory", "1g"}, want: `^expected "<containers> \.\.\."`},
		{name: "logs/no-args", args: []string{"logs"}, want: `^expected "<container>"`},
		{name: "logs/too-many", args: []string{"logs", "running", "stopped"}, want: `^unexpected argument stopped`},
		{name: "inspect/no-args", args: []string{"inspect"}, want: `^expected "<names> \.\.\."`},
		{name: "exec/no-args", args: []string{"exec"}, want: `^expected "<container> <command> \.\.\."`},
		{name: "exec/no-command", args: []string{"exec", "running"}, want: `^expected "<command> \.\.\."`},
		{name: "attach/no-args", args: []string{"attach"}, want: `^expected "<container>"`},
		{name: "attach/too-many", args: []string{"attach", "running", "stopped"}, want: `^unexpected argument stopped`},
		{name: "port/no-args", args: []string{"port"}, want: `^expected "<container>"`},
		{name: "port/too-many", args: []string{"port", "running", "80", "81"}, want: `^unexpected argument 81`},
		{name: "top/no-args", args: []string{"top"}, want: `^expected "<container>`},
		{name: "diff/no-args", args: []string{"diff"}, want: `^expected "<container>"`},
		{name: "diff/too-many", args: []string{"diff", "running", "stopped"}, want: `^unexpected argument stopped`},
		{name: "export/no-args", args: []string{"export"}, want: `^expected "<container>"`},
		{name: "export/too-many", args: []string{"export", "running", "stopped"}, want: `^unexpected argument stopped`},
		{name: "rename/too-few", args: []string{"rename", "stopped"}, want: `^expected "<name>"`},
		{name: "rename/too-many", args: []string{"rename", "stopped", "a", "b"}, want: `^unexpected argument b`},
		{name: "cp/too-few", args: []string{"cp", "running:/etc/hosts"}, want: `^expected "<dest>"`},
		{name: "cp/too-many", args: []string{"cp", "running:/etc/hosts", "$TMP/a", "$TMP/b"}, want: `^unexpected argument `},
		{name: "stats/interval-not-a-number", args: []string{"stats", "--no-stream", "--interval", "abc"}, want: `^--interval: expected a valid 64 bit int`},
		{name: "events/too-many", args: []string{"events", "extra"}, want: `^unexpected argument extra`},
		{name: "ps/too-many", args: []string{"ps", "extra"}, want: `^unexpected argument extra`},
		{name: "container-ls/too-many", args: []string{"container", "ls", "extra"}, want: `^unexpected argument extra; see 'box container ls --help'$`},
		{name: "container-prune/too-many", args: []string{"container", "prune", "extra"}, want: `^unexpected argument extra`},
		{name: "images/too-many", args: []string{"images", "extra"}, want: `^unexpected argument extra`},
		{name: "image-ls/too-many", args: []string{"image", "ls", "extra"}, want: `^unexpected argument extra; see 'box image ls --help'$`},
		{name: "image-prune/too-many", args: []string{"image", "prune", "extra"}, want: `^unexpected argument extra`},
		{name: "pull/no-args", args: []string{"pull"}, want: `^expected "<image>"`},
		{name: "pull/too-many", args: []string{"pull", "a", "b"}, want: `^unexpected argument b`},
		{name: "push/no-args", args: []string{"push"}, want: `^expected "<image>"`},
		{name: "push/too-many", args: []string{"push", "a", "b", "c"}, want: `^unexpected argument c`},
		{name: "login/no-args", args: []string{"login"}, want: `^expected "<registry>"`},
		{name: "login/too-many", args: []string{"login", "a", "b"}, want: `^unexpected argument b`},
		{name: "logout/no-args", args: []string{"logout"}, want: `^expected "<registry>"`},
		{name: "logout/too-many", args: []string{"logout", "a", "b"}, want: `^unexpected argument b`},
		{name: "load/too-many", args: []string{"load", "extra"}, want: `^unexpected argument extra`},
		{name: "import/no-args", args: []string{"import"}, want: `^expected "<source>"`},
		{name: "import/too-many", args: []string{"import", "a", "b", "c"}, want: `^unexpected argument c`},
		{name: "save/no-args", args: []string{"save", "-o", "$TMP/s.tar"}, want: `^expected "<images> \.\.\."`},
		{name: "tag/too-few", args: []string{"tag", "$IMAGE"}, want: `^expected "<target>"`},
		{name: "tag/too-many", args: []string{"tag", "a", "b", "c"}, want: `^unexpected argument c`},
		{name: "rmi/no-args", args: []string{"rmi"}, want: `^expected "<images> \.\.\."`},
		{name: "history/no-args", args: []string{"history"}, want: `^expected "<image>"`},
		{name: "history/too-many", args: []string{"history", "a", "b"}, want: `^unexpected argument b`},
		{name: "info/too-many", args: []string{"info", "extra"}, want: `^unexpected argument extra`},
		{name: "version/too-many", args: []string{"version", "extra"}, want: `^unexpected argument extra`},
	}
}

// badBed is the environment the cases share.
type badBed struct {
	box    string
	work   string   // like a script's $WORK
	paths  []string // work, and resolved if a symlink (as /proc shows it)
	inputs string
	vars   []string // the environment of every box command, but TMPDIR
}

func newBadBed(t *testing.T) *badBed {
	b := &badBed{box: boxBinary(t)}
	images := testImages(t)
	b.work = filepath.Join(workdirRoot(t), "bed")
	if err := os.MkdirAll(b.work, 0o700); err != nil {
		t.Fatal(err)
	}
	b.paths = workPaths(b.work)
	// Registered before anything can create files, so a failed setup is
	// cleaned up and leak-checked too.
	t.Cleanup(func() { b.teardown(t) })

	dirs := map[string]string{
		"HOME":            filepath.Join(b.work, "home"),
		"XDG_DATA_HOME":   filepath.Join(b.work, "data"),
		"XDG_CONFIG_HOME": filepath.Join(b.work, "config"),
		"XDG_RUNTIME_DIR": filepath.Join(b.work, "run"),
	}
	for _, k := range []string{"HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"} {
		if err := os.MkdirAll(dirs[k], 0o700); err != nil {
			t.Fatal(err)
		}
		b.vars = append(b.vars, k+"="+dirs[k])
	}
	// The same blocked docker.io as the scripts': no case may reach the
	// network (see bed.setup).
	boxConf := filepath.Join(dirs["XDG_CONFIG_HOME"], "box")
	blocked := "unqualified-search-registries = [\"docker.io\"]\n\n[[registry]]\nlocation = \"docker.io\"\nblocked = true\n"
	if err := os.MkdirAll(boxConf, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(boxConf, "registries.conf"), []byte(blocked), 0o600); err != nil {
		t.Fatal(err)
	}
	b.vars = append(b.vars, "PATH="+os.Getenv("PATH"))
	for _, k := range []string{"USER", "LOGNAME", "DBUS_SESSION_BUS_ADDRESS", "CI"} {
		if v, ok := os.LookupEnv(k); ok {
			b.vars = append(b.vars, k+"="+v)
		}
	}

	// The files the cases name as $INPUTS.
	b.inputs = filepath.Join(b.work, "inputs")
	if err := os.MkdirAll(b.inputs, 0o700); err != nil {
		t.Fatal(err)
	}
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	_ = tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("hi\n"))
	_ = tw.Close()
	for name, data := range map[string]string{
		"hosts.txt":          "not an archive\n",
		"exists":             "",
		"bad.env":            "bad name=1\n",
		"latin1.env":         "A=1\n\xe9T\xe9=2\n",
		"long.env":           "A=1\nBIG=" + strings.Repeat("x", 200000) + "\n",
		"longer.env":         "BIG=" + strings.Repeat("x", 600000) + "\n",
		"rootfs.tar":         rootfs.String(),
		"unknown.Dockerfile": "FROM box-test/busybox\nFOO bar\n",
		"ok.Dockerfile":      "FROM box-test/busybox\nRUN true\n",
	} {
		if err := os.WriteFile(filepath.Join(b.inputs, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	setupTmp := filepath.Join(b.work, "tmp", "setup")
	if err := os.MkdirAll(setupTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	env := &testscript.Env{WorkDir: b.work, Cd: b.work, Vars: append(slices.Clone(b.vars), "TMPDIR="+setupTmp)}
	if err := loadImage(env, b.box, images.DockerArchive); err != nil {
		t.Fatal(err)
	}
	b.ensureContainers(t)
	return b
}

// ensureContainers makes "stopped" (exited) and "running" (detached,
// running) exist, as every case expects: at setup, and after a case that
// may have disturbed them.
func (b *badBed) ensureContainers(t *testing.T) {
	t.Helper()
	out, err := b.box1("ps", "-a", "--format", "{{.Names}} {{.State}}")
	if err != nil {
		t.Fatalf("box ps: %v", err)
	}
	state := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if n, s, ok := strings.Cut(l, " "); ok {
			state[n] = s
		}
	}
	if state["stopped"] != "exited" {
		_, _ = b.box1("rm", "-f", "stopped")
		if _, err := b.box1("run", "--name", "stopped", imageName, "true"); err != nil {
			t.Fatalf("set up container stopped: %v", err)
		}
	}
	if state["running"] != "running" {
		_, _ = b.box1("rm", "-f", "running")
		if _, err := b.box1("run", "-d", "--name", "running", imageName, "sleep", "1000"); err != nil {
			t.Fatalf("set up container running: %v", err)
		}
	}
}

// box1 runs box for the bed's own needs, not as a case.
func (b *badBed) box1(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.box, args...)
	cmd.Dir = b.work
	cmd.Env = append(slices.Clone(b.vars), "TMPDIR="+filepath.Join(b.work, "tmp", "setup"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("box %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}

// teardown removes the containers and the store, and fails the test if
// anything of the bed is left (findLeftovers, as after every script).
func (b *badBed) teardown(t *testing.T) {
	if _, err := b.box1("rm", "-f", "running", "stopped"); err != nil {
		t.Logf("teardown: %v", err)
	}
	var left leftovers
	for deadline := time.Now().Add(settle); ; time.Sleep(100 * time.Millisecond) {
		left = findLeftovers(b.paths, b.box)
		if left.empty() || time.Now().After(deadline) {
			break
		}
	}
	if !left.empty() {
		left.remove()
		t.Errorf("teardown: %s", left)
	}
	if keepWork() {
		t.Logf("-testwork: leaving the bed in %s", b.work)
		return
	}
	if err := removeStore(b.work); err != nil {
		t.Errorf("teardown: %v", err)
	}
}

// run runs case c (the i-th) and checks what it printed and left.
func (b *badBed) run(t *testing.T, i int, c badCase) {
	tmp := filepath.Join(b.work, "tmp", strconv.Itoa(i))
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	args := make([]string, len(c.args))
	r := strings.NewReplacer("$IMAGE", imageName, "$TMP", tmp, "$INPUTS", b.inputs)
	for j, a := range c.args {
		args[j] = r.Replace(a)
	}
	want, err := regexp.Compile(c.want)
	if err != nil || c.want == "" {
		t.Fatalf("case %s: bad want %q: %v", c.name, c.want, err)
	}

	before := b.snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.box, args...)
	cmd.Dir = b.work
	cmd.Env = append(append(slices.Clone(b.vars), "TMPDIR="+tmp), c.env...)
	if c.stdin != "" {
		cmd.Stdin = strings.NewReader(c.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()

	var problems []string
	exit := 0
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		problems = append(problems, "did not finish within a minute (killed)")
		exit = -1
	case errors.As(runErr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			problems = append(problems, fmt.Sprintf("killed by %v", ws.Signal()))
			exit = -1
		} else {
			exit = ee.ExitCode()
		}
	case runErr != nil:
		t.Fatalf("run box: %v", runErr)
	}
	if exit >= 0 {
		problems = append(problems, checkOutcome(exit, stdout.String(), stderr.String(), want)...)
	}
	after := b.settled(before)
	changed := diffSnapshots(before, after)
	problems = append(problems, changed...)

	if len(problems) == 0 {
		if c.owner != "" {
			t.Logf("passes now: its owner field (%s) can go", c.owner)
		}
		_ = os.Remove(tmp)
		return
	}
	msg := fmt.Sprintf("box %s\n  exit %d\n  stdout %q\n  stderr %q\n  - %s",
		quoteArgs(args), exit, stdout.String(), stderr.String(), strings.Join(problems, "\n  - "))
	if c.owner != "" {
		msg = "[owner: " + c.owner + "]\n" + msg
	}
	t.Error(msg)
	b.repair(t, before, after, tmp)
}

// checkOutcome is the contract for a command line box refuses: status 125,
// nothing on stdout, one line on stderr that starts "box: ", says something
// and matches want, and no usage text.
func checkOutcome(exit int, stdout, stderr string, want *regexp.Regexp) []string {
	var p []string
	if exit != 125 {
		p = append(p, fmt.Sprintf("exit status %d, want 125", exit))
	}
	if stdout != "" {
		p = append(p, "stdout is not empty")
	}
	line, ok := strings.CutSuffix(stderr, "\n")
	switch {
	case stderr == "":
		p = append(p, "stderr is empty, want one line")
		return p
	case !ok || strings.Contains(line, "\n"):
		p = append(p, fmt.Sprintf("stderr has %d lines, want exactly one", strings.Count(strings.TrimSuffix(stderr, "\n"), "\n")+1))
	}
	msg, ok := strings.CutPrefix(line, "box: ")
	if !ok {
		p = append(p, `stderr does not start with "box: "`)
	}
	if strings.TrimSpace(msg) == "" {
		p = append(p, `nothing after "box: "`)
	}
	if strings.Contains(stderr, "Usage:") || strings.Contains(stderr, "Flags:") {
		p = append(p, "stderr holds usage text")
	}
	if ok && !want.MatchString(msg) {
		p = append(p, fmt.Sprintf("the error is not the one the case is about: want it to match %q", want))
	}
	return p
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " '\"$\\{}*?[") {
			q[i] = strconv.Quote(a)
		}
	}
	return strings.Join(q, " ")
}

// repair puts the bed back after a failed case: what the case started is
// killed, what it mounted unmounted (FUSE only, as in cleanup), and the two
// containers made again if the case disturbed them. Files it left stay
// (and were reported): the next case's snapshot starts from them.
func (b *badBed) repair(t *testing.T, before, after badSnapshot, tmp string) {
	var l leftovers
	for k, p := range after.procs {
		if _, ok := before.procs[k]; !ok {
			l.procs = append(l.procs, leftProc{pid: p.pid})
		}
	}
	for _, w := range b.paths {
		ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(w))
		if err != nil {
			continue
		}
		for _, m := range ms {
			if !before.mounts[mountLine(m)] {
				l.mounts = append(l.mounts, m)
			}
		}
	}
	l.remove()
	_ = os.RemoveAll(tmp)
	b.ensureContainers(t)
}

// badSnapshot is what a case must not change.
type badSnapshot struct {
	// files maps each path under $WORK to what matters of it: its type,
	// and a regular file's size. Not times: reading a record or taking a
	// lock may touch them.
	files map[string]string
	// mounts are the lines of /proc/self/mountinfo under $WORK, as
	// "mountpoint fstype source".
	mounts map[string]bool
	// procs are the bed's processes, by pid and start time (a pid may be
	// reused): those findLeftovers would blame on $WORK, and those of this
	// user running this box binary. The running container's monitor,
	// slirp4netns and sleep are among them, so a case that kills them
	// fails too.
	procs map[string]badProc
}

type badProc struct {
	pid  int
	desc string
}

func (b *badBed) snapshot() badSnapshot {
	s := badSnapshot{files: map[string]string{}, mounts: map[string]bool{}, procs: map[string]badProc{}}
	_ = filepath.WalkDir(b.work, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(b.work, p)
		if err != nil {
			// The store holds directories of subordinate ids that the user
			// cannot read (the overlay workdirs are mode 000): they count
			// as they are.
			s.files[rel] = "unreadable"
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if skipFile(rel) {
			return nil
		}
		switch {
		case d.Type().IsRegular():
			if info, err := d.Info(); err == nil {
				s.files[rel] = fmt.Sprintf("file %d bytes", info.Size())
			} else {
				s.files[rel] = "file"
			}
		case d.IsDir():
			s.files[rel] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			dest, _ := os.Readlink(p)
			s.files[rel] = "symlink to " + dest
		default:
			s.files[rel] = d.Type().String()
		}
		return nil
	})
	for _, w := range b.paths {
		ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(w))
		if err != nil {
			continue
		}
		for _, m := range ms {
			s.mounts[mountLine(m)] = true
		}
	}
	self, uid := os.Getpid(), strconv.Itoa(os.Getuid())
	for _, pid := range pids() {
		if pid == self || !alive(pid) {
			continue
		}
		why := attributed(pid, b.paths)
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if why == "" && (exe == b.box || bytes.Contains(cmdline, []byte(b.box))) && procUID(pid) == uid {
			why = "runs this box"
		}
		if why == "" {
			continue
		}
		f := stat(pid)
		if len(f) < 20 {
			continue // gone meanwhile
		}
		cl := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		if len(cl) > 120 {
			cl = cl[:120] + "..."
		}
		s.procs[strconv.Itoa(pid)+"@"+f[19]] = badProc{pid: pid, desc: fmt.Sprintf("pid %d (%s): %s", pid, why, cl)}
	}
	return s
}

// skipFile says which paths under $WORK may appear or change while a
// case runs, whatever it does. Found by running every case and looking at
// what changed:
//
//   - containers/image makes a lock for its short-name alias cache
//     ($HOME/.cache/containers) the first time box resolves a short name,
//     whether or not the pull goes on; Podman does the same. It is that
//     cache's, made once, not something a failed command left.
//
// Nothing else: the bed's containers write nothing while they run; the
// store's lock files exist from setup on, and containers/storage rewrites
// them in place (their size stays, and times are not compared); and an
// image, a container record, a layer, an event or a temporary file that a
// refused command leaves is exactly what the cases look for.
func skipFile(rel string) bool {
	switch rel {
	case filepath.Join("home", ".cache"),
		filepath.Join("home", ".cache", "containers"),
		filepath.Join("home", ".cache", "containers", "short-name-aliases.conf.lock"):
		return true
	}
	return false
}

func mountLine(m *mountinfo.Info) string {
	return m.Mountpoint + " " + m.FSType + " " + m.Source
}

// procUID is the real uid of pid as /proc/PID/status says ("" if gone).
func procUID(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

// settled waits up to settle for the bed to look as before (the command's
// children may take a moment to go) and returns the last snapshot.
func (b *badBed) settled(before badSnapshot) badSnapshot {
	after := b.snapshot()
	for deadline := time.Now().Add(settle); len(diffSnapshots(before, after)) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		after = b.snapshot()
	}
	return after
}

// diffSnapshots lists what differs, sorted.
func diffSnapshots(before, after badSnapshot) []string {
	var d []string
	for p, a := range after.files {
		switch bf, ok := before.files[p]; {
		case !ok:
			d = append(d, fmt.Sprintf("left behind: %s (%s)", p, a))
		case bf != a:
			d = append(d, fmt.Sprintf("changed: %s (%s, was %s)", p, a, bf))
		}
	}
	for p, bf := range before.files {
		if _, ok := after.files[p]; !ok {
			d = append(d, fmt.Sprintf("removed: %s (was %s)", p, bf))
		}
	}
	for m := range after.mounts {
		if !before.mounts[m] {
			d = append(d, "left mounted: "+m)
		}
	}
	for m := range before.mounts {
		if !after.mounts[m] {
			d = append(d, "unmounted: "+m)
		}
	}
	for k, p := range after.procs {
		if _, ok := before.procs[k]; !ok {
			d = append(d, "left running: "+p.desc)
		}
	}
	for k, p := range before.procs {
		if _, ok := after.procs[k]; !ok {
			d = append(d, "ended: "+p.desc)
		}
	}
	slices.Sort(d)
	return d
}

// selfCheck makes sure the checks can fail: a bad outcome is reported,
// and so is each kind of leftover planted in the bed.
func (b *badBed) selfCheck(t *testing.T) {
	anyErr := regexp.MustCompile(`.`)
	for _, o := range []struct {
		exit           int
		stdout, stderr string
	}{
		{1, "", "box: x\n"},
		{125, "out\n", "box: x\n"},
		{125, "", ""},
		{125, "", "box: x\nbox: y\n"},
		{125, "", "box: x"},
		{125, "", "Error: x\n"},
		{125, "", "box: \n"},
		{125, "", "box: x Usage: box run\n"},
	} {
		if len(checkOutcome(o.exit, o.stdout, o.stderr, anyErr)) == 0 {
			t.Errorf("checkOutcome(%d, %q, %q) found nothing wrong", o.exit, o.stdout, o.stderr)
		}
	}
	if p := checkOutcome(125, "", "box: no such container: x\n", regexp.MustCompile(`^image not found`)); len(p) == 0 {
		t.Error("checkOutcome accepted an error other than the case's")
	}
	if p := checkOutcome(125, "", "box: no such container: x; see 'box ps -a'\n", anyErr); len(p) != 0 {
		t.Errorf("checkOutcome refused a good outcome: %q", p)
	}

	before := b.snapshot()
	if len(before.procs) == 0 {
		t.Error("the snapshot sees no process of the running container")
	}
	tmp := filepath.Join(b.work, "tmp", "self-check")
	planted := filepath.Join(b.work, "data", "box", "planted")
	if err := os.MkdirAll(filepath.Join(tmp, "box-leftover"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planted, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	sleeper.Env = []string{"TMPDIR=" + tmp}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	mounted := b.plantMount(t, tmp)

	d := strings.Join(diffSnapshots(before, b.snapshot()), "\n")
	for _, want := range []string{
		"left behind: data/box/planted (file 1 bytes)",
		"left behind: tmp/self-check/box-leftover (dir)",
		fmt.Sprintf("left running: pid %d ", sleeper.Process.Pid),
	} {
		if !strings.Contains(d, want) {
			t.Errorf("planted leftover not reported: want %q in\n%s", want, d)
		}
	}
	if mounted != "" && !strings.Contains(d, "left mounted: "+mounted+" ") {
		t.Errorf("planted mount %s not reported in\n%s", mounted, d)
	}
	t.Logf("planted and seen: a file in the store, a directory in $TMPDIR, process %d, mount %q", sleeper.Process.Pid, mounted)

	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	if mounted != "" {
		if out, err := exec.Command("fusermount3", "-u", mounted).CombinedOutput(); err != nil {
			t.Errorf("fusermount3 -u %s: %v: %s", mounted, err, out)
		}
	}
	_ = os.Remove(planted)
	_ = os.RemoveAll(tmp)
	if d := diffSnapshots(before, b.settled(before)); len(d) > 0 {
		t.Errorf("the bed does not look as before once the plants are gone:\n%s", strings.Join(d, "\n"))
	}
}

// plantMount mounts a FUSE overlay under tmp, which an unprivileged user
// can, and returns its mountpoint; "" (and a log) where it cannot.
func (b *badBed) plantMount(t *testing.T, tmp string) string {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Log("no fuse-overlayfs: the mount check is not self-checked")
		return ""
	}
	if unix.Access("/dev/fuse", unix.R_OK|unix.W_OK) != nil {
		t.Log("no usable /dev/fuse: the mount check is not self-checked")
		return ""
	}
	dirs := map[string]string{}
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		dirs[d] = filepath.Join(tmp, d)
		if err := os.MkdirAll(dirs[d], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", dirs["lower"], dirs["upper"], dirs["work"])
	if out, err := exec.Command("fuse-overlayfs", "-o", opts, dirs["merged"]).CombinedOutput(); err != nil {
		t.Logf("fuse-overlayfs: %v: %s; the mount check is not self-checked", err, out)
		return ""
	}
	return dirs["merged"]
}

// helpCommands lists box's commands as box --help and the groups' help
// show them: "run", ..., "container ls", "image ls", ...
func helpCommands(t *testing.T, b *badBed) []string {
	help := func(args ...string) []string {
		out, err := b.box1(append(args, "--help")...)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range strings.Split(out, "\n") {
			// A command's line: two spaces, then its name (in a group's
			// help, the group and its name).
			if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "   ") || strings.HasPrefix(strings.TrimSpace(l), "-") {
				continue
			}
			f := strings.Fields(l)
			if len(args) > 0 {
				if len(f) > 1 && f[0] == args[0] {
					names = append(names, f[0]+" "+f[1])
				}
				continue
			}
			names = append(names, f[0])
		}
		if len(names) == 0 {
			t.Fatalf("no commands in box %s --help:\n%s", strings.Join(args, " "), out)
		}
		return names
	}
	var cmds []string
	for _, c := range help() {
		cmds = append(cmds, c)
		if c == "container" || c == "image" {
			cmds = append(cmds, help(c)...)
		}
	}
	return cmds
}

// checkCoverage requires a case beyond the unknown flag for every command
// box --help lists, so a new command comes with its bad input.
func checkCoverage(t *testing.T, cmds []string, cases []badCase) {
	covered := map[string]bool{}
	for _, c := range cases {
		args := c.args
		for len(args) > 0 && strings.HasPrefix(args[0], "-") {
			args = args[1:] // global flags
		}
		if len(args) > 0 {
			covered[args[0]] = true
		}
	}
	for _, c := range cmds {
		if !strings.Contains(c, " ") && !covered[c] {
			t.Errorf("no bad-input case for box %s", c)
		}
	}
}
