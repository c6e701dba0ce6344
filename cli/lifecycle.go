package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/containerlog"
	"github.com/boxcli/box/stage"
)

// A running container is kept by its stage (the monitor of a detached one,
// or the process behind box run), PID 1 of the pid namespace that holds
// the container. The stage passes every catchable signal to the
// container's PID 1; SIGKILL kills the stage and with it the whole
// namespace.

type stopCmd struct {
	Time       int      `short:"t" name:"time" default:"10" help:"Seconds to wait for the container to stop before killing it."`
	Ignore     bool     `short:"i" help:"Say nothing of containers that do not exist (podman's --ignore)."`
	Containers []string `arg:"" help:"Containers to stop."`
}

func (c *stopCmd) Run(e *env) error {
	refs := c.Containers
	if c.Ignore {
		_, records, err := openRecords()
		if err != nil {
			return err
		}
		refs = slices.DeleteFunc(slices.Clone(refs), func(ref string) bool {
			_, err := records.Get(ref)
			return errors.Is(err, container.ErrNotFound)
		})
	}
	return forEach(e, refs, "stop", nil, func(records *container.Store, ref string) error {
		return stopOne(records, ref, time.Duration(c.Time)*time.Second)
	})
}

// stopOne sends the container's stop signal, then SIGKILL after timeout.
// Stopping a container that does not run is not an error, as in Docker.
func stopOne(records *container.Store, ref string, timeout time.Duration) error {
	ct, err := records.Get(ref)
	if err != nil {
		return err
	}
	// A start under way (box start in a systemd unit that is being
	// stopped) finishes first, so that what it starts is stopped too.
	unstart, err := records.StartLock(ct.Config.ID)
	if err != nil {
		return err
	}
	defer unstart()
	if ct, err = records.Get(ct.Config.ID); err != nil {
		return err
	}
	if ct.State.Status != container.Running {
		return nil
	}
	sig, err := ct.Config.StopSig()
	if err != nil {
		return err
	}
	pid, start := ct.State.MonitorPid, ct.State.MonitorStart
	records.MarkStopped(ct.Config.ID)
	if err := signalContainer(ct, sig); err != nil {
		return err
	}
	if waitGone(pid, start, timeout) {
		return nil
	}
	if err := signalContainer(ct, syscall.SIGKILL); err != nil {
		return err
	}
	if !waitGone(pid, start, 5*time.Second) {
		// The monitor itself does not answer: take its namespace down.
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid, start, 5*time.Second)
	}
	return nil
}

// signalContainer sends sig to the container's PID 1 directly. The user
// owns the container's user namespace, so the kernel lets box signal any
// process in it; the monitor then sees PID 1 end, records its status and
// the die event. Only when the init cannot be found (it is not up yet) does
// the signal go to the monitor, which passes it on.
func signalContainer(ct *container.Container, sig syscall.Signal) error {
	target := ct.State.MonitorPid
	if init, err := container.InitPid(ct.State); err == nil {
		target = init
	}
	if err := syscall.Kill(target, sig); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("signal container %s: %w", ct.Config.Name, err)
	}
	// A frozen container would keep the signal pending: as runc, resume
	// it so the signal acts.
	thaw(ct)
	return nil
}

// waitGone polls until the keeper is gone; it reports whether it went.
func waitGone(pid int, start uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for container.Alive(pid, start) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

type killCmd struct {
	Signal     string   `short:"s" default:"KILL" help:"Signal to send (name or number)."`
	Containers []string `arg:"" help:"Containers to signal."`
}

func (c *killCmd) Run(e *env) error {
	sig, err := container.ParseSignal(c.Signal)
	if err != nil {
		return err
	}
	return forEach(e, c.Containers, "kill", map[string]string{"signal": strconv.Itoa(int(sig))}, func(records *container.Store, ref string) error {
		ct, err := records.Get(ref)
		if err != nil {
			return err
		}
		if ct.State.Status != container.Running {
			return fmt.Errorf("container %s %w: there is nothing to signal (box start %s starts it)", ct.Config.Name, errNotRunning, ct.Config.Name)
		}
		records.MarkStopped(ct.Config.ID)
		return signalContainer(ct, sig)
	})
}

type logsCmd struct {
	Follow     bool   `short:"f" help:"Follow the log until the container stops."`
	Tail       string `short:"n" default:"all" help:"Number of lines to show from the end, or all."`
	Since      string `help:"Show lines since a time (RFC 3339, or a duration such as 10m)."`
	Until      string `help:"Show lines until a time (RFC 3339, or a duration such as 10m)."`
	Timestamps bool   `short:"t" help:"Show each line's time."`
	Container  string `arg:"" help:"Container."`
}

func (c *logsCmd) Run(e *env) error {
	_, records, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	f := containerlog.Filter{Tail: -1}
	if c.Tail != "all" {
		if f.Tail, err = strconv.Atoi(c.Tail); err != nil || f.Tail < 0 {
			return fmt.Errorf("invalid --tail %q: give a number of lines or all", c.Tail)
		}
	}
	if f.Since, err = parseTime(c.Since); err != nil {
		return err
	}
	if f.Until, err = parseTime(c.Until); err != nil {
		return err
	}
	path := filepath.Join(records.Dir(ct.Config.ID), stage.LogFile)
	entries, off, err := containerlog.Read(path, f)
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	c.print(e, entries)
	if !c.Follow {
		return nil
	}
	f.Tail = -1
	for {
		alive := container.Alive(ct.State.MonitorPid, ct.State.MonitorStart)
		entries, off, err = containerlog.ReadFrom(path, off, f)
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		c.print(e, entries)
		// Read once more after the end, so nothing written last is lost.
		if !alive {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *logsCmd) print(e *env, entries []containerlog.Entry) {
	for _, en := range entries {
		w := e.stdout
		if en.Stream == "stderr" {
			w = e.stderr
		}
		if c.Timestamps {
			fmt.Fprintf(w, "%s %s", en.Time.Format(time.RFC3339Nano), en.Log)
		} else {
			fmt.Fprint(w, en.Log)
		}
	}
}

// parseTime reads --since/--until: RFC 3339, a Unix time, or a duration
// back from now (10m), as Docker does.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(n*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339 (2026-01-02T15:04:05Z), a Unix time, or a duration such as 10m", s)
}

// failures turns a count of already reported errors into the exit status.
func failures(n int) error {
	if n > 0 {
		return exitCode(125)
	}
	return nil
}
