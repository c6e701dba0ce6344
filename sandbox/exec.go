package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"

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

// The exec helper's inherited descriptors (see cli/exec.go): fd 3 is the
// sealed copy of box it runs from.
const (
	execFdConfig  = 4
	execFdErrors  = 5
	execFdConsole = 6
)

// ExecMain is the Exec role. It runs in every namespace of a running
// container, entered by nsenter, as root of the container's user namespace
// with all its capabilities: it takes them away again before the command
// runs, exactly as the init did for the container's own processes.
func ExecMain() int {
	runtime.LockOSThread()
	// Until the exec, this process is box: keep the container's processes
	// from reading or tracing it.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	errPipe := os.NewFile(execFdErrors, "errors")
	fail := func(kind string, err error) int {
		_ = json.NewEncoder(errPipe).Encode(setupError{Kind: kind, Msg: err.Error()})
		return 125
	}
	var cfg ExecConfig
	if err := json.NewDecoder(os.NewFile(execFdConfig, "config")).Decode(&cfg); err != nil {
		return fail("", fmt.Errorf("read exec config: %w", err))
	}
	if len(cfg.Args) == 0 {
		return fail("config", fmt.Errorf("no command given"))
	}
	user, err := resolveUser(cfg.User)
	if err != nil {
		return fail("config", err)
	}
	hostname, _ := os.Hostname()
	env := defaultEnv(cfg.Env, hostname, user.Home, cfg.Tty)
	if _, err := unix.Setsid(); err != nil {
		return fail("", fmt.Errorf("setsid: %w", err))
	}
	if cfg.Tty {
		if err := attachConsole(os.NewFile(execFdConsole, "console"), cfg.Size, user); err != nil {
			return fail("", err)
		}
	}
	if err := noHostDirStdio(); err != nil {
		return fail("config", err)
	}
	path, err := lookPath(cfg.Args[0], envValue(env, "PATH"))
	if err != nil {
		return fail(execKind(err), err)
	}
	cwd, err := withRoot(func(root *os.File) (*os.File, error) { return openCwd(root, cfg.Cwd) })
	if err != nil {
		return fail("config", err)
	}
	if err := restrict(user, cfg.Security, cfg.Privileged); err != nil {
		return fail("", err)
	}
	err = enterCwd(cfg.Cwd, cwd)
	cwd.Close()
	if err != nil {
		return fail("config", err)
	}
	if err := cloexec.All(); err != nil {
		return fail("", err)
	}
	// nsenter's parent waits for us holding the status pipe open, so its
	// end cannot mean success: say so, then exec. An exec that still fails
	// (lookPath checked the file) can only be told on stderr.
	_ = json.NewEncoder(errPipe).Encode(setupError{Kind: "started"})
	err = unix.Exec(path, cfg.Args, env)
	fmt.Fprintf(os.Stderr, "box: exec %q: %v\n", cfg.Args[0], err)
	if execKind(err) == "not-found" {
		return 127
	}
	return 126
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
