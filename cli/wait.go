package cli

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/health"
)

type waitCmd struct {
	Condition  []string      `sep:"none" help:"What to wait for: stopped or exited (the default; Docker's not-running), removed, running, paused, healthy or unhealthy; given twice, either one."`
	Interval   time.Duration `short:"i" default:"250ms" help:"How often to look, for conditions other than stopped."`
	Containers []string      `arg:"" help:"Containers to wait for; prints each exit code (-1 for conditions other than stopped, exited and removed)."`
}

// exitCondition: met when the container's keeper is gone; the answer is
// its exit code.
func exitCondition(cond string) bool {
	return cond == "stopped" || cond == "exited" || cond == "not-running"
}

func knownCondition(cond string) bool {
	switch cond {
	case "removed", "running", "paused", health.Healthy, health.Unhealthy:
		return true
	}
	return exitCondition(cond)
}

func (c *waitCmd) Run(e *env) error {
	for _, cond := range c.Condition {
		if !knownCondition(cond) {
			return fmt.Errorf("invalid --condition %q: want one of stopped, exited, not-running, removed, running, paused, healthy, unhealthy", cond)
		}
	}
	if c.Interval <= 0 {
		return fmt.Errorf("invalid --interval %v: it must be positive", c.Interval)
	}
	_, records, err := openRecords()
	if err != nil {
		return err
	}
	failed := 0
	for _, ref := range c.Containers {
		code, err := c.wait(records, ref)
		if err != nil {
			report(e, err)
			failed++
			continue
		}
		fmt.Fprintln(e.stdout, code)
	}
	return failures(failed)
}

// wait waits for one container and returns what box wait prints for it.
func (c *waitCmd) wait(records *container.Store, ref string) (int, error) {
	ct, err := records.Get(ref)
	if err != nil {
		return 0, err
	}
	conds := c.Condition
	if len(conds) == 0 {
		conds = []string{"stopped"}
	}
	if !slices.ContainsFunc(conds, func(s string) bool { return !exitCondition(s) }) {
		// Only the end counts: wait for the keeper, not the record.
		waitGone(ct.State.MonitorPid, ct.State.MonitorStart, 100*365*24*time.Hour)
		if ct, err = records.Get(ct.Config.ID); err != nil {
			// Removed when it ended (--rm): its status is gone with it.
			return 0, err
		}
		return ct.State.ExitCode, nil
	}
	if (slices.Contains(conds, health.Healthy) || slices.Contains(conds, health.Unhealthy)) && !ct.Config.Healthcheck.Enabled() {
		return 0, fmt.Errorf("container %s has no healthcheck to wait for: give it one with --health-cmd", ct.Config.Name)
	}
	id, last := ct.Config.ID, ct.State.ExitCode
	for ; ; time.Sleep(c.Interval) {
		ct, err := records.Get(id)
		if errors.Is(err, container.ErrNotFound) && slices.Contains(conds, "removed") {
			return last, nil
		}
		if err != nil {
			return 0, err
		}
		last = ct.State.ExitCode
		ended := ct.State.Status == container.Exited || ct.State.Status == container.Running && !container.Alive(ct.State.MonitorPid, ct.State.MonitorStart)
		for _, cond := range conds {
			switch {
			case exitCondition(cond) && ended:
				return ct.State.ExitCode, nil
			case cond == "running" && ct.State.Status == container.Running && !ended,
				cond == "paused" && paused(ct),
				(cond == health.Healthy || cond == health.Unhealthy) && healthStatus(ct) == cond:
				return -1, nil
			}
		}
		if ended && !slices.Contains(conds, "removed") {
			return 0, fmt.Errorf("container %s stopped (exit code %d) before it was %s", ct.Config.Name, ct.State.ExitCode, conds[0])
		}
	}
}
