package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// dest is a layer's root file system as a step writes it. A destination
// path is resolved first, every symlink followed inside the root as
// Docker follows them (an absolute link means the root; .. stops there),
// and from then on every element is opened relative to its directory's
// handle with O_NOFOLLOW: a symlink an earlier step left, however it
// points, cannot send a write out of the layer. The stage may reach the
// user's own files; the image must not.
type dest struct {
	root *os.File // O_PATH
	path string
}

// ids is an owner.
type ids struct{ uid, gid int }

func openDest(root string) (*dest, error) {
	f, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &dest{root: f, path: root}, nil
}

func (d *dest) close() { d.root.Close() }

// resolve is p with every symlink in it followed inside the root: a
// clean absolute path that holds none (when nothing changes the layer
// meanwhile; the O_NOFOLLOW opens catch it if something does).
func (d *dest) resolve(p string) (string, error) {
	joined, err := securejoin.SecureJoin(d.path, p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(d.path, joined)
	if err != nil {
		return "", err
	}
	return path.Clean("/" + filepath.ToSlash(rel)), nil
}

// lookup returns a handle (O_PATH) on p inside the root, symlinks
// followed inside it.
func (d *dest) lookup(p string) (*os.File, error) {
	return pathrs.OpenatInRoot(d.root, p)
}

// stat describes what p names inside the root, symlinks followed inside
// it.
func (d *dest) stat(p string) (fs.FileInfo, error) {
	h, err := d.lookup(p)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, err
	}
	return statInfo{name: path.Base(p), st: st}, nil
}

// mkdirAll returns a handle on the directory p (resolved: see resolve),
// making it and its parents where missing, as owner with mode 0755. An
// element that is not a directory is an error, a symlink included.
func (d *dest) mkdirAll(p string, owner ids) (*os.File, error) {
	p = path.Clean("/" + p)
	dir, err := openat(d.root, ".", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	if p == "/" {
		return dir, nil
	}
	for _, name := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		next, err := openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			merr := unix.Mkdirat(int(dir.Fd()), name, 0o755)
			if merr != nil && !errors.Is(merr, unix.EEXIST) {
				dir.Close()
				return nil, fmt.Errorf("mkdir %s: %w", p, merr)
			}
			if merr == nil {
				if err := unix.Fchownat(int(dir.Fd()), name, owner.uid, owner.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					dir.Close()
					return nil, fmt.Errorf("chown %s: %w", p, err)
				}
				// Mkdirat applied the umask.
				if err := fchmodat(dir, name, 0o755); err != nil {
					dir.Close()
					return nil, err
				}
			}
			next, err = openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		}
		dir.Close()
		if err != nil {
			if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				return nil, fmt.Errorf("%s: %s is not a directory", p, name)
			}
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		dir = next
	}
	return dir, nil
}

// fchmodat sets the mode of name in dir, which is not a symlink.
func fchmodat(dir *os.File, name string, mode uint32) error {
	f, err := openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer f.Close()
	// chmod through /proc: fchmod refuses O_PATH handles.
	if err := unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), mode); err != nil {
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	return nil
}

func openat(dir *os.File, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// meta is what a written entry gets besides its content.
type meta struct {
	owner ids
	mode  fs.FileMode // permission bits, with setuid, setgid, sticky
	mtime time.Time
}

// unixMode is m's permission bits as chmod(2) takes them.
func unixMode(m fs.FileMode) uint32 {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		n |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		n |= unix.S_ISVTX
	}
	return n
}

// fileOpts say what writeFile may skip: files are many, and each system
// call on a new inode costs (a journal entry, on ext4).
type fileOpts struct {
	// fresh: dir was made by this copy, so name cannot exist there yet.
	fresh bool
	// creator is who a new file belongs to without a chown: the process's
	// ids, or the directory's group where the directory is setgid.
	creator ids
	umask   uint32
}

// writeFile writes a regular file name in dir from r, replacing what is
// there unless it is a directory.
func writeFile(dir *os.File, name string, r io.Reader, m meta, o fileOpts) error {
	if !o.fresh {
		if err := clearFor(dir, name, false); err != nil {
			return err
		}
	}
	mode := unixMode(m.mode)
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode&0o777)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	// Owner before mode: chown clears setuid and setgid.
	chowned := false
	if m.owner != o.creator {
		if err := f.Chown(m.owner.uid, m.owner.gid); err != nil {
			return fmt.Errorf("chown %s: %w", name, err)
		}
		chowned = true
	}
	if chowned || mode != mode&0o777&^o.umask {
		if err := unix.Fchmod(fd, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(m.mtime.UnixNano()), unix.NsecToTimespec(m.mtime.UnixNano())}
	if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("set the times of %s: %w", name, err)
	}
	return f.Close()
}

// processUmask is this process's umask, read without changing it (umask(2)
// would, for every thread, while other steps may be writing).
var processUmask = sync.OnceValue(func() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return uint32(n)
				}
			}
		}
	}
	return 0o777 // unknown: every file gets its chmod
})

// writeSymlink makes name in dir a symlink to target.
func writeSymlink(dir *os.File, name, target string, m meta) error {
	if err := clearFor(dir, name, false); err != nil {
		return err
	}
	if err := unix.Symlinkat(target, int(dir.Fd()), name); err != nil {
		return fmt.Errorf("symlink %s: %w", name, err)
	}
	if err := unix.Fchownat(int(dir.Fd()), name, m.owner.uid, m.owner.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(m.mtime.UnixNano()), unix.NsecToTimespec(m.mtime.UnixNano())}
	if err := unix.UtimesNanoAt(int(dir.Fd()), name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set the times of %s: %w", name, err)
	}
	return nil
}

// writeFifo makes name in dir a named pipe.
func writeFifo(dir *os.File, name string, m meta) error {
	if err := clearFor(dir, name, false); err != nil {
		return err
	}
	if err := unix.Mkfifoat(int(dir.Fd()), name, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", name, err)
	}
	return setMeta(dir, name, m)
}

// makeDir makes name in dir a directory (keeping one that is there) and
// says whether it made it. Its metadata is set by setMeta once its
// entries are written, which change its times.
func makeDir(dir *os.File, name string, fresh bool) (bool, error) {
	if !fresh {
		if err := clearFor(dir, name, true); err != nil {
			return false, err
		}
	}
	err := unix.Mkdirat(int(dir.Fd()), name, 0o700)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return false, fmt.Errorf("mkdir %s: %w", name, err)
	}
	return err == nil, nil
}

// setMeta sets the owner, mode and times of name in dir (not a symlink).
func setMeta(dir *os.File, name string, m meta) error {
	if err := unix.Fchownat(int(dir.Fd()), name, m.owner.uid, m.owner.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if err := fchmodat(dir, name, unixMode(m.mode)); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(m.mtime.UnixNano()), unix.NsecToTimespec(m.mtime.UnixNano())}
	if err := unix.UtimesNanoAt(int(dir.Fd()), name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set the times of %s: %w", name, err)
	}
	return nil
}

// clearFor removes what is at name in dir where something of another
// kind goes: a directory stays for a directory; a file, symlink or pipe
// goes for anything; a directory is never replaced by a file (Docker
// refuses too).
func clearFor(dir *os.File, name string, wantDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case isDir && wantDir:
		return nil
	case isDir:
		return fmt.Errorf("cannot replace directory %s with a file", name)
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	return nil
}

// statInfo is an fs.FileInfo of a unix.Stat_t.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s statInfo) Name() string { return s.name }
func (s statInfo) Size() int64  { return s.st.Size }
func (s statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if s.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
func (s statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s statInfo) IsDir() bool        { return s.st.Mode&unix.S_IFMT == unix.S_IFDIR }
func (s statInfo) Sys() any           { return &s.st }

// hostOwner is the owner of a source entry on disk.
func hostOwner(fi fs.FileInfo) ids {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return ids{int(st.Uid), int(st.Gid)}
	case *unix.Stat_t:
		return ids{int(st.Uid), int(st.Gid)}
	}
	return ids{}
}
