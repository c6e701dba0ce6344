// Package testscripts is box's behaviour suite: each file in testdata/ is a
// testscript (github.com/rogpeppe/go-internal/testscript) that runs the real
// box binary the way a user would, as a transcript:
//
//	# run hands back the command's exit status (#3)
//	exits 3 box run --rm $IMAGE sh -c 'exit 3'
//
// The package holds no code; the harness is in script_test.go. Run it with
//
//	go test -tags "$TAGS" ./testscripts                     # all scripts
//	go test -tags "$TAGS" ./testscripts -run TestScripts/run_exit_status
//	go test -tags "$TAGS" ./testscripts -testwork -v        # keep $WORK
//
// # Writing a script
//
// Name the file after the command it tests (run_exit_status.txtar); the
// first line says the behaviour and the issue. Each script starts with:
//
//   - box first on PATH: the binary built from this checkout with the
//     project's tags, or $BOX_BINARY if set;
//   - HOME=$WORK/home, XDG_DATA_HOME=$WORK/data, XDG_CONFIG_HOME=$WORK/config,
//     XDG_RUNTIME_DIR=$WORK/run (0700), so every script has its own store;
//   - BOX_DATA=$XDG_DATA_HOME/box (box's persistent state; BOX_STATE is the
//     same directory), BOX_RUN=$XDG_RUNTIME_DIR/box;
//   - IMAGE=box-test/busybox already loaded into the store (a static busybox
//     with /etc/passwd, a user box 1000:1000, /owned-by-100 owned 100:100; see
//     package imagetest). A script whose comment has the line "# no-image"
//     starts with an empty store instead;
//   - IMAGES_DIR and the archives themselves: IMAGE_DOCKER_ARCHIVE,
//     IMAGE_OCI_ARCHIVE (ref "latest") and IMAGE_OCI_DIR (ref "latest");
//   - UDPECHO, the path of a static UDP echo tool (testscripts/cmd/udpecho,
//     also on PATH), to mount into containers;
//   - mkimage (testscripts/cmd/mkimage, on PATH): `mkimage -from ARCHIVE
//     -tag NAME -o OUT PATCH.json` writes a copy of a docker-archive whose
//     config a JSON merge patch changed, raw (escape sequences, undated
//     history, 1 ns durations), for box load;
//   - USER, LOGNAME and DBUS_SESSION_BUS_ADDRESS passed through from the
//     test's environment (the systemd user bus of scripts/as-user.sh).
//
// Commands beyond testscript's own:
//
//   - exits N cmd [args...]: run cmd like exec and require exit status N;
//     stdout and stderr can be checked after it. A command killed by a
//     signal never matches (say so instead of 128+N).
//   - [!] waitfor file [timeout]: wait (default 10s) until file exists, or
//     with ! until it no longer does.
//   - freeport NAME...: set each $NAME to a port on 127.0.0.1 free for TCP
//     and UDP a moment ago (for -p).
//   - signal -SIG pidfile|pid: send a signal (-TERM, -HUP, -WINCH, ...) to
//     the pid written in a file, or to a literal pid. testscript's own kill
//     only sends INT or KILL to background commands (kill -INT name).
//   - ptyrun [-size ROWSxCOLS] [-wait REGEXP] [-wait-raw] [-eot] [-raw]
//     [-timeout D] cmd [args...]: run cmd with its stdin, stdout and stderr
//     on a new pty (its controlling terminal, 24x80 by default), as `box
//     run -it` needs. The input is ptyrun's own stdin, so set it with
//     testscript's stdin command; it is written as soon as cmd starts, once
//     the output matches -wait, or (-wait-raw) once cmd has put the
//     terminal in raw mode. -eot sends ^D after the input. Everything cmd wrote to the
//     terminal becomes ptyrun's stdout, with \r\n turned into \n unless -raw.
//     The exit status is cmd's (128+N after signal N; 124 on timeout, default
//     60s), so it composes: `exits 3 ptyrun box run -it $IMAGE sh -c 'exit 3'`.
//     testscript's ttyin/ttyout are not enough for box: they put only stdin
//     (ttyin -stdin) on the terminal, never stdout or stderr.
//
// Conditions beyond testscript's own ([exec:slirp4netns], [short], ...):
//
//   - [root]: the test runs as root.
//   - [subuid]: the user has a range in /etc/subuid and newuidmap exists.
//   - [cgroup2]: /sys/fs/cgroup is cgroup2 and the test's own cgroup is
//     writable (delegated), as under scripts/as-user.sh.
//   - [user-dbus]: a session bus (systemd --user) is reachable.
//   - [cgroup-controller:NAME]: the test's cgroup has controller NAME to
//     give (none do on a v1/hybrid host; the VM stage has them).
//
// A missing host tool skips with its reason:
//
//	[!exec:slirp4netns] skip 'needs slirp4netns'
//
// # Nothing left behind
//
// After every script, passed or failed, the harness removes the store (its
// files belong to subordinate ids, so inside `unshare --map-auto
// --map-root-user`) and fails the script if a mount under $WORK remains, or
// a process whose cwd or root is under $WORK, whose environment names
// $WORK, or whose mount namespace has a mount naming $WORK. It lists and
// kills what it finds. So no test needs to check for leaks itself.
package testscripts
