package stage

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/volume"
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

// diskUsage is box system df's measurements.
func (s *stage) diskUsage(is *image.Store) (*DiskUsage, error) {
	du := &DiskUsage{Containers: map[string]int64{}, Volumes: map[string]int64{}}
	var err error
	if du.Images, err = is.Images(); err != nil {
		return nil, err
	}
	if du.ImageLayers, du.LayerSizes, err = is.LayerUsage(); err != nil {
		return nil, err
	}
	for _, id := range s.req.IDs {
		// A container without a layer (--rootfs) takes no store space.
		if sz, err := is.Size(id); err == nil {
			du.Containers[id] = sz.RW
		}
	}
	if du.BuildCacheLayers, du.BuildCache, err = s.buildCacheUsage(is); err != nil {
		return nil, err
	}
	vols, err := volume.Open(s.req.Dirs.Volumes()).List()
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		du.Volumes[v.Name] = dirSize(v.Mountpoint)
	}
	return du, nil
}

// dirSize is the apparent size of the files below dir; what cannot be read
// counts nothing.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// reset deletes what box stored, in the user namespace where its files'
// owners are mapped: the store (graph root and run root), the volumes, the
// container records and their runtime directories, the event log. The CLI
// has removed every container first, so no stage of this user holds a
// mount of the store.
func (s *stage) reset() error {
	d := s.req.Dirs
	for _, dir := range []string{d.Storage(), d.StorageRun(), d.Volumes(), d.Containers(), filepath.Join(d.Runtime, "containers"), d.Events(), d.BuildCache(), d.Builds()} {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	return nil
}

// commit makes an image of container r.ID, which takes the container's
// configuration as it was run (Docker's commit).
func (s *stage) commit(ctx context.Context, is *image.Store, r *CommitRequest) (string, error) {
	records, err := s.containers()
	if err != nil {
		return "", err
	}
	c, err := records.Get(r.ID)
	if err != nil {
		return "", err
	}
	cfg := c.Config
	ic := ocispec.ImageConfig{
		User: cfg.User, Env: cfg.Env, Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd,
		WorkingDir: cfg.WorkingDir, Labels: cfg.Labels, StopSignal: cfg.StopSignal,
	}
	if len(cfg.ExposedPorts) > 0 {
		ic.ExposedPorts = map[string]struct{}{}
		for _, p := range cfg.ExposedPorts {
			ic.ExposedPorts[p] = struct{}{}
		}
	}
	id, err := is.Commit(ctx, cfg.ID, image.CommitOptions{Config: ic, Healthcheck: cfg.Healthcheck, Changes: r.Changes, Message: r.Message, Author: r.Author, Name: r.Name})
	if err != nil {
		return "", err
	}
	attrs := map[string]string{"container": cfg.Name}
	if r.Name != "" {
		attrs["name"] = r.Name
	}
	s.event("image", "commit", id, attrs)
	return id, nil
}
