package image

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"go.podman.io/storage"
)

// openDriver opens the store with the driver opts asks for, or with the
// first of overlay, fuse-overlayfs and vfs that works.
func openDriver(opts Options, warnf func(string, ...any)) (storage.Store, string, error) {
	switch opts.Driver {
	case DriverOverlay, DriverFuse, DriverVFS:
		st, err := tryDriver(opts, opts.Driver)
		if err != nil {
			return nil, "", fmt.Errorf("open image store with %s: %w", opts.Driver, errors.Join(ErrDriverUnavailable, err))
		}
		return st, opts.Driver, nil
	case "":
	default:
		return nil, "", fmt.Errorf("open image store: %w: unknown driver %q (want %s, %s or %s)",
			ErrDriverUnavailable, opts.Driver, DriverOverlay, DriverFuse, DriverVFS)
	}
	var errs []error
	for _, name := range []string{DriverOverlay, DriverFuse} {
		st, err := tryDriver(opts, name)
		if err == nil {
			return st, name, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	st, err := tryDriver(opts, DriverVFS)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", DriverVFS, err))
		return nil, "", fmt.Errorf("open image store: %w", errors.Join(append([]error{ErrDriverUnavailable}, errs...)...))
	}
	warnf("no overlay filesystem works here (%v); using vfs, which copies every layer in full and uses much more disk", errors.Join(errs...))
	return st, DriverVFS, nil
}

// tryDriver opens the store with one driver and makes it initialise at
// once, so that a driver that cannot work here fails now, not at first use.
func tryDriver(opts Options, name string) (storage.Store, error) {
	so := storage.StoreOptions{
		GraphRoot: opts.GraphRoot,
		// containers/storage caches stores per process by graph root, run
		// root and driver name, and never forgets one that was shut down;
		// overlay and fuse-overlayfs share a driver name, so without a run
		// root of its own the fuse attempt would get the failed overlay store.
		RunRoot: filepath.Join(opts.RunRoot, name),
	}
	switch name {
	case DriverOverlay:
		if err := checkNativeOverlay(opts.GraphRoot); err != nil {
			return nil, err
		}
		so.GraphDriverName = "overlay"
	case DriverFuse:
		prog, err := fuseOverlayfs()
		if err != nil {
			return nil, err
		}
		so.GraphDriverName = "overlay"
		so.GraphDriverOptions = append(so.GraphDriverOptions, "overlay.mount_program="+prog)
	case DriverVFS:
		so.GraphDriverName = "vfs"
	}
	// chown to an id this namespace does not map fails with EINVAL: with a
	// single-ID map that is every owner but root, with a full map the ids
	// beyond the subordinate range. Without this, such images cannot unpack;
	// with it, those files stay root's, and fixOverflowIDs (overflow.go)
	// then gives them to the overflow id where the map allows.
	so.GraphDriverOptions = append(so.GraphDriverOptions, so.GraphDriverName+".ignore_chown_errors=true")
	st, err := storage.GetStore(so)
	if err != nil {
		return nil, err
	}
	if _, err := st.GraphDriver(); err != nil {
		_, _ = st.Shutdown(true)
		return nil, err
	}
	if name == DriverOverlay && usesMountProgram(opts.GraphRoot) {
		// containers/storage quietly switches to fuse-overlayfs when native
		// overlay fails its own checks, or when the store was set up with a
		// mount program before; box must report what it really uses.
		_, _ = st.Shutdown(true)
		return nil, errors.New("containers/storage fell back to fuse-overlayfs (native overlay failed its checks, or this store was created with fuse-overlayfs)")
	}
	return st, nil
}

// usesMountProgram reads the marker the overlay driver keeps in its home
// once layers have been made with a mount program; such layers must stay on it.
func usesMountProgram(graphRoot string) bool {
	b, err := os.ReadFile(filepath.Join(graphRoot, "overlay", ".has-mount-program"))
	return err == nil && strings.TrimSpace(string(b)) == "true"
}

// fuseOverlayfs returns the fuse-overlayfs binary if it and /dev/fuse can be used.
func fuseOverlayfs() (string, error) {
	prog, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return "", fmt.Errorf("fuse-overlayfs not found: %w", err)
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("open /dev/fuse (needs mode 0666): %w", err)
	}
	f.Close()
	return prog, nil
}

// singleIDNamespace reports whether this process's user namespace maps only one user ID.
func singleIDNamespace() (bool, error) {
	f, err := os.Open("/proc/self/uid_map")
	if err != nil {
		return false, err
	}
	defer f.Close()
	n, err := mappedIDs(f)
	if err != nil {
		return false, fmt.Errorf("parse /proc/self/uid_map: %w", err)
	}
	return n == 1, nil
}

// mappedIDs parses a uid_map or gid_map and returns how many IDs it maps.
func mappedIDs(r io.Reader) (uint64, error) {
	var total uint64
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return 0, fmt.Errorf("line %d: want 3 fields, got %d", line, len(fields))
		}
		for _, f := range fields[:2] {
			if _, err := strconv.ParseUint(f, 10, 32); err != nil {
				return 0, fmt.Errorf("line %d: %w", line, err)
			}
		}
		n, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("line %d: %w", line, err)
		}
		total += n
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, errors.New("no IDs mapped")
	}
	return total, nil
}
