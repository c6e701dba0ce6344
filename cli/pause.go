package cli

import (
	"fmt"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
)

type pauseCmd struct {
	Containers []string `arg:"" help:"Containers to pause."`
}

type unpauseCmd struct {
	Containers []string `arg:"" help:"Containers to resume."`
}

func (c *pauseCmd) Run(e *env) error   { return freezeAll(e, c.Containers, true) }
func (c *unpauseCmd) Run(e *env) error { return freezeAll(e, c.Containers, false) }

// freezeAll pauses or resumes containers with their cgroup's freezer:
// every process stops where it is, without a signal it could see.
func freezeAll(e *env, refs []string, on bool) error {
	action := "unpause"
	if on {
		action = "pause"
	}
	return forEach(e, refs, action, nil, func(records *container.Store, ref string) error {
		return freezeOne(records, ref, on)
	})
}

func freezeOne(records *container.Store, ref string, on bool) error {
	ct, err := records.Get(ref)
	if err != nil {
		return err
	}
	if ct.State.Status != container.Running {
		return fmt.Errorf("container %s %w; start it first (box start %s)", ct.Config.Name, errNotRunning, ct.Config.Name)
	}
	if ct.State.Cgroup == "" {
		return fmt.Errorf("container %s has no cgroup to freeze: %w", ct.Config.Name, cgdelegate.ErrUnavailable)
	}
	g := cgdelegate.Group{Dir: ct.State.Cgroup}
	if g.Frozen() == on {
		if on {
			return fmt.Errorf("container %s is already paused", ct.Config.Name)
		}
		return fmt.Errorf("container %s is not paused", ct.Config.Name)
	}
	return g.Freeze(on)
}

// paused says whether a running container is frozen (ps, inspect).
func paused(ct *container.Container) bool {
	return ct.State.Status == container.Running && ct.State.Cgroup != "" && (cgdelegate.Group{Dir: ct.State.Cgroup}).Frozen()
}

// thaw resumes a paused container, so that a signal just sent can act
// (stop, kill, rm -f of a paused container).
func thaw(ct *container.Container) {
	if paused(ct) {
		_ = (cgdelegate.Group{Dir: ct.State.Cgroup}).Freeze(false)
	}
}
