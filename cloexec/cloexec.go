// Package cloexec keeps the descriptors a process inherited from reaching
// the processes it starts. Every box process calls All first thing (see
// main.go): the CLI inherits whatever its caller held open (a shell's
// `exec 9<dir`, a CI runner's pipes, a file it holds a lock on), and a
// container that got one could walk the host's files through it, or keep
// the lock for as long as its monitor lives. box hands on only what it
// means to, by name: exec.Cmd.ExtraFiles clears the flag on the copies it
// places, so a role still gets its own descriptors.
//
// Do not use it to close descriptors: the process still reads the ones it
// was handed, and by then the Go runtime holds some of its own.
package cloexec

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// All marks every descriptor above stderr close-on-exec.
func All() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	// Before Linux 5.11 (CLOSE_RANGE_CLOEXEC): one at a time.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		// The directory's own descriptor is gone by now: EBADF.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("mark descriptor %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
