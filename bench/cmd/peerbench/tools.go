package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// blockedRegistries keeps docker.io out of reach: a short name never
// resolves to it, and containers/image refuses a blocked registry before
// touching the network (as testscripts/script_test.go does for box).
const blockedRegistries = `unqualified-search-registries = []

[[registry]]
location = "docker.io"
blocked = true
`

// podmanFlags are the peer's settings for this machine: runc (crun fails
// on hybrid cgroups), cgroupfs (no systemd as PID 1), events in a file.
var podmanFlags = []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}

func (s *suite) setupTools(ctx context.Context) error {
	for _, t := range []string{"newuidmap", "slirp4netns", "unshare"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("no %s in PATH; bench/run.sh as root installs what the suite needs", t)
		}
	}
	var err error
	if s.box, err = s.boxStore("box", "box"); err != nil {
		return err
	}
	if _, err := s.box.output(ctx, "load", "-i", s.images.DockerArchive); err != nil {
		return err
	}
	if s.want("io") {
		if s.boxFuse, err = s.boxStore("box-fuse", "box"); err != nil {
			return err
		}
		s.boxFuse = s.boxFuse.with("--storage-driver", "fuse-overlayfs")
		if _, err := s.boxFuse.output(ctx, "load", "-i", s.images.DockerArchive); err != nil {
			return err
		}
	}
	if bin, err := exec.LookPath("podman"); err == nil {
		dir := filepath.Join(s.work, "podman")
		env, err := s.podmanEnv(dir)
		if err != nil {
			return err
		}
		s.podman = &tool{name: "podman", bin: bin, global: podmanFlags, env: env}
		s.podmen = append(s.podmen, s.podman)
		if _, err := s.podman.output(ctx, "load", "-i", s.images.DockerArchive); err != nil {
			return err
		}
	} else {
		logf("peerbench: podman not installed: its columns are left out")
	}
	return nil
}

// boxStore gives box a store, runtime and config directory of its own
// under the work directory, so the suite neither sees nor leaves anything
// in the user's.
func (s *suite) boxStore(dir, name string) (*tool, error) {
	base := filepath.Join(s.work, dir)
	env := withoutEnv(os.Environ(), "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "BOX_STORAGE_DRIVER")
	for _, d := range []string{"data", "run", "config/box"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(base, "config", "box", "registries.conf"), []byte(blockedRegistries), 0o600); err != nil {
		return nil, err
	}
	env = append(env,
		"XDG_DATA_HOME="+filepath.Join(base, "data"),
		"XDG_RUNTIME_DIR="+filepath.Join(base, "run"),
		"XDG_CONFIG_HOME="+filepath.Join(base, "config"))
	t := &tool{name: name, bin: s.opt.box, env: env}
	s.boxes = append(s.boxes, t)
	return t, nil
}

// boxStorage is where a box tool keeps containers/storage's files.
func boxStorage(t *tool) string {
	for _, kv := range t.env {
		if v, ok := strings.CutPrefix(kv, "XDG_DATA_HOME="); ok {
			return filepath.Join(v, "box", "storage")
		}
	}
	return ""
}

// podmanEnv makes podman's configuration under dir: storage (native
// overlay in dir/root), runtime directory (its pause process and locks),
// registries.conf (docker.io blocked) and containers.conf (podmanFlags
// again, for netbench's podman, which passes none).
//
// The runtime directory is short, under s.short: podman 4.3 with conmon
// 2.1.6 takes 20 s for every run --rm (its conmon timeout) once
// $XDG_RUNTIME_DIR is 41 characters or longer (checked: 40 is fine), as
// /tmp/box-peerbench-NNNNNNNNNN/podman/run is.
func (s *suite) podmanEnv(dir string) ([]string, error) {
	run := filepath.Join(s.short, filepath.Base(dir))
	for _, d := range []string{run, filepath.Join(dir, "config"), filepath.Join(dir, "data"), filepath.Join(dir, "root"), filepath.Join(dir, "runroot")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "runroot"))
	conf := "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
	files := map[string]string{"storage.conf": storage, "containers.conf": conf, "registries.conf": blockedRegistries}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	s.runtimeDirs = append(s.runtimeDirs, run)
	env := withoutEnv(os.Environ(), "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
		"CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF", "CONTAINER_HOST", "CONTAINER_CONNECTION")
	return append(env,
		"XDG_RUNTIME_DIR="+run,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
	), nil
}

func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

// endPauseProcess ends the pause process rootless podman keeps per
// runtime directory (it holds podman's user namespace), found by its pid
// file and checked by name, so a reused pid is left alone.
func endPauseProcess(runtimeDir string) error {
	data, err := os.ReadFile(filepath.Join(runtimeDir, "libpod", "tmp", "pause.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("podman's pause.pid in %s: %q", runtimeDir, data)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return nil // gone already
	}
	if c := strings.TrimSpace(string(comm)); c != "podman" && c != "catatonit" {
		return nil // not ours any more
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("end podman's pause process %d: %w", pid, err)
	}
	for range 50 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil // a zombie of another parent: nothing holds on to it
}

// unpackBusybox writes the busybox image's root filesystem into dir, for
// bwrap: its one layer, through tar(1).
func unpackBusybox(ociDir, dir string) error {
	idx, err := layout.ImageIndexFromPath(ociDir)
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) != 1 {
		return fmt.Errorf("%s: want one image, have %d", ociDir, len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, l := range layers {
		if err := untar(l, dir); err != nil {
			return err
		}
	}
	return nil
}

func untar(l v1.Layer, dir string) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	cmd := exec.Command("tar", "-x", "--no-same-owner", "-C", dir)
	w, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out := &strings.Builder{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return err
	}
	_, cerr := io.Copy(w, rc)
	w.Close()
	if err := errors.Join(cmd.Wait(), cerr); err != nil {
		return fmt.Errorf("unpack busybox for bwrap: %w: %s", err, out)
	}
	return nil
}
