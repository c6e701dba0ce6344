package cli

import (
	"errors"
	"fmt"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/stage"
)

type updateCmd struct {
	limitFlags
	Restart    string   `help:"New restart policy: no, on-failure[:N], always, unless-stopped."`
	Containers []string `arg:"" help:"Containers to change."`
}

// Run records the new limits (a later start or restart uses them) and, on
// a running container, writes them to its cgroup at once, as docker update
// does.
func (c *updateCmd) Run(e *env) error {
	n, err := c.parse()
	if err != nil {
		return err
	}
	if n.Zero() && c.Restart == "" {
		return errors.New("box update needs at least one flag: a resource limit or --restart")
	}
	if c.Restart != "" {
		if _, err := stage.ParseRestart(c.Restart); err != nil {
			return err
		}
	}
	return forEach(e, c.Containers, "update", nil, func(records *container.Store, ref string) error {
		return c.updateOne(records, ref, n)
	})
}

func (c *updateCmd) updateOne(records *container.Store, ref string, n cgdelegate.Limits) error {
	ct, err := records.Get(ref)
	if err != nil {
		return err
	}
	var merged cgdelegate.Limits
	err = records.UpdateConfig(ct.Config.ID, func(cfg *container.Config) error {
		merged = cfg.Limits.Merge(n)
		files, err := merged.Files()
		if err != nil {
			return err
		}
		if len(files) > 0 && cfg.Cgroups == "disabled" {
			return fmt.Errorf("container %s runs with --cgroups=disabled: it cannot have resource limits", cfg.Name)
		}
		if c.Restart != "" && c.Restart != "no" && cfg.AutoRemove {
			return fmt.Errorf("container %s has --rm: a removed container cannot restart", cfg.Name)
		}
		// Checked before anything is recorded: a running container must
		// take the limits now, or keep its old ones.
		if !n.Zero() && ct.State.Status == container.Running {
			if err := applyLive(ct, files); err != nil {
				return err
			}
		}
		cfg.Limits = merged
		if c.Restart != "" {
			cfg.Restart = c.Restart
		}
		return nil
	})
	return err
}

// applyLive writes limits to a running container's cgroup.
func applyLive(ct *container.Container, files map[string]string) error {
	if ct.State.Cgroup == "" {
		return fmt.Errorf("container %s runs without a cgroup of its own, so its limits cannot change until it is started again: %w", ct.Config.Name, cgdelegate.ErrUnavailable)
	}
	extra := 0
	if init, err := container.InitPid(ct.State); err == nil {
		extra = stage.InitTasks(ct.Config, init)
	}
	return cgdelegate.Group{Dir: ct.State.Cgroup}.Update(files, extra)
}
