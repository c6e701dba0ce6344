package cli

import (
	"fmt"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type commitCmd struct {
	Change    []string `short:"c" sep:"none" help:"A Dockerfile instruction for the new image: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL."`
	Message   string   `short:"m" help:"Commit message (the layer's history comment)."`
	Author    string   `short:"a" help:"Author."`
	Pause     bool     `default:"true" negatable:"" help:"Freeze a running container while its files are copied (--pause=false: do not)."`
	Container string   `arg:"" help:"Container."`
	Image     string   `arg:"" optional:"" help:"Name[:tag] for the new image (default: untagged)."`
}

// Run makes an image of the container's files and configuration. A
// running container is frozen meanwhile (cgroup.freeze) so the copy is
// consistent; without a cgroup box says it copies a moving target.
func (c *commitCmd) Run(e *env) error {
	h, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	if ct.Config.Rootfs != "" {
		return fmt.Errorf("container %s runs on --rootfs %s, not an image: there is no layer to commit", ct.Config.Name, ct.Config.Rootfs)
	}
	switch {
	case ct.State.Status != container.Running || !c.Pause || paused(ct):
		// Nothing moves, or the user asked not to stop it.
	case ct.State.Cgroup == "":
		e.warn(fmt.Sprintf("container %s has no cgroup to freeze: committing it while it runs (its files may change meanwhile)", ct.Config.Name))
	default:
		g := cgdelegate.Group{Dir: ct.State.Cgroup}
		if err := g.Freeze(true); err != nil {
			return fmt.Errorf("pause %s for the commit: %w", ct.Config.Name, err)
		}
		defer func() { _ = g.Freeze(false) }()
	}
	req := e.request(h, stage.OpCommit)
	req.Driver = ct.Config.StorageDriver
	req.Commit = &stage.CommitRequest{ID: ct.Config.ID, Name: c.Image, Changes: c.Change, Message: c.Message, Author: c.Author}
	var id string
	if err := e.do(req, userns.Auto, h, &id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sha256:%s\n", id)
	return nil
}
