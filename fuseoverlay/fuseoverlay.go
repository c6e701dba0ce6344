// Package fuseoverlay mounts an overlay with fuse-overlayfs, for kernels or
// file systems where native overlayfs refuses to work in a user namespace.
// Image layers do not come through here: containers/storage runs
// fuse-overlayfs itself as its mount_program. Use this for overlays box
// assembles on its own (--rootfs).
package fuseoverlay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrUnavailable means fuse-overlayfs cannot be used here.
var ErrUnavailable = errors.New("fuse-overlayfs unavailable")

// Binary is the program's name on PATH.
const Binary = "fuse-overlayfs"

// Check reports why fuse-overlayfs cannot work, or nil.
func Check() error {
	if _, err := exec.LookPath(Binary); err != nil {
		return fmt.Errorf("%w: %s not found (install the fuse-overlayfs package)", ErrUnavailable, Binary)
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: open /dev/fuse: %v", ErrUnavailable, err)
	}
	f.Close()
	return nil
}

// Options is the -o argument for the given layers, lowest layer last as
// in overlayfs(5).
func Options(lower []string, upper, work string) string {
	for _, p := range append(append([]string{}, lower...), upper, work) {
		if strings.ContainsAny(p, ",:") {
			// Neither option syntax can quote these.
			return ""
		}
	}
	return fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"), upper, work)
}

// Mount mounts the overlay on target. The daemon forks into the
// background; it ends when the mount goes away or its pid namespace dies.
func Mount(lower []string, upper, work, target string) error {
	if err := Check(); err != nil {
		return err
	}
	opts := Options(lower, upper, work)
	if opts == "" {
		return fmt.Errorf("fuse-overlayfs on %s: a path contains ',' or ':'", target)
	}
	out, err := exec.Command(Binary, "-o", opts, target).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fuse-overlayfs on %s: %v: %s", target, err, strings.TrimSpace(string(out)))
	}
	return nil
}
