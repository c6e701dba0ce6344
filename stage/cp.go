package stage

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/boxcli/box/image"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/tarcp"
)

// files serves cp, export and diff. For cp and export the CLI has checked
// that the container does not run: its root is then mounted nowhere, and
// this stage mounts it in its own namespace for the time of the copy,
// with the container's volumes and bind mounts for cp.
func (s *stage) files(r *CopyRequest) (any, error) {
	if r == nil {
		return nil, fmt.Errorf("%s: no arguments", s.req.Op)
	}
	records, err := s.containers()
	if err != nil {
		return nil, err
	}
	c, err := records.Get(r.ID)
	if err != nil {
		return nil, err
	}
	if c.Config.Rootfs != "" {
		return nil, fmt.Errorf("container %s runs on the directory %s, not on a layer: use its files there", c.Config.Name, c.Config.Rootfs)
	}
	driver := c.Config.StorageDriver
	if driver == "" {
		driver = s.req.Driver
	}
	is, err := s.openImagesWith(driver)
	if err != nil {
		return nil, err
	}
	defer is.Close()
	if s.req.Op == OpDiff {
		return is.Changes(c.Config.ID)
	}
	// A reader that gives up (box cp to a host path it cannot write)
	// closes the pipe: the write must fail with EPIPE and the layer be
	// unmounted, not the stage die of SIGPIPE with the mount still
	// counted in the store.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	return nil, withMount(is, c.Config.ID, func(root string) error {
		if s.req.Op == OpExport {
			return toStdout(tarcp.Export(os.Stdout, root)) // the layer alone, as docker export
		}
		// cp sees the container's files as the container would: its
		// volumes and bind mounts over the layer. Another container may
		// share them and change them meanwhile; tarcp resolves the path
		// inside root and works below it by handle.
		unmount, err := sandbox.MountVolumes(root, c.Config.Mounts)
		if err != nil {
			return err
		}
		defer unmount()
		if r.In {
			return tarcp.Extract(os.Stdin, root, r.Path, r.Raw)
		}
		return toStdout(tarcp.Create(os.Stdout, root, r.Path))
	})
}

func withMount(is *image.Store, id string, fn func(root string) error) error {
	root, err := is.Mount(id)
	if err != nil {
		return err
	}
	err = fn(root)
	if uerr := is.Unmount(id); err == nil {
		err = uerr
	}
	return err
}
