package cli

import (
	"fmt"
	"os"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/image"
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

// Run writes the container's root filesystem as a tar. Only a stopped
// container's: a running one's root is mounted in its own namespace only.
func (c *exportCmd) Run(e *env) error {
	h, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	if ct.State.Status == container.Running {
		return fmt.Errorf("container %s %w: stop it first to export it", ct.Config.Name, errRunning)
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
	req := e.request(h, stage.OpExport)
	req.Copy = &stage.CopyRequest{ID: ct.Config.ID}
	if err := e.stageStreams(req, h, nil, out, nil); err != nil {
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
