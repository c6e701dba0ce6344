package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/atomicfile"
)

// checkNativeOverlay says whether native overlay really works in this user
// namespace. Some kernels accept an overlay mount here, and containers/storage's
// own checks pass, yet renaming or deleting a directory that comes from a
// lower layer fails with EIO later, in the middle of a user's command. The
// probe costs a mount, so its verdict is kept in GraphRoot per kernel release.
func checkNativeOverlay(graphRoot string) error {
	release, err := kernelRelease()
	if err != nil {
		return err
	}
	cache := filepath.Join(graphRoot, overlayProbeFile)
	if b, err := os.ReadFile(cache); err == nil {
		if ok, verdict := parseVerdict(b, release); ok {
			return verdict
		}
	}
	verdict := probeOverlay(graphRoot, "userxattr")
	// A verdict that cannot be saved is only a missed shortcut: the probe
	// runs again next time.
	_ = atomicfile.WriteFile(cache, formatVerdict(release, verdict), 0o644)
	return verdict
}

// formatVerdict and parseVerdict keep the probe's result: the kernel
// release on the first line, then "ok" or "fail: reason".
func formatVerdict(release string, verdict error) []byte {
	if verdict == nil {
		return fmt.Appendf(nil, "%s\nok\n", release)
	}
	reason := strings.ReplaceAll(verdict.Error(), "\n", " ")
	return fmt.Appendf(nil, "%s\nfail: %s\n", release, reason)
}

// parseVerdict returns true and the saved verdict if b holds one for this
// kernel release; anything else means the probe must run again.
func parseVerdict(b []byte, release string) (bool, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) != 2 || lines[0] != release || release == "" {
		return false, nil
	}
	switch {
	case lines[1] == "ok":
		return true, nil
	case strings.HasPrefix(lines[1], "fail: "):
		return true, fmt.Errorf("native overlay probe (cached for kernel %s): %s", release, strings.TrimPrefix(lines[1], "fail: "))
	}
	return false, nil
}

// probeOverlay mounts a small overlay the way containers/storage does in a
// user namespace (extraOpts "userxattr") and renames and deletes a lower
// directory through it.
func probeOverlay(graphRoot, extraOpts string) (retErr error) {
	dir, err := os.MkdirTemp(graphRoot, "box-overlay-probe-")
	if err != nil {
		return fmt.Errorf("native overlay probe: %w", err)
	}
	lower, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	defer func() {
		_ = unix.Unmount(merged, unix.MNT_DETACH)
		// The kernel leaves work/work with mode 000.
		_ = os.Chmod(filepath.Join(work, "work"), 0o700)
		if err := os.RemoveAll(dir); err != nil && retErr == nil {
			retErr = fmt.Errorf("native overlay probe: clean up: %w", err)
		}
	}()
	for _, d := range []string{filepath.Join(lower, "dir", "sub"), upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("native overlay probe: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(lower, "dir", "file"), []byte("x"), 0o644); err != nil {
		return fmt.Errorf("native overlay probe: %w", err)
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if extraOpts != "" {
		opts += "," + extraOpts
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("native overlay probe: mount overlay (%s): %w", extraOpts, err)
	}
	// Without redirect_dir the kernel refuses to rename a lower directory
	// with EXDEV, and mv copies and deletes instead; that is fine. EIO is not.
	target := filepath.Join(merged, "moved")
	if err := os.Rename(filepath.Join(merged, "dir"), target); errors.Is(err, unix.EXDEV) {
		target = filepath.Join(merged, "dir")
	} else if err != nil {
		return fmt.Errorf("native overlay probe: rename a lower directory: %w", err)
	}
	if err := os.RemoveAll(target); err != nil {
		return fmt.Errorf("native overlay probe: delete a lower directory: %w", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("native overlay probe: deleted lower directory is still there (%v)", err)
	}
	return nil
}

func kernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return string(bytes.TrimRight(u.Release[:], "\x00")), nil
}

// ProbeMain is the OverlayProbe role, for box doctor: in a user and mount
// namespace of its own, it tries native overlay with userxattr in a temp
// directory below os.Args[1] (on the store's filesystem), prints why it
// failed if it did, and exits 1 then. With no directory it only shows
// that the namespaces could be made.
func ProbeMain() int {
	if len(os.Args) < 2 {
		return 0
	}
	if err := probeOverlay(os.Args[1], "userxattr"); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}
