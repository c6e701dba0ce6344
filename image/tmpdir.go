package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Each open store keeps its temporary files (containers/image's layer
// downloads, a load's or import's unpacking) in a directory of its own
// below GraphRoot/box-tmp, with an flock held on that directory for as
// long as the store is open. The kernel drops the lock when its holder
// dies, SIGKILL included: so the next Open, of any box process, removes
// the directories whose lock is free, and never those of a pull or load
// still under way.
const (
	tmpOwnPrefix = "stage-"
	// A directory is made under tmpNewPrefix, locked, then renamed: a
	// sweep never sees it unlocked under its final name.
	tmpNewPrefix = ".new-"
	// tmpNewStale is when a .new- directory is a crash's between mkdir
	// and rename, not one about to be locked.
	tmpNewStale = time.Minute
	// tmpLegacyStale is when what older box versions left directly in
	// box-tmp (container_images_storage*, import-*, ...), which names no
	// owner, is taken to be a leftover.
	tmpLegacyStale = 24 * time.Hour
)

// privateTmp makes this store's locked temporary directory in root.
func privateTmp(root string) (dir string, lock *os.File, err error) {
	fresh, err := os.MkdirTemp(root, tmpNewPrefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.Open(fresh)
	if err == nil {
		if err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.Remove(fresh)
		return "", nil, fmt.Errorf("lock %s: %w", fresh, err)
	}
	dir = filepath.Join(root, tmpOwnPrefix+strings.TrimPrefix(filepath.Base(fresh), tmpNewPrefix))
	if err := os.Rename(fresh, dir); err != nil {
		f.Close()
		os.Remove(fresh)
		return "", nil, err
	}
	return dir, f, nil
}

// sweepTmp removes from root the temporary directories of box processes
// that are gone, and returns what it could not remove.
func sweepTmp(root string, now time.Time) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), tmpOwnPrefix) && e.IsDir():
			err = removeUnlocked(p)
		case olderThan(e, now, tmpLegacyStale) || strings.HasPrefix(e.Name(), tmpNewPrefix) && olderThan(e, now, tmpNewStale):
			err = os.RemoveAll(p)
		default:
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeUnlocked removes dir if no process holds its lock, holding the
// lock meanwhile, so that two sweeps do not race.
func removeUnlocked(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // another sweep, or its owner, was faster
		}
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil // its owner runs
		}
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	return os.RemoveAll(dir)
}

func olderThan(e fs.DirEntry, now time.Time, age time.Duration) bool {
	fi, err := e.Info()
	return err == nil && now.Sub(fi.ModTime()) > age
}
