// Package probe runs one healthcheck inside a running container, the way
// box exec runs a command there: nsenter into its namespaces and cgroup,
// then box's Exec role holds the check to the container's user,
// capabilities, seccomp filter and environment.
package probe

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/enter"
	"github.com/boxcli/box/health"
	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/sandbox"
)

// Target is the running container a check enters.
type Target struct {
	Init   int    // its PID 1, as the caller's /proc numbers it
	Cgroup string // its cgroup directory, "" for none
	// Exec holds the container's env, working directory, user and
	// security settings; Run fills in the command.
	Exec sandbox.ExecConfig
}

// Run runs test in t and reports the result; a check that outlives
// timeout, or ctx, is killed with its process group and fails with -1.
func Run(ctx context.Context, t Target, test []string, timeout time.Duration) health.Result {
	res := health.Result{Start: time.Now().UTC(), ExitCode: -1}
	done := func(format string, args ...any) health.Result {
		if format != "" {
			res.Output = fmt.Sprintf(format, args...)
		}
		res.End = time.Now().UTC()
		return res
	}
	args, err := health.Command(test)
	if err != nil {
		return done("%v", err)
	}
	cfg := t.Exec
	cfg.Args, cfg.Tty, cfg.Privileged = args, false, false
	if cfg.Cwd == "" {
		cfg.Cwd = "/"
	}
	en, err := enter.New(t.Init, t.Cgroup, roles.Exec, "--user", "--mount", "--pid", "--uts", "--ipc", "--net")
	if err != nil {
		return done("%v", err)
	}
	defer en.Close()
	out := &capped{max: health.MaxOutput}
	en.Cmd.Stdout, en.Cmd.Stderr = out, out
	// A check that leaves a background process holding its output must
	// not hold the probe past its own end.
	en.Cmd.WaitDelay = time.Second
	if err := en.Start(cfg); err != nil {
		return done("%v", err)
	}
	// The timeout, and ctx (the container is going), cut short the wait
	// for the role to start the check as well as the wait for its end: a
	// check frozen by a pause, or held up by the container's dying, must
	// not hold up the monitor, which waits for it before it records the
	// container's exit.
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	started := make(chan error, 1)
	go func() { started <- sandbox.ReadExecStatus(en.Status) }()
	waited := make(chan error, 1)
	select {
	case err := <-started:
		if err != nil {
			_ = en.Cmd.Wait()
			return done("%v", err)
		}
		// Best effort: a helper left in the container's cgroup only counts.
		_ = en.LeaveCgroup()
		go func() { waited <- en.Cmd.Wait() }()
		select {
		case err := <-waited:
			res.ExitCode = sandbox.ExitCode(en.Cmd.ProcessState, err)
			res.Output = out.String()
			return done("")
		case <-timer.C:
		case <-ctx.Done():
		}
	case <-timer.C:
		go func() { waited <- en.Cmd.Wait() }()
	case <-ctx.Done():
		go func() { waited <- en.Cmd.Wait() }()
	}
	// The exec helper forked the check, which made itself a session of
	// its own: take down every process group of that session (a shell's
	// jobs, timeout(1), ... each make one), then let the helper reap the
	// check and go. Killing the helper first would leave the check's
	// zombie to the container's PID 1 (the helper is outside the
	// container's pid namespace, the check inside), which may never reap
	// it.
	if child, err := container.ChildOf(en.Cmd.Process.Pid); err == nil {
		killSession(child)
	}
	select {
	case <-waited:
	case <-time.After(reapWait):
		_ = en.Cmd.Process.Kill()
		<-waited
	}
	if ctx.Err() != nil {
		return done("health check cancelled: the container is stopping")
	}
	return done("Health check exceeded timeout (%v)", timeout)
}

// reapWait is how long the exec helper has to reap a killed check and
// leave.
const reapWait = time.Second

// killSession SIGKILLs every process of session sid, group by group.
// What a check started in a session of its own (setsid) lives on in the
// container, as it would after docker exec.
func killSession(sid int) {
	_ = syscall.Kill(-sid, syscall.SIGKILL)
	_ = syscall.Kill(sid, syscall.SIGKILL)
	for _, pid := range container.InSession(sid) {
		if pgid, err := syscall.Getpgid(pid); err == nil {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// capped keeps the first max bytes written to it and drops the rest, so a
// chatty check cannot grow the monitor.
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }

// TargetOf is the target of container cfg's checks, whose init is pid.
func TargetOf(cfg container.Config, pid int, cgroup string) Target {
	return Target{Init: pid, Cgroup: cgroup, Exec: sandbox.ExecConfig{
		Env: cfg.Env, Cwd: cfg.WorkingDir, User: cfg.User, Security: cfg.Security,
	}}
}
