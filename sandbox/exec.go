package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/cloexec"
	"github.com/boxcli/box/security"
)

// ExecConfig is what box exec's helper needs inside the container.
type ExecConfig struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Cwd  string   `json:"cwd"`
	User string   `json:"user,omitempty"`
	Tty  bool     `json:"tty,omitempty"`
	Size TermSize `json:"size"`
	// Privileged: every capability (box exec --privileged); Security is
	// the container's own settings, which the command is held to.
	Privileged bool             `json:"privileged,omitempty"`
	Security   security.Options `json:"security"`
}

// The exec helper's inherited descriptors (see package enter and
// cli/exec.go): fd 3 is the sealed copy of box it runs from.
const (
	execFdSelf    = 3
	execFdConfig  = 4
	execFdErrors  = 5
	execFdPidNS   = 6
	execFdConsole = 7
)

// ExecMain is the Exec role. nsenter has put it in the container's user,
// mount, uts, ipc and net namespaces, as root of the user namespace with
// all its capabilities, but not in its pid namespace (see package enter):
// no process of the container can see it while it holds them. It takes
// them away again on every thread, exactly as the init did for the
// container's own processes, forks the command into the container's pid
// namespace, and waits for it, ending with its status.
func ExecMain() int {
	// The pid namespace, capabilities and the controlling terminal belong
	// to a thread: this one does every step and the fork.
	runtime.LockOSThread()
	// Nothing of the container can reach this process, but what it forks
	// shares its memory until the command is exec'd (vfork).
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	errPipe := os.NewFile(execFdErrors, "errors")
	fail := func(kind string, err error) int {
		_ = json.NewEncoder(errPipe).Encode(setupError{Kind: kind, Msg: err.Error()})
		return 125
	}
	ids, err := leaveCallersRoot()
	if err != nil {
		return fail("", err)
	}
	var cfg ExecConfig
	config := os.NewFile(execFdConfig, "config")
	err = json.NewDecoder(config).Decode(&cfg)
	config.Close()
	if err != nil {
		return fail("", fmt.Errorf("read exec config: %w", err))
	}
	if len(cfg.Args) == 0 {
		return fail("config", fmt.Errorf("no command given"))
	}
	user, err := resolveUser(cfg.User, ids)
	if err != nil {
		return fail("config", err)
	}
	hostname, _ := os.Hostname()
	env := defaultEnv(cfg.Env, hostname, user.Home, cfg.Tty)
	if err := noHostDirStdio(); err != nil {
		return fail("config", err)
	}
	stdio := []uintptr{0, 1, 2}
	var tty *os.File
	if cfg.Tty {
		if tty, err = openConsole(os.NewFile(execFdConsole, "console"), cfg.Size, user, ids.ttyGID()); err != nil {
			return fail("", err)
		}
		stdio = []uintptr{tty.Fd(), tty.Fd(), tty.Fd()}
	}
	path, err := lookPath(cfg.Args[0], envValue(env, "PATH"))
	if err != nil {
		return fail(execKind(err), err)
	}
	cwd, err := withRoot(func(root *os.File) (*os.File, error) { return openCwd(root, cfg.Cwd) })
	if err != nil {
		return fail("config", err)
	}
	// Children of this thread are born in the container's pid namespace;
	// entering it needs the capabilities restrict takes.
	if err := unix.Setns(execFdPidNS, unix.CLONE_NEWPID); err != nil {
		return fail("", fmt.Errorf("enter the container's pid namespace: %w", err))
	}
	// What the command's vfork child holds until its exec, the container
	// can see: no more than the pipe this process reports on.
	unix.Close(execFdPidNS)
	unix.Close(execFdSelf)
	if err := restrict(user, cfg.Security, cfg.Privileged); err != nil {
		return fail("", err)
	}
	// A change of ids set dumpable from fs.suid_dumpable, which may be 1;
	// the command's vfork child shares this memory until its exec.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	err = enterCwd(cfg.Cwd, cwd)
	cwd.Close()
	if err != nil {
		return fail("config", err)
	}
	if err := cloexec.All(); err != nil {
		return fail("", err)
	}
	// A session of its own, and the pty as its terminal: the container's
	// processes cannot push input into the caller's (TIOCSTI).
	pid, err := syscall.ForkExec(path, cfg.Args, &syscall.ProcAttr{
		Env:   env,
		Files: stdio,
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: cfg.Tty, Ctty: 0},
	})
	if err != nil {
		return fail(execKind(err), fmt.Errorf("exec %q: %w", cfg.Args[0], err))
	}
	if tty != nil {
		// The command's now: the terminal ends when it lets go of it.
		tty.Close()
	}
	// The caller waits for this process, so the end of this pipe cannot
	// mean success: say so.
	_ = json.NewEncoder(errPipe).Encode(setupError{Kind: "started"})
	errPipe.Close()
	return waitExit(pid)
}

// leaveCallersRoot is the first step of a role that nsenter started (see
// package enter): it is in the container's mount namespace, but its
// working directory is still the root of its caller's, the one place it
// can reach its own /proc entry from (the container's /proc does not show
// it). It reads its user namespace's id maps there, and goes to the
// container's root.
func leaveCallersRoot() (idMaps, error) {
	ids, err := readIDMaps("proc/self")
	if err != nil {
		return idMaps{}, err
	}
	if err := unix.Chdir("/"); err != nil {
		return idMaps{}, fmt.Errorf("enter the container's root: %w", err)
	}
	return ids, nil
}

// waitExit waits for child pid and returns Docker's code for how it ended.
func waitExit(pid int) int {
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		switch {
		case err != nil:
			return 125
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// ReadExecStatus reads the exec helper's one message: nil when it is
// about to exec the command, else why it could not.
func ReadExecStatus(r io.Reader) error {
	var se setupError
	if err := json.NewDecoder(r).Decode(&se); err != nil {
		return fmt.Errorf("the exec helper ended without a word (%v)", err)
	}
	if se.Kind == "started" {
		return nil
	}
	return se.err()
}
