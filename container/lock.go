package container

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// flock opens path and takes an exclusive flock on it, waiting as long as
// it takes. Every call opens its own file: flock belongs to the open file
// description, so two goroutines sharing one fd would both "hold" the lock.
// The returned file must stay referenced until release, or a finalizer
// could close it and drop the lock early.
func flock(path string) (*os.File, func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("lock %s: %w", path, err)
	}
	var once sync.Once
	// Closing the only fd of the description releases the lock.
	return f, func() { once.Do(func() { f.Close() }) }, nil
}
