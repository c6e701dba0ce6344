package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/userns"
)

// Stdio is what the container's process gets when it has no terminal.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Console        *os.File // for Tty: socket on which the init sends the pty master
}

// Process is a started container, seen from the stage.
type Process struct {
	cmd *exec.Cmd
	// done undoes, once the init has ended, what Start made for it.
	done func()
}

// Start clones the init into the container's namespaces and waits until it
// has exec'd the command (or failed to). beforeRun, if set, runs once the
// init exists but before it may go on (to write nested id maps).
func Start(cfg Config, stdio Stdio, beforeRun func(pid int) error) (_ *Process, err error) {
	if cfg.LockMounts && !cfg.NestedUserNS {
		return nil, errors.New("locked mounts need a nested user namespace")
	}
	done := func() {}
	if cfg.LockMounts {
		if err := prepareRootfs(&cfg); err != nil {
			return nil, fmt.Errorf("prepare the root filesystem: %w", err)
		}
		done = func() { undoRootfs(&cfg) }
		defer func() {
			if err != nil {
				done()
			}
		}()
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer errR.Close()
	defer errW.Close()

	cmd := exec.Command(readOnlySelf())
	cmd.Args = []string{"box-init"}
	// One P: the init's threads count against --pids-limit, and it needs
	// no parallelism. No cgroup files held open for the runtime's CPU
	// limit either: they are the host's, and a --init that a container
	// may trace shows its descriptors in /proc/1/fd. The command gets the
	// container's environment, not this.
	cmd.Env = []string{roles.Env + "=" + roles.Init, "GOMAXPROCS=1", "GODEBUG=containermaxprocs=0"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	// fd 3: config, fd 4: setup errors (closed by exec), fd 5: console socket.
	cmd.ExtraFiles = []*os.File{cfgR, errW}
	if stdio.Console != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, stdio.Console)
	}
	flags := unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	if cfg.NewNet {
		flags |= unix.CLONE_NEWNET
	}
	if cfg.NestedUserNS {
		flags |= unix.CLONE_NEWUSER
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags), Pdeathsig: syscall.SIGKILL}
	if cfg.NestedUserNS {
		// Exec'd before its map exists, the init would lose its
		// capabilities; ambient ones survive the exec (see userns.Start).
		caps, err := userns.AllCaps()
		if err != nil {
			return nil, err
		}
		cmd.SysProcAttr.AmbientCaps = caps
	}
	if err := startIn(cmd, cfg.JoinNetNS); err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	cfgR.Close()
	errW.Close()
	fail := func(err error) (*Process, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	if beforeRun != nil {
		if err := beforeRun(cmd.Process.Pid); err != nil {
			return fail(err)
		}
	}
	if err := json.NewEncoder(cfgW).Encode(cfg); err != nil {
		return fail(fmt.Errorf("send config to init: %w", err))
	}
	cfgW.Close()
	// The init writes here only when it fails; a successful exec closes
	// the pipe (it is close-on-exec), so EOF with no data means "running".
	msg, err := io.ReadAll(errR)
	if err != nil {
		return fail(fmt.Errorf("read init status: %w", err))
	}
	if len(msg) > 0 {
		var se setupError
		if json.Unmarshal(msg, &se) != nil {
			se.Msg = string(msg)
		}
		_ = cmd.Wait()
		return nil, se.err()
	}
	return &Process{cmd: cmd, done: done}, nil
}

// readOnlySelf returns the path of this box binary with a read-only bind
// mount of it on top, made in the stage's own mount namespace, for the
// init to be exec'd from. With --init, box stays the container's PID 1,
// and its /proc/1/exe then names that read-only mount, which the pivot
// detaches from every tree: a container process that gets hold of it
// cannot write to the host's box (CVE-2019-5736 class), nor remount it.
// Where the path no longer names the running binary (replaced since it
// started), the init runs from /proc/self/exe, guarded only by being
// non-dumpable.
func readOnlySelf() string {
	const self = "/proc/self/exe"
	p, err := os.Readlink(self)
	if err != nil {
		return self
	}
	var a, b unix.Stat_t
	if unix.Stat(self, &a) != nil || unix.Stat(p, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		return self
	}
	var fs unix.Statfs_t
	if unix.Statfs(p, &fs) == nil && fs.Flags&unix.ST_RDONLY != 0 {
		return p // done already (a restart), or installed read-only
	}
	if err := unix.Mount(p, p, "", unix.MS_BIND, ""); err != nil {
		return self
	}
	if err := remountROPath(p, false); err != nil {
		_ = unix.Unmount(p, unix.MNT_DETACH)
		return self
	}
	return p
}

// startIn starts cmd in the network namespace netns (nil: this one). A
// child is born in its forking thread's namespaces, so the fork happens
// from a thread locked and moved there, which then moves back; a thread
// that cannot is left to die with its goroutine rather than reused.
func startIn(cmd *exec.Cmd, netns *os.File) error {
	if netns == nil {
		return cmd.Start()
	}
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer own.Close()
	if err := unix.Setns(int(netns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter the network namespace: %w", err)
	}
	err = cmd.Start()
	if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return err
}

// Pid is the container's PID 1 as the stage sees it.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the container's PID 1.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the container's PID 1 and returns Docker's exit code:
// its status, or 128+N when signal N killed it.
func (p *Process) Wait() int {
	err := p.cmd.Wait()
	p.done()
	return ExitCode(p.cmd.ProcessState, err)
}

// ExitCode turns a wait status into Docker's convention.
func ExitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 125
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
