// Package diskreserve keeps a few megabytes of a filesystem aside for the
// day it is full. On a full disk, freeing space itself needs some:
// containers/storage rewrites its layer records before it deletes a layer,
// and a container's exit status is written through a new file. Retry gives
// the reserve back when such a write fails with ENOSPC and tries again.
//
// The reserve only helps on the filesystem it lives on, and only once
// until there is room to take it again. Do not use it for writes that may
// grow without bound: they would eat it and fail anyway.
package diskreserve

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Size is the reserve a store keeps: room for containers/storage to
// rewrite the records of a few thousand layers, and for box's own.
const Size = 4 << 20

// Reserve is a file of allocated blocks at Path.
type Reserve struct {
	Path string
	Size int64
}

// New is the reserve of Size at path.
func New(path string) Reserve { return Reserve{Path: path, Size: Size} }

// Ensure makes the reserve if it is missing and the filesystem has room to
// spare (four times its size): box never takes the last free megabytes.
func (r Reserve) Ensure() error {
	if fi, err := os.Stat(r.Path); err == nil && fi.Size() >= r.Size {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(r.Path), &st); err != nil {
		return err
	}
	if int64(st.Bavail)*int64(st.Bsize) < 4*r.Size {
		return nil
	}
	return r.take(r.Size)
}

// take allocates up to n bytes to the reserve (fallocate, so the blocks
// are really the reserve's, not a hole).
func (r Reserve) take(n int64) error {
	f, err := os.OpenFile(r.Path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, n); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return writeZeros(f, n)
		}
		return err
	}
	return nil
}

// writeZeros fills a filesystem without fallocate the slow way.
func writeZeros(f *os.File, n int64) error {
	buf := make([]byte, 64<<10)
	for off := int64(0); off < n; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), n-off)], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// Retry runs op; if it fails for want of space, it gives the reserve back
// and runs op once more. used says whether it did. Afterwards it takes back
// what it can of the reserve, no more than it gave: space op freed is the
// user's.
func (r Reserve) Retry(op func() error) (used bool, err error) {
	err = op()
	if !NoSpace(err) {
		return false, err
	}
	fi, statErr := os.Stat(r.Path)
	if statErr != nil || fi.Size() == 0 {
		return false, err
	}
	if os.Remove(r.Path) != nil {
		return false, err
	}
	err = op()
	var st unix.Statfs_t
	if unix.Statfs(filepath.Dir(r.Path), &st) == nil {
		if n := min(fi.Size(), int64(st.Bavail)*int64(st.Bsize)); n > 0 {
			if r.take(n) != nil {
				_ = os.Remove(r.Path) // a half-written reserve is none
			}
		}
	}
	return true, err
}

// NoSpace says whether err is the kernel's ENOSPC, also where it only
// survives as text (an error from a containers/storage helper process).
func NoSpace(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), syscall.ENOSPC.Error())
}
