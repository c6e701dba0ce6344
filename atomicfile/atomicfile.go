// Package atomicfile writes a file so that readers see either its old or its
// new content, never a mix or a truncated file, even across a crash.
//
// It replaces path itself: a symlink at path is replaced, not followed, and
// the file gets a new inode, so hard links to the old file keep the old
// content. Do not use it for files other processes hold open for writing or
// expect to keep their inode (a log being appended to, a lock file).
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to a temp file in the same directory, fsyncs it,
// renames it over path, and fsyncs the directory, so readers see the old or
// the new content, never a mix. The file gets exactly perm, whatever the
// umask. On error path is unchanged and no temp file is left behind.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// WriteFileNoSync is WriteFile without the fsyncs: readers still see the
// old or the new content, but a crash may lose the write or leave path
// empty. For what need not outlive a crash (a --rm container's records),
// where two fsyncs a write cost milliseconds each.
func WriteFileNoSync(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, sync bool) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// The temp file must be in path's directory: rename is only atomic
	// within one filesystem. The leading dot keeps it out of most listings.
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if err != nil && !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Without this fsync a crash after the rename can leave path empty:
	// the rename may reach the disk before the data does.
	if sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	renamed = true
	if !sync {
		return nil
	}
	// The new name lives in the directory; sync it so the rename survives a
	// crash. The data is in place by now, so a failure here is reported but
	// there is nothing to clean up.
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}

// SyncDir makes a directory's entries durable: after a rename or a
// removal, fsync of the directory is what makes the change survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
