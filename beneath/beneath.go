// Package beneath opens and removes files below a directory handle
// without following a single symlink on the way: every component of a
// name must be a real directory, the last one included. A directory that
// someone else may change meanwhile (a bind mount that a running
// container shares, a volume) can then be read and written through it:
// whatever is swapped in between two calls, no name leads out of the
// handle, and nothing is done to a file the name did not lead to when
// the call was made.
//
// Names come from trees box copies (tar entries, directory listings),
// where a symlink is something to copy, never a way to go. To look a
// path up the way a container sees it, its symlinks resolved inside its
// root, use pathrs-lite's OpenatInRoot instead.
package beneath

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrOutside is a name that points above its directory: absolute, or
// with a ".." component. Callers clean untrusted names first
// (path.Clean("/"+name) and the leading "/" cut).
var ErrOutside = errors.New("name leads outside its directory")

// Split checks name, a path relative to a directory, and returns its
// components. "" and "." (and empty or "." components) name the
// directory itself.
func Split(name string) ([]string, error) {
	if strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("%q: %w", name, ErrOutside)
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return nil, fmt.Errorf("%q: %w", name, ErrOutside)
		default:
			parts = append(parts, p)
		}
	}
	return parts, nil
}

// Open opens name below dir with flags (O_CLOEXEC and O_NOFOLLOW are
// added; O_CREAT is not for here: create in the handle OpenParent gives).
// A symlink anywhere in name is ELOOP, except that the last component is
// opened as it is when flags hold O_PATH, like open(2) with O_NOFOLLOW.
// Mount points are crossed.
func Open(dir *os.File, name string, flags int) (*os.File, error) {
	parts, err := Split(name)
	if err != nil {
		return nil, err
	}
	return open(dir, parts, flags, true)
}

// OpenParent opens the directory that holds name's last component, by
// Open's rules, as an O_PATH handle for the *at calls, and returns that
// component. A name with no component (the directory itself) has no
// parent here: ErrOutside.
func OpenParent(dir *os.File, name string) (*os.File, string, error) {
	parts, err := Split(name)
	if err != nil {
		return nil, "", err
	}
	if len(parts) == 0 {
		return nil, "", fmt.Errorf("%q has no parent below its directory: %w", name, ErrOutside)
	}
	last := len(parts) - 1
	// Not O_DIRECTORY: a symlink in the last place of the parent's name
	// is ELOOP, as anywhere before it, not ENOTDIR.
	f, err := open(dir, parts[:last], unix.O_PATH, true)
	if err != nil {
		return nil, "", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, "", err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return f, parts[last], nil
	case unix.S_IFLNK:
		err = unix.ELOOP
	default:
		err = unix.ENOTDIR
	}
	f.Close()
	return nil, "", &os.PathError{Op: "open", Path: strings.Join(parts[:last], "/"), Err: err}
}

const resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// open is Open on split components: with openat2, which checks every
// component in the kernel in one call, or (where openat2 is missing or
// filtered, or useOpenat2 is false) one openat per component.
func open(dir *os.File, parts []string, flags int, useOpenat2 bool) (*os.File, error) {
	flags |= unix.O_CLOEXEC | unix.O_NOFOLLOW
	name := strings.Join(parts, "/")
	if name == "" {
		name = "."
	}
	if useOpenat2 {
		how := unix.OpenHow{Flags: uint64(flags), Resolve: resolve}
		for range 8 {
			fd, err := unix.Openat2(int(dir.Fd()), name, &how)
			switch {
			case err == nil:
				return os.NewFile(uintptr(fd), name), nil
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
				// A rename elsewhere on the filesystem raced the lookup.
				continue
			case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM) && !openat2Works(dir):
				return open(dir, parts, flags, false)
			}
			return nil, &os.PathError{Op: "openat2", Path: name, Err: err}
		}
	}
	fd, err := walk(int(dir.Fd()), parts, flags)
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openat2Works tells an EPERM that openat2 got for the file itself (an
// append-only file opened for writing, say), which stays an error, from
// one that a seccomp filter gave for the call.
func openat2Works(dir *os.File) bool {
	fd, err := unix.Openat2(int(dir.Fd()), ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolve})
	if err == nil {
		unix.Close(fd)
		return true
	}
	return !errors.Is(err, unix.EPERM)
}

// walk opens parts one openat at a time, each directory by an O_PATH
// handle with O_NOFOLLOW. There is no ".." among parts, so every step
// stays below dirfd as with RESOLVE_BENEATH.
func walk(dirfd int, parts []string, flags int) (int, error) {
	cur := -1 // an fd of ours, or -1 while at dirfd
	at := func() int {
		if cur < 0 {
			return dirfd
		}
		return cur
	}
	defer func() {
		if cur >= 0 {
			unix.Close(cur)
		}
	}()
	if len(parts) == 0 {
		return unix.Openat(dirfd, ".", flags, 0)
	}
	for _, p := range parts[:len(parts)-1] {
		next, err := unix.Openat(at(), p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
		case unix.S_IFLNK:
			unix.Close(next)
			return -1, unix.ELOOP // as openat2's RESOLVE_NO_SYMLINKS says it
		default:
			unix.Close(next)
			return -1, unix.ENOTDIR
		}
		if cur >= 0 {
			unix.Close(cur)
		}
		cur = next
	}
	return unix.Openat(at(), parts[len(parts)-1], flags, 0)
}

// RemoveAll removes name below dir and, if it is a directory, everything
// in it, each entry by its own name in a handle of its directory: a
// symlink is removed, never followed, wherever it was swapped in. A name
// that does not exist is no error.
func RemoveAll(dir *os.File, name string) error {
	parent, last, err := OpenParent(dir, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	if err := removeAt(int(parent.Fd()), last); err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	// A directory, unless it changed since: its entries go first. Someone
	// may keep adding entries; a few rounds are their fair share.
	for range 8 {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		switch {
		case errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
			// Replaced by a file or a symlink meanwhile.
			return removeAt(dirfd, name)
		case err != nil:
			return err
		}
		d := os.NewFile(uintptr(fd), name)
		names, err := d.Readdirnames(-1)
		if err != nil && err != io.EOF {
			d.Close()
			return err
		}
		for _, n := range names {
			if err := removeAt(fd, n); err != nil {
				d.Close()
				return err
			}
		}
		d.Close()
		err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return unix.ENOTEMPTY
}
