package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
	if c.Tty {
		if t, err = newTerminal(e, c.Interactive); err != nil {
			return err
		}
		defer t.close()
		cfg.Size = t.size()
		cmd.ExtraFiles = append(cmd.ExtraFiles, t.remote)
	} else {
		cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
		if c.Interactive {
			cmd.Stdin = e.stdin
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
	if err := en.Start(cfg); err != nil {
		return err
	}
	if err := sandbox.ReadExecStatus(en.Status); err != nil {
		_ = cmd.Wait()
		return err
	}
	if c.Detach {
		return cmd.Process.Release()
	}
	if t != nil {
		t.start()
	}
	done := relaySignals(sigs, t, func(sig os.Signal) {
		// nsenter forked the command and passes no signal on.
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
