// Package rootfs assembles a throwaway root filesystem over a plain
// directory (box run --rootfs DIR), the host's own root included. Writes
// land in a tmpfs that lives only as long as the stage's mount namespace.
//
// It must run in the stage: as root in box's user namespace, in a private
// mount namespace of its own.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/fuseoverlay"
)

// fresh are top-level directories the container gets new instances of
// instead of the host's: the init mounts /proc, /dev and /sys; /tmp and
// /run start empty.
func fresh(name string) bool {
	switch name {
	case "proc", "dev", "sys", "tmp", "run":
		return true
	}
	return false
}

// Overlay mounts a copy-on-write view of src on target and returns target.
//
// A directory with mounts below it cannot be one overlay's lower layer in
// a user namespace ("failed to clone lowerpath": the submounts are locked),
// so such a src, like /, is assembled instead: a tmpfs root, one overlay
// per top-level directory without submounts, a read-only recursive bind
// for each that has some, and the top-level symlinks recreated.
func Overlay(src, target string, warnf func(string, ...any)) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	if src, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("rootfs %s: %w", abs, err)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("rootfs %s is not a directory", src)
	}
	scratch := target + ".scratch"
	for _, d := range []string{target, scratch} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
	}
	if err := unix.Mount("tmpfs", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=700"); err != nil {
		return "", fmt.Errorf("mount scratch tmpfs: %w", err)
	}
	below, err := mountsBelow(src)
	if err != nil {
		return "", err
	}
	if len(below) == 0 {
		return target, overlayDir(src, target, filepath.Join(scratch, "root"), warnf)
	}
	return target, assemble(src, target, scratch, below, warnf)
}

// mountsBelow lists the mount points strictly inside dir.
func mountsBelow(dir string) ([]string, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var out []string
	for _, m := range ms {
		if strings.HasPrefix(m.Mountpoint, prefix) {
			out = append(out, m.Mountpoint)
		}
	}
	return out, nil
}

func hasBelow(dir string, mounts []string) bool {
	prefix := dir + "/"
	for _, m := range mounts {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// overlayDir mounts lower with its upper and work dirs in scratch: native
// overlayfs with userxattr (without it the mount succeeds but renames of
// lower directories fail with EIO), else fuse-overlayfs.
func overlayDir(lower, target, scratch string, warnf func(string, ...any)) error {
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lower, upper, work)
	nerr := unix.Mount("overlay", target, "overlay", 0, opts)
	if nerr == nil {
		return nil
	}
	if ferr := fuseoverlay.Mount([]string{lower}, upper, work, target); ferr != nil {
		return fmt.Errorf("overlay on %s: native: %v; %w", lower, nerr, ferr)
	}
	return nil
}

func assemble(src, target, scratch string, below []string, warnf func(string, ...any)) error {
	if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID, "mode=755"); err != nil {
		return fmt.Errorf("mount root tmpfs: %w", err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		from, to := filepath.Join(src, name), filepath.Join(target, name)
		switch {
		case e.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(from)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, to); err != nil {
				return err
			}
		case e.IsDir() && fresh(name):
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			if name == "tmp" {
				if err := unix.Mount("tmpfs", to, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
					return fmt.Errorf("mount /tmp: %w", err)
				}
			}
		case e.IsDir() && hasBelow(from, below):
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			if err := unix.Mount(from, to, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind %s: %w", from, err)
			}
			attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
			if err := unix.MountSetattr(-1, to, unix.AT_RECURSIVE, attr); err != nil {
				return fmt.Errorf("make %s read-only: %w", to, err)
			}
		case e.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			if err := overlayDir(from, to, filepath.Join(scratch, name), warnf); err != nil {
				return err
			}
		default:
			// A plain file at the top level: visible, read-only.
			f, err := os.Create(to)
			if err != nil {
				return err
			}
			f.Close()
			if err := unix.Mount(from, to, "", unix.MS_BIND, ""); err == nil {
				_ = unix.MountSetattr(-1, to, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
			}
		}
	}
	return nil
}

// Unmount takes down what Overlay mounted on target, and its scratch
// space, so that their directories can be removed: in the stage that
// mounted them they are busy mount points until then. What is not
// mounted is not an error.
func Unmount(target string) error {
	var errs []error
	for _, d := range []string{target, target + ".scratch"} {
		// MNT_DETACH takes the whole tree below (assemble's overlays and
		// binds) with it.
		if err := unix.Unmount(d, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
