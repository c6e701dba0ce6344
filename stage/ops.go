package stage

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/sandbox"
)

// remove deletes containers: the layer, the runtime files, the record.
func (s *stage) remove(r *RemoveRequest) (*RemoveResult, error) {
	records, err := s.containers()
	if err != nil {
		return nil, err
	}
	var is *image.Store
	defer func() {
		if is != nil {
			is.Close()
		}
	}()
	res := &RemoveResult{Removed: []string{}}
	for _, id := range r.IDs {
		if err := s.removeOne(records, &is, id); err != nil {
			res.Errors = append(res.Errors, wireError(err))
			continue
		}
		res.Removed = append(res.Removed, id)
	}
	return res, nil
}

func (s *stage) removeOne(records *container.Store, is **image.Store, id string) error {
	c, err := records.Get(id)
	if err != nil {
		return err
	}
	if c.Config.Rootfs == "" {
		if *is == nil {
			opened, err := s.openImages()
			if err != nil {
				return err
			}
			*is = opened
		}
		if err := (*is).DeleteContainer(id); err != nil {
			return fmt.Errorf("remove the layer of %s: %w", c.Config.Name, err)
		}
	}
	_ = os.RemoveAll(s.req.Dirs.ContainerRun(id))
	return records.Remove(id)
}

// unshare runs a command as root in box's user namespace, like
// `podman unshare`: the way to inspect or delete files that belong to
// subordinate ids.
func (s *stage) unshare(args []string) (int, error) {
	if len(args) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		args = []string{sh}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "BOX_STORAGE="+s.req.Dirs.Storage())
	err := cmd.Run()
	if cmd.ProcessState == nil {
		if errorsIsNotFound(err) {
			return 0, fmt.Errorf("%v: %w", err, sandbox.ErrNotFound)
		}
		return 0, err
	}
	return sandbox.ExitCode(cmd.ProcessState, err), nil
}

func errorsIsNotFound(err error) bool {
	_, ok := err.(*exec.Error)
	return ok
}
