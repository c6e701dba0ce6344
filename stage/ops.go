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
	// One store per driver the containers were made with.
	stores := map[string]*image.Store{}
	defer func() {
		for _, is := range stores {
			is.Close()
		}
	}()
	res := &RemoveResult{Removed: []string{}}
	for _, id := range r.IDs {
		if err := s.removeOne(records, stores, id, r.Volumes); err != nil {
			res.Errors = append(res.Errors, wireError(err))
			continue
		}
		res.Removed = append(res.Removed, id)
	}
	return res, nil
}

func (s *stage) removeOne(records *container.Store, stores map[string]*image.Store, id string, volumes bool) error {
	c, err := records.Get(id)
	if err != nil {
		return err
	}
	if c.Config.Rootfs == "" {
		driver := c.Config.StorageDriver
		if driver == "" {
			driver = s.req.Driver
		}
		is := stores[driver]
		if is == nil {
			if is, err = s.openImagesWith(driver); err != nil {
				return err
			}
			stores[driver] = is
		}
		if err := is.DeleteContainer(id); err != nil {
			return fmt.Errorf("remove the layer of %s: %w", c.Config.Name, err)
		}
	}
	_ = os.RemoveAll(s.req.Dirs.ContainerRun(id))
	if err := records.Remove(id); err != nil {
		return err
	}
	if volumes {
		s.removeVolumes(c.Config)
	}
	s.event("container", "destroy", id, ctrAttrs(c.Config, nil))
	return nil
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
