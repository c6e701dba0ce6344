package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/boxdirs"
)

// noSpaceFix is what to tell a user whose disk filled up: which of the
// filesystems box writes to is full, and how box can make room there.
func noSpaceFix() string {
	const fix = "make room with 'box system prune', 'box rm' or 'box rmi'"
	d, err := boxdirs.Lookup(osEnv, os.Getuid())
	if err != nil {
		return "the disk is full: " + fix
	}
	dir, mnt, free := fullest(d.Data, d.Runtime)
	if dir == "" {
		return "the disk is full: " + fix
	}
	return fmt.Sprintf("the filesystem holding %s (mounted on %s, %s free) is full: %s", dir, mnt, size(free), fix)
}

// fullest picks, of dirs, the one whose filesystem has the least space
// left, with its mount point and that space.
func fullest(dirs ...string) (dir, mnt string, free int64) {
	free = -1
	for _, d := range dirs {
		p := existing(d)
		var st unix.Statfs_t
		if unix.Statfs(p, &st) != nil {
			continue
		}
		if avail := int64(st.Bavail) * int64(st.Bsize); free < 0 || avail < free {
			dir, mnt, free = d, mountPoint(p), avail
		}
	}
	return dir, mnt, max(free, 0)
}

// existing is path or its nearest ancestor that exists.
func existing(path string) string {
	for {
		if _, err := os.Stat(path); err == nil || path == "/" || path == "." {
			return path
		}
		path = filepath.Dir(path)
	}
}

// mountPoint is where the filesystem holding path is mounted: the last
// directory on the way up that is on the same device.
func mountPoint(path string) string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return path
	}
	for {
		parent := filepath.Dir(path)
		var pst unix.Stat_t
		if parent == path || unix.Stat(parent, &pst) != nil || pst.Dev != st.Dev {
			return path
		}
		path = parent
	}
}
