// Package tarcp is the file transfer of box cp and box export: a tar
// stream made on one side (the host, a stopped container's mounted root,
// or a helper inside a running container) and unpacked on the other, in
// Go, so no image needs a tar binary.
//
// The path the user names is looked up once, as its side sees it: on the
// host as given, inside a container's root with its symlinks resolved
// there (neither ".." nor a symlink leads out). Below that, nothing is
// followed: every file is read, made, moded and timed through a handle of
// its directory by a name that is not a symlink (package beneath). A
// directory that a running container shares (a bind mount, a volume) may
// change under the copy, a directory swapped for a symlink included;
// the copy then fails or stays where it was, and never reads or writes a
// file outside it.
package tarcp

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/beneath"
)

// Errors the CLI words.
var (
	ErrNotFound   = errors.New("no such file or directory")
	ErrNotDir     = errors.New("not a directory")
	ErrDirOnFile  = errors.New("cannot copy a directory onto a file")
	ErrBadArchive = errors.New("invalid tar stream")
	// ErrSymlinkInWay is a symlink where the copy needs a directory below
	// its destination, which it never follows: one in a user's tar, or
	// one swapped in by whoever shares the directory.
	ErrSymlinkInWay = errors.New("a symlink is in the way")
)

// side is where the user's path is looked up: in a container's root, or
// on the host (root nil).
type side struct{ root *os.File }

func openSide(root string) (side, error) {
	if root == "" {
		return side{}, nil
	}
	f, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return side{}, fmt.Errorf("open the root %s: %w", root, err)
	}
	return side{root: f}, nil
}

func (s side) close() {
	if s.root != nil {
		s.root.Close()
	}
}

// open returns an O_PATH handle on what p names, symlinks followed: a
// container's inside its root, the host's as the kernel does (the user's
// own path, as cp follows it).
func (s side) open(p string) (*os.File, error) {
	if s.root == nil {
		return os.OpenFile(filepath.Clean(p), unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	return pathrs.OpenatInRoot(s.root, path.Clean("/"+p))
}

// parent returns a handle on the directory that holds p, followed as open
// does, and p's last element, which is not followed: cp copies a symlink,
// not its target. p naming a root (or "." or ".." on the host) has no
// last element here: "", and no handle.
func (s side) parent(p string) (*os.File, string, error) {
	var dir, leaf string
	if s.root == nil {
		c := filepath.Clean(p)
		dir, leaf = filepath.Dir(c), filepath.Base(c)
	} else {
		c := path.Clean("/" + p)
		dir, leaf = path.Dir(c), path.Base(c)
	}
	if leaf == "/" || leaf == "." || leaf == ".." {
		return nil, "", nil
	}
	f, err := s.open(dir)
	if err != nil {
		return nil, "", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		f.Close()
		return nil, "", &os.PathError{Op: "open", Path: dir, Err: unix.ENOTDIR}
	}
	return f, leaf, nil
}

// Create writes a tar of src (a path inside root) to w. Its entries are
// named after src's last element, or, when src ends in "/." (or is a
// root), they are the directory's contents under "." (cp's "copy what is
// inside").
func Create(w io.Writer, root, src string) error {
	return create(w, root, src, false)
}

// Export writes the whole tree under root, with names relative to it, as
// docker export does.
func Export(w io.Writer, root string) error {
	return create(w, root, "/.", true)
}

func create(w io.Writer, root, src string, bare bool) error {
	s, err := openSide(root)
	if err != nil {
		return err
	}
	defer s.close()
	parent, leaf, err := s.parent(src)
	if err != nil {
		return notFound(src, err)
	}
	a := archiver{tw: tar.NewWriter(w), links: hardlinks{}, bare: bare}
	if leaf == "" || strings.HasSuffix(src, "/.") || src == "." {
		if parent != nil {
			parent.Close()
		}
		// The directory itself may be a symlink (inside root): follow it.
		h, err := s.open(src)
		if err != nil {
			return notFound(src, err)
		}
		defer h.Close()
		d, err := beneath.Open(h, ".", unix.O_RDONLY|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("%s: %w", src, ErrNotDir)
		}
		if err != nil {
			return fmt.Errorf("archive %s: %w", src, err)
		}
		err = a.addOpen(d, ".")
		d.Close()
		if err != nil {
			return fmt.Errorf("archive %s: %w", src, err)
		}
		return a.tw.Close()
	}
	defer parent.Close()
	f, err := openEntry(parent, leaf)
	if err != nil {
		return notFound(src, err)
	}
	if f != nil {
		err = a.addOpen(f, leaf)
		f.Close()
		if err != nil {
			return fmt.Errorf("archive %s: %w", src, err)
		}
	}
	return a.tw.Close()
}

// notFound words a missing source as ErrNotFound.
func notFound(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	return err
}

type archiver struct {
	tw    *tar.Writer
	links hardlinks
	bare  bool // Export: no entry for the top, the rest without "./"
}

// hardlinks maps a file's device and inode to the first name it was
// archived under, so that its other names travel as links, not copies
// (busybox's hundreds of applets are one file).
type hardlinks map[[2]uint64]string

// add archives name, an entry of dir, as entry, and what is below it.
func (a *archiver) add(dir *os.File, name, entry string) error {
	f, err := openEntry(dir, name)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	return a.addOpen(f, entry)
}

// openEntry opens name in dir as what it is, never following it: a
// directory or a regular file to read, a symlink by itself (O_PATH); nil
// for a device, fifo or socket, which an unprivileged user on the other
// side could not make anyway and which must not be opened. The name may
// change meanwhile: what counts is the file this returns.
func openEntry(dir *os.File, name string) (*os.File, error) {
	dfd := int(dir.Fd())
	for range 8 {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, &os.PathError{Op: "lstat", Path: name, Err: err}
		}
		if special(st.Mode) {
			return nil, nil
		}
		fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err == nil {
			return os.NewFile(uintptr(fd), name), nil
		}
		if !errors.Is(err, unix.ELOOP) {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		// A symlink: the link itself, if it still is one.
		if fd, err = unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		if err := unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return os.NewFile(uintptr(fd), name), nil
		}
		unix.Close(fd) // swapped back meanwhile: look again
	}
	return nil, &os.PathError{Op: "open", Path: name, Err: errChanging}
}

var errChanging = errors.New("keeps changing while being copied")

func special(mode uint32) bool {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
		return false
	}
	return true
}

// addOpen archives the open file f as entry; for a directory, its
// entries follow, each opened through f.
func (a *archiver) addOpen(f *os.File, entry string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = readlink(f); err != nil {
			return err
		}
	} else if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil // swapped for a device, fifo or socket after the lstat
	}
	if !(a.bare && entry == ".") {
		if err := a.header(f, fi, link, entry); err != nil {
			return err
		}
	}
	if !fi.IsDir() {
		return nil
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		child := entry + "/" + n
		switch {
		case a.bare && entry == ".":
			child = n
		case entry == ".":
			child = "./" + n
		}
		if err := a.add(f, n, child); err != nil {
			return err
		}
	}
	return nil
}

// header writes f's header, named name, and a regular file's content.
func (a *archiver) header(f *os.File, fi fs.FileInfo, link, name string) error {
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	// Only the modification time travels, as with docker cp.
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if first, seen := a.links[key]; seen {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return a.tw.WriteHeader(hdr)
		}
		a.links[key] = name
	}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	// What the header says: a file that grows meanwhile is cut where it
	// was, one that shrinks cannot be copied.
	if _, err := io.CopyN(a.tw, f, hdr.Size); err != nil {
		if err == io.EOF {
			err = fmt.Errorf("%s shrank while being copied", name)
		}
		return err
	}
	return nil
}

// readlink reads the symlink f, opened with O_PATH|O_NOFOLLOW: the link
// itself, not whatever has its name now.
func readlink(f *os.File) (string, error) {
	for n := 256; ; n *= 2 {
		buf := make([]byte, n)
		m, err := unix.Readlinkat(int(f.Fd()), "", buf)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: f.Name(), Err: err}
		}
		if m < n {
			return string(buf[:m]), nil
		}
	}
}

// Extract unpacks the tar that Create made from some source into dest, a
// path inside root, with cp's rules: into dest when it is a directory (or
// when the stream holds a directory's contents), else as dest itself,
// whose parent must exist. With raw, the stream (from a user's "-") is
// unpacked as it is into the directory dest.
func Extract(r io.Reader, root, dest string, raw bool) error {
	tr := tar.NewReader(r)
	first, err := tr.Next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	s, err := openSide(root)
	if err != nil {
		return err
	}
	defer s.close()
	topName := strings.SplitN(path.Clean(first.Name), "/", 2)[0]
	srcIsDir := first.Typeflag == tar.TypeDir
	// What dest is, followed (inside root): a directory to unpack into?
	target, statErr := s.open(dest)
	isDir := false
	if statErr == nil {
		defer target.Close()
		var st unix.Stat_t
		if statErr = unix.Fstat(int(target.Fd()), &st); statErr == nil {
			isDir = st.Mode&unix.S_IFMT == unix.S_IFDIR
		}
	}
	x := extractor{}
	switch {
	case !raw && topName == "." && errors.Is(statErr, fs.ErrNotExist) && !strings.HasSuffix(dest, "/"):
		// A directory's contents to a new path: it becomes that directory.
		parent, leaf, err := s.parent(dest)
		if err != nil || leaf == "" {
			return fmt.Errorf("%s: %w", filepath.Dir(dest), ErrNotFound)
		}
		defer parent.Close()
		if err := unix.Mkdirat(int(parent.Fd()), leaf, 0o755); err != nil {
			return fmt.Errorf("%s: %w", filepath.Dir(dest), ErrNotFound)
		}
		if x.base, err = beneath.Open(parent, leaf, unix.O_PATH|unix.O_DIRECTORY); err != nil {
			return unpackError(dest, err)
		}
		defer x.base.Close()
	case raw || topName == ".":
		if statErr != nil || !isDir {
			return fmt.Errorf("%s: %w", dest, ErrNotDir)
		}
		x.base = target
	case statErr == nil && isDir:
		x.base = target
	case statErr == nil && srcIsDir:
		return fmt.Errorf("%s: %w", dest, ErrDirOnFile)
	case statErr != nil && !errors.Is(statErr, fs.ErrNotExist):
		return statErr
	case statErr != nil && strings.HasSuffix(dest, "/") && !srcIsDir:
		return fmt.Errorf("%s: %w", dest, ErrNotFound)
	default:
		parent, leaf, err := s.parent(dest)
		if err != nil || leaf == "" {
			return fmt.Errorf("%s: %w", filepath.Dir(dest), ErrNotFound)
		}
		defer parent.Close()
		x.base, x.rename = parent, leaf
	}
	for hdr := first; ; {
		if err := x.one(tr, hdr); err != nil {
			return err
		}
		if hdr, err = tr.Next(); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
	}
	return x.finishDirs()
}

// extractor unpacks entries below base, each through a handle of its
// parent directory that was opened without following a symlink.
type extractor struct {
	base *os.File
	// rename is the name the stream's top entry takes (cp SRC NEWNAME).
	rename string
	dirs   []dirAttrs
}

// dirAttrs are what a directory gets once everything is in it: until
// then it stays writable for us, and writing into it changes its times.
type dirAttrs struct {
	name         string
	mode         uint32
	atime, mtime time.Time
}

// rel is an entry's name below base: cleaned, so never above it, with
// the top entry renamed.
func (x *extractor) rel(name string) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if x.rename == "" || name == "" {
		return name
	}
	if _, rest, ok := strings.Cut(name, "/"); ok {
		return x.rename + "/" + rest
	}
	return x.rename
}

// one makes one entry: what is already there is replaced, never
// followed; an existing directory takes a directory's attributes.
func (x *extractor) one(tr *tar.Reader, hdr *tar.Header) error {
	name := x.rel(hdr.Name)
	if name == "" {
		return nil // the destination itself
	}
	parent, leaf, err := beneath.OpenParent(x.base, name)
	if err != nil {
		return unpackError(name, err)
	}
	defer parent.Close()
	pfd := int(parent.Fd())
	mode := uint32(fs.FileMode(hdr.Mode) & fs.ModePerm)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, leaf, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil &&
		!(st.Mode&unix.S_IFMT == unix.S_IFDIR && hdr.Typeflag == tar.TypeDir) {
		if err := beneath.RemoveAll(parent, leaf); err != nil {
			return unpackError(name, err)
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, leaf, mode|0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdir", Path: name, Err: err}
		}
		x.dirs = append(x.dirs, dirAttrs{name: name, mode: mode, atime: hdr.AccessTime, mtime: hdr.ModTime})
	case tar.TypeReg, tar.TypeRegA:
		fd, err := unix.Openat(pfd, leaf, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "create", Path: name, Err: err}
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		if _, err := io.Copy(f, tr); err != nil {
			return err
		}
		if err := f.Chmod(fs.FileMode(mode)); err != nil {
			return err
		}
		if err := futimens(f, hdr.AccessTime, hdr.ModTime); err != nil {
			return err
		}
		return f.Close()
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, leaf); err != nil {
			return &os.PathError{Op: "symlink", Path: name, Err: err}
		}
	case tar.TypeLink:
		oldParent, oldLeaf, err := beneath.OpenParent(x.base, x.rel(hdr.Linkname))
		if err != nil {
			return unpackError(name, err)
		}
		defer oldParent.Close()
		// Without AT_SYMLINK_FOLLOW: a symlink swapped in is linked as it is.
		if err := unix.Linkat(int(oldParent.Fd()), oldLeaf, pfd, leaf, 0); err != nil {
			return &os.PathError{Op: "link", Path: name, Err: err}
		}
		ts := timespecs(hdr.AccessTime, hdr.ModTime)
		_ = unix.UtimesNanoAt(pfd, leaf, ts[:], unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// unpackError says what went wrong with the entry name; a symlink on its
// way is ErrSymlinkInWay.
func unpackError(name string, err error) error {
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("unpack %s: %w", name, ErrSymlinkInWay)
	}
	return fmt.Errorf("unpack %s: %w", name, err)
}

// finishDirs gives each directory its mode and time, deepest first, so
// that each is still open to us while its children get theirs. A
// directory that was there already and that we may not read keeps its
// own.
func (x *extractor) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		// Not O_DIRECTORY, so that a symlink there is ELOOP, as on the way.
		f, err := beneath.Open(x.base, d.name, unix.O_RDONLY|unix.O_NONBLOCK)
		if errors.Is(err, unix.EACCES) {
			continue
		}
		if err != nil {
			return unpackError(d.name, err)
		}
		fi, err := f.Stat()
		if err == nil && fi.IsDir() {
			err = f.Chmod(fs.FileMode(d.mode))
			_ = futimens(f, d.atime, d.mtime)
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// futimens sets f's times on the open file itself (utimensat with a
// NULL path); a zero time is left as it is.
func futimens(f *os.File, atime, mtime time.Time) error {
	ts := timespecs(atime, mtime)
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if errno != 0 {
		return &os.PathError{Op: "futimens", Path: f.Name(), Err: errno}
	}
	return nil
}

func timespecs(atime, mtime time.Time) [2]unix.Timespec {
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	for i, t := range []time.Time{atime, mtime} {
		if !t.IsZero() {
			ts[i] = unix.NsecToTimespec(t.UnixNano())
		}
	}
	return ts
}
