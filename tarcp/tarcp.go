// Package tarcp is the file transfer of box cp and box export: a tar
// stream made on one side (the host, a stopped container's mounted root,
// or a helper inside a running container) and unpacked on the other, in
// Go, so no image needs a tar binary. Every path on the container side is
// resolved inside its root: neither ".." nor a symlink leads out.
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
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Errors the CLI words.
var (
	ErrNotFound   = errors.New("no such file or directory")
	ErrNotDir     = errors.New("not a directory")
	ErrDirOnFile  = errors.New("cannot copy a directory onto a file")
	ErrBadArchive = errors.New("invalid tar stream")
)

// Resolve turns p, a path inside root, into a path on this side whose
// parent directories are resolved inside root; the last element itself is
// not followed, as cp -a copies a symlink rather than its target. An empty
// root means the host: p is used as it is.
func Resolve(root, p string) (string, error) {
	if root == "" {
		return filepath.Clean(p), nil
	}
	clean := path.Clean("/" + p)
	if clean == "/" {
		return filepath.Clean(root), nil
	}
	dir, err := securejoin.SecureJoin(root, path.Dir(clean))
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	return filepath.Join(dir, path.Base(clean)), nil
}

// Create writes a tar of src (a path inside root) to w. Its entries are
// named after src's last element, or, when src ends in "/.", they are the
// directory's contents under "." (cp's "copy what is inside").
func Create(w io.Writer, root, src string) error {
	return create(w, root, src, false)
}

// Export writes the whole tree under root, with names relative to it, as
// docker export does.
func Export(w io.Writer, root string) error {
	return create(w, root, "/.", true)
}

func create(w io.Writer, root, src string, bare bool) error {
	contents := strings.HasSuffix(src, "/.") || src == "."
	top, err := Resolve(root, src)
	if err != nil {
		return err
	}
	if contents {
		// The directory itself may be a symlink inside root: follow it there.
		if root != "" {
			if top, err = securejoin.SecureJoin(root, src); err != nil {
				return fmt.Errorf("resolve %s: %w", src, err)
			}
		}
	}
	fi, err := os.Lstat(top)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", src, ErrNotFound)
		}
		return err
	}
	if contents && !fi.IsDir() {
		return fmt.Errorf("%s: %w", src, ErrNotDir)
	}
	name := filepath.Base(top)
	if contents {
		name = "."
	}
	tw := tar.NewWriter(w)
	links := hardlinks{}
	err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(top, p)
		if err != nil {
			return err
		}
		entry := path.Join(name, filepath.ToSlash(rel))
		if contents && rel != "." {
			entry = "./" + entry
		}
		if bare {
			if rel == "." {
				return nil
			}
			entry = filepath.ToSlash(rel)
		}
		return addEntry(tw, links, p, entry)
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", src, err)
	}
	return tw.Close()
}

// hardlinks maps a file's device and inode to the first name it was
// archived under, so that its other names travel as links, not copies
// (busybox's hundreds of applets are one file).
type hardlinks map[[2]uint64]string

func addEntry(tw *tar.Writer, links hardlinks, p, name string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() && link == "" {
		// Devices, fifos and sockets cannot be made by an unprivileged
		// user on the other side anyway.
		return nil
	}
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
		if first, seen := links[key]; seen {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return tw.WriteHeader(hdr)
		}
		links[key] = name
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
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
	target, err := Resolve(root, dest)
	if err != nil {
		return err
	}
	if root != "" && !raw {
		// An existing directory may be reached through a symlink inside root.
		if dir, err := securejoin.SecureJoin(root, dest); err == nil {
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				target = dir
			}
		}
	} else if root != "" {
		if target, err = securejoin.SecureJoin(root, dest); err != nil {
			return err
		}
	}
	topName := strings.SplitN(path.Clean(first.Name), "/", 2)[0]
	srcIsDir := first.Typeflag == tar.TypeDir
	fi, statErr := os.Stat(target)
	var base, rename string
	switch {
	case !raw && topName == "." && errors.Is(statErr, fs.ErrNotExist) && !strings.HasSuffix(dest, "/"):
		// A directory's contents to a new path: it becomes that directory.
		if err := os.Mkdir(target, 0o755); err != nil {
			return fmt.Errorf("%s: %w", filepath.Dir(dest), ErrNotFound)
		}
		base = target
	case raw || topName == ".":
		if statErr != nil || !fi.IsDir() {
			return fmt.Errorf("%s: %w", dest, ErrNotDir)
		}
		base = target
	case statErr == nil && fi.IsDir():
		base = target
	case statErr == nil && srcIsDir:
		return fmt.Errorf("%s: %w", dest, ErrDirOnFile)
	case statErr != nil && !errors.Is(statErr, fs.ErrNotExist):
		return statErr
	case statErr != nil && strings.HasSuffix(dest, "/") && !srcIsDir:
		return fmt.Errorf("%s: %w", dest, ErrNotFound)
	default:
		base, rename = filepath.Dir(target), filepath.Base(target)
		if pfi, err := os.Stat(base); err != nil || !pfi.IsDir() {
			return fmt.Errorf("%s: %w", filepath.Dir(dest), ErrNotFound)
		}
	}
	var dirs []*tar.Header
	for hdr := first; ; {
		name := path.Clean("/" + hdr.Name)
		if rename != "" {
			parts := strings.SplitN(strings.TrimPrefix(name, "/"), "/", 2)
			name = "/" + rename
			if len(parts) == 2 {
				name += "/" + parts[1]
			}
		}
		if err := extractOne(tr, hdr, base, name); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			h := *hdr
			h.Name = name
			dirs = append(dirs, &h)
		}
		if hdr, err = tr.Next(); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
	}
	// Directory times last: writing into them changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if p, err := Resolve(base, dirs[i].Name); err == nil {
			_ = os.Chtimes(p, dirs[i].AccessTime, dirs[i].ModTime)
		}
	}
	return nil
}

// extractOne makes one entry at name, a path inside base: what is already
// there is replaced, never followed.
func extractOne(tr *tar.Reader, hdr *tar.Header, base, name string) error {
	if name == "/" {
		return nil
	}
	p, err := Resolve(base, name)
	if err != nil {
		return err
	}
	mode := fs.FileMode(hdr.Mode) & fs.ModePerm
	if old, err := os.Lstat(p); err == nil && !(old.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(p, mode|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return os.Chmod(p, mode)
	case tar.TypeReg, tar.TypeRegA:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
		return nil
	case tar.TypeLink:
		old, err := securejoin.SecureJoin(base, hdr.Linkname)
		if err != nil {
			return err
		}
		return os.Link(old, p)
	default:
		return nil
	}
	return os.Chtimes(p, hdr.AccessTime, hdr.ModTime)
}
