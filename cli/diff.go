package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/enter"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/stage"
)

type diffCmd struct {
	Container string `arg:"" help:"Container."`
}

// Run lists the files the container changed in its image: containers/
// storage compares its layer with the image's, running or not.
func (c *diffCmd) Run(e *env) error {
	h, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpDiff)
	req.Copy = &stage.CopyRequest{ID: ct.Config.ID}
	var changes []image.Change
	if err := e.stageStreams(req, h, nil, nil, &changes); err != nil {
		return err
	}
	for _, ch := range changes {
		fmt.Fprintf(e.stdout, "%s %s\n", ch.Kind, printable(ch.Path))
	}
	return nil
}

type exportCmd struct {
	Output    string `short:"o" help:"Write to this file instead of stdout."`
	Container string `arg:"" help:"Container."`
}

// Run writes the container's root filesystem as a tar: a stopped
// container's layer, mounted in a stage; a running one's root as it sees
// it, through its namespaces (its mount is in its own namespace only).
func (c *exportCmd) Run(e *env) error {
	h, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	running := ct.State.Status == container.Running
	if running {
		if ct.Config.Rootfs != "" {
			return fmt.Errorf("container %s runs on the directory %s, not on a layer: use its files there", ct.Config.Name, ct.Config.Rootfs)
		}
		if ct.State.Restarting {
			return fmt.Errorf("container %s is restarting (its restart policy's back-off); wait until it runs", ct.Config.Name)
		}
	}
	out := e.stdout
	if c.Output != "" {
		f, err := os.Create(c.Output)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer f.Close()
		out = f
	} else if f, ok := out.(*os.File); ok && isTerminal(f) {
		return fmt.Errorf("refusing to write a tar archive to a terminal: use -o FILE or a redirection")
	}
	if running {
		err = exportRunning(e, ct, out)
	} else {
		req := e.request(h, stage.OpExport)
		req.Copy = &stage.CopyRequest{ID: ct.Config.ID}
		err = e.stageStreams(req, h, nil, out, nil)
	}
	if err != nil {
		if c.Output != "" {
			_ = os.Remove(c.Output)
		}
		return err
	}
	if f, ok := out.(*os.File); ok && c.Output != "" {
		return f.Close()
	}
	return nil
}

// exportRunning writes a running container's root filesystem: box's copy
// helper enters its namespaces and writes its root mount (see
// sandbox.CopyConfig.Export). The container is frozen meanwhile, as for
// commit, so the archive is of one moment; the helper therefore stays
// out of its cgroup, or it would freeze too.
func exportRunning(e *env, ct *container.Container, out io.Writer) error {
	switch {
	case paused(ct):
		// Frozen already, and stays so.
	case ct.State.Cgroup == "":
		e.warn(fmt.Sprintf("container %s has no cgroup to freeze: exporting it while it runs (its files may change meanwhile)", ct.Config.Name))
	default:
		g := cgdelegate.Group{Dir: ct.State.Cgroup}
		if err := g.Freeze(true); err != nil {
			return fmt.Errorf("pause %s for the export: %w", ct.Config.Name, err)
		}
		defer func() { _ = g.Freeze(false) }()
	}
	initPid, err := container.InitPid(ct.State)
	if err != nil {
		return err
	}
	target, cfg := initPid, sandbox.CopyConfig{Export: true}
	if locked, _ := ct.Config.Security.MayMount(); locked && ct.State.Rootfs != "" {
		// A container that may mount has the mounts box made for it
		// locked to its root in its own mount namespace (see
		// sandbox.Config.LockMounts): no clone there can leave them out.
		// Its monitor's has that root too, with them as box's own.
		target, cfg.Root = ct.State.MonitorPid, ct.State.Rootfs
	}
	en, err := enter.New(target, "", roles.Copy, "--user", "--mount")
	if err != nil {
		return err
	}
	defer en.Close()
	en.Cmd.Stdout, en.Cmd.Stderr = out, e.stderr
	if err := en.Start(cfg); err != nil {
		return err
	}
	report, exit := waitCopyHelper(en)
	if err := errors.Join(report, exit); err != nil {
		return fmt.Errorf("export %s: %w", ct.Config.Name, err)
	}
	return nil
}
