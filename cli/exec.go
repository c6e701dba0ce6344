package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/enter"
	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/sandbox"
)

type execCmd struct {
	Interactive bool     `short:"i" help:"Keep stdin open and attach it to the command."`
	Tty         bool     `short:"t" help:"Allocate a pseudo-terminal in the container."`
	Detach      bool     `short:"d" help:"Run the command in the background."`
	Env         []string `short:"e" sep:"none" help:"Set an environment variable (KEY=VALUE, or KEY to copy it from here)."`
	Workdir     string   `short:"w" help:"Working directory inside the container."`
	User        string   `short:"u" help:"User to run as: name or uid, with an optional :group or :gid."`
	Privileged  bool     `help:"Give the command every capability of the container's user namespace."`
	Container   string   `arg:"" help:"Container."`
	Command     []string `arg:"" passthrough:"" help:"Command and arguments."`
}

// enterContainer prepares role to run in the namespaces of a running
// container (see package enter).
func enterContainer(ct *container.Container, role string, namespaces ...string) (*enter.Entry, error) {
	initPid, err := container.InitPid(ct.State)
	if err != nil {
		return nil, err
	}
	return enter.New(initPid, ct.State.Cgroup, role, namespaces...)
}

// enterable refuses a container whose namespaces cannot be entered now.
func enterable(ct *container.Container) error {
	switch {
	case ct.State.Status != container.Running:
		return fmt.Errorf("container %s %w; start it first", ct.Config.Name, errNotRunning)
	case ct.State.Restarting:
		return fmt.Errorf("container %s is restarting (its restart policy's back-off); wait until it runs", ct.Config.Name)
	case paused(ct):
		return fmt.Errorf("container %s is paused; unpause it first (box unpause %s)", ct.Config.Name, ct.Config.Name)
	}
	return nil
}

// withoutTerminal gives cmd, a command in a container without -t, the
// CLI's stdio (stdin only if interactive), except where it is a terminal:
// the container must never get the user's terminal, whose modes it could
// change for good (stty -F /proc/self/fd/1) and on which it could read
// what the user types; programs also behave differently on one (colour,
// paging, prompts). There, as Docker and Podman, it gets pipes that box
// relays: one for stdout and stderr when they are the same terminal, so
// their order stays. closeTheirs closes box's end of the stdin pipe, once
// cmd has started.
func withoutTerminal(e *env, cmd *exec.Cmd, interactive bool) (closeTheirs func(), err error) {
	closeTheirs = func() {}
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	out, outTTY := terminalFile(e.stdout)
	errf, errTTY := terminalFile(e.stderr)
	if outTTY || errTTY {
		// exec.Cmd relays a writer that is not an *os.File through a pipe,
		// and gives the command one pipe for two equal writers.
		relayed := struct{ io.Writer }{out}
		if outTTY {
			cmd.Stdout = relayed
		}
		if errTTY {
			cmd.Stderr = struct{ io.Writer }{errf}
			if outTTY && sameFile(out, errf) {
				cmd.Stderr = relayed
			}
		}
		// A process the command left behind may hold the pipes: box exec
		// returns with the command, as it did when they were the terminal.
		cmd.WaitDelay = time.Second
	}
	if !interactive {
		return closeTheirs, nil
	}
	in, inTTY := terminalFile(e.stdin)
	if !inTTY {
		cmd.Stdin = e.stdin
		return closeTheirs, nil
	}
	// A pipe of our own, not exec.Cmd's: its copy would wait for the
	// user's next line after the command ended. The end of input (^D) is
	// the end of the command's stdin.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	go func() {
		_, _ = io.Copy(pw, in)
		pw.Close()
	}()
	cmd.Stdin = pr
	return func() { pr.Close() }, nil // nsenter has its copy
}

// terminalFile says whether s is a terminal, and gives it as a file.
func terminalFile(s any) (*os.File, bool) {
	f, ok := s.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

// sameFile says a and b are the same open file (one terminal).
func sameFile(a, b *os.File) bool {
	sa, err1 := a.Stat()
	sb, err2 := b.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// errNotRunning refuses to exec into a container that does not run.
var errNotRunning = errors.New("is not running")

// Run enters a running container. Go cannot join a user namespace once it
// has threads, so util-linux nsenter joins the namespaces of the
// container's init and runs a sealed in-memory copy of box there (the Exec
// role), which drops to the container's restrictions and execs the
// command. The copy keeps the host's box binary out of reach of the
// container through /proc/PID/exe (CVE-2019-5736).
func (c *execCmd) Run(e *env) error {
	_, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	if err := enterable(ct); err != nil {
		return err
	}

	cfg := sandbox.ExecConfig{
		Args:       c.Command,
		Cwd:        ct.Config.WorkingDir,
		User:       ct.Config.User,
		Tty:        c.Tty,
		Privileged: c.Privileged,
		Security:   ct.Config.Security,
	}
	if c.Workdir != "" {
		cfg.Cwd = c.Workdir
	}
	if c.User != "" {
		cfg.User = c.User
	}
	if cfg.Cwd == "" {
		cfg.Cwd = "/"
	}
	extra, err := buildEnv(nil, c.Env, osLookupEnv)
	if err != nil {
		return err
	}
	cfg.Env = append(append([]string{}, ct.Config.Env...), extra...)

	en, err := enterContainer(ct, roles.Exec, "--user", "--mount", "--pid", "--uts", "--ipc", "--net")
	if err != nil {
		return err
	}
	defer en.Close()
	cmd := en.Cmd
	var t *terminal
	closeTheirs := func() {}
	if c.Tty {
		if t, err = newTerminal(e, c.Interactive); err != nil {
			return err
		}
		defer t.close()
		cfg.Size = t.size()
		cmd.ExtraFiles = append(cmd.ExtraFiles, t.remote)
	} else {
		if closeTheirs, err = withoutTerminal(e, cmd, c.Interactive && !c.Detach); err != nil {
			return err
		}
	}
	if c.Detach {
		cmd.Stdout, cmd.Stderr = nil, nil
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Setsid = true
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals()...)
	defer signal.Stop(sigs)
	err = en.Start(cfg)
	closeTheirs()
	if err != nil {
		return err
	}
	if err := sandbox.ReadExecStatus(en.Status); err != nil {
		_ = cmd.Wait()
		return err
	}
	if err := en.LeaveCgroup(); err != nil {
		e.warn(err.Error())
	}
	if c.Detach {
		return cmd.Process.Release()
	}
	if t != nil {
		t.start()
	}
	done := relaySignals(sigs, t, func(sig os.Signal) {
		// The exec helper forked the command and passes no signal on.
		if child, err := container.ChildOf(cmd.Process.Pid); err == nil {
			_ = syscall.Kill(child, sig.(syscall.Signal))
		}
	})
	err = cmd.Wait()
	close(done)
	if t != nil {
		t.drain()
	}
	return exitCode(sandbox.ExitCode(cmd.ProcessState, err))
}
