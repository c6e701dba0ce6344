// Package boxdirs finds where box keeps its files: persistent data under
// $XDG_DATA_HOME/box, runtime state under $XDG_RUNTIME_DIR/box, or
// /tmp/box-UID (0700, owner checked) where no runtime dir exists, as in
// many CI jobs and after su.
package boxdirs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Dirs are box's places on disk.
type Dirs struct {
	Data    string // persistent: storage/, containers/
	Runtime string // gone after reboot: storage run root, per-container scratch
	Config  string
}

// Storage is the containers/storage graph root.
func (d Dirs) Storage() string { return filepath.Join(d.Data, "storage") }

// StorageRun is the containers/storage run root.
func (d Dirs) StorageRun() string { return filepath.Join(d.Runtime, "storage") }

// Events is box's event log (box events).
func (d Dirs) Events() string { return filepath.Join(d.Data, "events.log") }

// BuildCache holds box build's cache: the step index, RUN cache mounts,
// and context archives being unpacked.
func (d Dirs) BuildCache() string { return filepath.Join(d.Data, "build-cache") }

// Builds holds running builds' locks and scratch files.
func (d Dirs) Builds() string { return filepath.Join(d.Runtime, "builds") }

// Volumes holds volumes' data (package volume).
func (d Dirs) Volumes() string { return filepath.Join(d.Data, "volumes") }

// Containers holds the container records.
func (d Dirs) Containers() string { return filepath.Join(d.Data, "containers") }

// ContainerRun holds one container's runtime files (attach.sock, the mount
// point of its /etc files' tmpfs, ...).
func (d Dirs) ContainerRun(id string) string { return filepath.Join(d.Runtime, "containers", id) }

// Lookup computes the places from the environment. getenv is os.Getenv in
// production; tests pass their own.
func Lookup(getenv func(string) string, uid int) (Dirs, error) {
	home := getenv("HOME")
	data := getenv("XDG_DATA_HOME")
	if data == "" {
		if home == "" {
			return Dirs{}, errors.New("neither XDG_DATA_HOME nor HOME is set")
		}
		data = filepath.Join(home, ".local", "share")
	}
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" && home != "" {
		cfg = filepath.Join(home, ".config")
	}
	run := getenv("XDG_RUNTIME_DIR")
	if run != "" {
		run = filepath.Join(run, "box")
	} else {
		run = filepath.Join(os.TempDir(), fmt.Sprintf("box-%d", uid))
	}
	return Dirs{Data: filepath.Join(data, "box"), Runtime: run, Config: filepath.Join(cfg, "box")}, nil
}

// Ensure creates the directories box needs and checks that a runtime dir in
// a shared /tmp is really ours: another user could have made it first.
func (d Dirs) Ensure(uid int) error {
	for _, p := range []string{d.Data, d.Containers()} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	if err := os.MkdirAll(d.Runtime, 0o700); err != nil {
		return fmt.Errorf("create runtime dir %s: %w", d.Runtime, err)
	}
	fi, err := os.Lstat(d.Runtime)
	if err != nil {
		return fmt.Errorf("check runtime dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != uid || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("runtime dir %s is not a private directory owned by uid %d; remove it or set XDG_RUNTIME_DIR", d.Runtime, uid)
	}
	return nil
}
