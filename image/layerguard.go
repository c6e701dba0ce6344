package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// ErrHostileLayer means a layer was refused before it was unpacked: it
// would have made containers/storage hang (see checkWhiteouts).
var ErrHostileLayer = errors.New("refused a hostile layer")

// guardedStore is the store as containers/image writes pulled and loaded
// images through it. With the vfs driver each layer is checked before
// containers/storage unpacks it: its UnpackLayer (v1.64.2) carries out a
// whiteout "d/.wh.n" with os.RemoveAll("d/n"), which, when d is a fifo,
// opens the fifo to read it as a directory and blocks until someone opens
// it for writing: forever, in a pull of a layer from a stranger. Overlay
// unpacks whiteouts as device nodes instead and is not affected.
type guardedStore struct {
	storage.Store
}

// PutLayer checks diff, then puts it. containers/image hands it the blob
// as a file it has on disk; anything else is kept in a temporary file for
// the check, which reads it whole before the store does.
func (g guardedStore) PutLayer(id, parent string, names []string, mountLabel string, writeable bool, options *storage.LayerOptions, diff io.Reader) (*storage.Layer, int64, error) {
	if g.GraphDriverName() != DriverVFS || diff == nil {
		return g.Store.PutLayer(id, parent, names, mountLabel, writeable, options, diff)
	}
	f, ok := diff.(*os.File)
	if !ok {
		tmp, err := os.CreateTemp(g.RunRoot(), "layer-*")
		if err != nil {
			return nil, -1, err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, diff); err != nil {
			return nil, -1, err
		}
		f = tmp
	}
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, -1, err
	}
	if err := g.check(f, parent); err != nil {
		return nil, -1, err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, -1, err
	}
	return g.Store.PutLayer(id, parent, names, mountLabel, writeable, options, f)
}

// check runs checkWhiteouts over the (maybe compressed) layer in r, with
// the parent layer's files, which the vfs driver copies the layer onto,
// as the tree below.
func (g guardedStore) check(r io.Reader, parent string) error {
	tr, err := archive.DecompressStream(r)
	if err != nil {
		return fmt.Errorf("check layer: %w", err)
	}
	defer tr.Close()
	lower := func(string) (fs.FileMode, string, bool) { return 0, "", false }
	if parent != "" {
		d, err := g.GraphDriver()
		if err != nil {
			return fmt.Errorf("check layer: %w", err)
		}
		dir, err := d.Get(parent, drivers.MountOpts{}) // vfs: the directory, no mount
		if err != nil {
			return fmt.Errorf("check layer: the layer below: %w", err)
		}
		defer func() { _ = d.Put(parent) }()
		lower = dirTree(dir)
	}
	return checkWhiteouts(tr, lower)
}

// dirTree looks names up in the directory tree at root, following no
// symlink: checkWhiteouts resolves them itself.
func dirTree(root string) func(name string) (fs.FileMode, string, bool) {
	return func(name string) (fs.FileMode, string, bool) {
		// Every component above name is a directory checkWhiteouts has
		// looked up already; SecureJoin keeps a swapped one inside root.
		p, err := securejoin.SecureJoin(root, path.Dir(name))
		if err != nil {
			return 0, "", false
		}
		fi, err := os.Lstat(p + "/" + path.Base(name))
		if err != nil {
			return 0, "", false
		}
		target := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ = os.Readlink(p + "/" + path.Base(name))
		}
		return fi.Mode().Type(), target, true
	}
}

// node is what a layer's entries made of a name so far.
type node struct {
	typ    fs.FileMode // fs.ModeDir, fs.ModeSymlink, fs.ModeNamedPipe, 0 for a file
	target string      // a symlink's
	gone   bool        // removed (a whiteout, or an entry not made)
}

// maxLinks bounds the symlinks one name may go through, as the kernel's
// 40 and SecureJoin's 255 do.
const maxLinks = 255

// checkWhiteouts reads the layer tar r and refuses (ErrHostileLayer) a
// whiteout whose directory would be a fifo when containers/storage gets
// to it: made so by an entry before it in the layer, or there in the tree
// below (lower looks a name up there: its type, a symlink's target, and
// whether it exists). Names resolve as containers/storage resolves them,
// symlinks followed and confined to the layer (SecureJoin), so a symlink
// to a fifo does not hide one. It only reads: what it passes, the store
// unpacks as before. Where the tree below was changed by the layer in
// ways it does not follow (a directory removed and made again), it may
// see a fifo that is gone by then: it errs toward refusing, never toward
// a hang.
func checkWhiteouts(r io.Reader, lower func(name string) (fs.FileMode, string, bool)) error {
	made := map[string]node{}
	lookup := func(name string) (node, bool) {
		if n, ok := made[name]; ok {
			return n, !n.gone
		}
		typ, target, ok := lower(name)
		return node{typ: typ, target: target}, ok
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// containers/storage reads the same tar with the same reader:
			// it fails here too, without harm.
			return nil
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if strings.HasPrefix(name, archive.WhiteoutMetaPrefix) {
			continue // AUFS metadata; the plink files go elsewhere
		}
		dir, base := path.Split(name)
		where, n, state := resolve(path.Clean("/"+dir), lookup)
		if state == missing && base != "" {
			// containers/storage makes the entry's directory, whatever
			// the entry (MkdirAll): from here on it is one.
			for q := where; q != "/"; q = path.Dir(q) {
				if _, ok := lookup(q[1:]); ok {
					break
				}
				made[q[1:]] = node{typ: fs.ModeDir}
			}
			n, state = node{typ: fs.ModeDir}, found
		}
		if strings.HasPrefix(base, archive.WhiteoutPrefix) {
			if base == archive.WhiteoutOpaqueDir {
				continue // a walk of the directory, which opens no fifo
			}
			if state == found && n.typ == fs.ModeNamedPipe {
				return fmt.Errorf("%w: whiteout %s is below a fifo, %s (containers/storage would hang on it)", ErrHostileLayer, hdr.Name, strings.TrimPrefix(where, "/"))
			}
			made[strings.TrimPrefix(path.Join(where, strings.TrimPrefix(base, archive.WhiteoutPrefix)), "/")] = node{gone: true}
			continue
		}
		if base == "" {
			continue // the root itself
		}
		at := strings.TrimPrefix(path.Join(where, base), "/")
		switch hdr.Typeflag {
		case tar.TypeDir:
			made[at] = node{typ: fs.ModeDir}
		case tar.TypeSymlink:
			made[at] = node{typ: fs.ModeSymlink, target: hdr.Linkname}
		case tar.TypeFifo:
			made[at] = node{typ: fs.ModeNamedPipe}
		case tar.TypeLink:
			// The other name of what the link names: a fifo too, maybe.
			_, t, st := resolve(path.Clean("/"+hdr.Linkname), lookup)
			made[at] = node{typ: t.typ, target: t.target, gone: st != found}
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
			made[at] = node{}
		default:
			// Devices are not made in a user namespace; what was there is
			// removed first.
			made[at] = node{gone: true}
		}
	}
}

// What resolve finds at a name.
const (
	found   = iota
	missing // a component is not there: where is the path to make
	blocked // below a non-directory, or too many symlinks: nothing can be
)

// resolve follows p (absolute, cleaned, "/" the layer's root) through
// lookup as SecureJoin does: symlinks followed, ".." and absolute targets
// kept inside the root. It returns where p leads, what is there, and
// whether it was found.
func resolve(p string, lookup func(string) (node, bool)) (string, node, int) {
	todo := parts(p)
	cur, links := "", 0
	last := node{typ: fs.ModeDir}
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		if c == ".." {
			cur = path.Dir("/" + cur)[1:]
			last = node{typ: fs.ModeDir}
			continue
		}
		next := strings.TrimPrefix(path.Join(cur, c), "/")
		n, ok := lookup(next)
		if !ok {
			return "/" + path.Join(append([]string{next}, todo...)...), node{}, missing
		}
		if n.typ == fs.ModeSymlink {
			if links++; links > maxLinks {
				return "/" + next, node{}, blocked
			}
			if strings.HasPrefix(n.target, "/") {
				cur = ""
			}
			todo = append(parts(n.target), todo...)
			last = node{typ: fs.ModeDir}
			continue
		}
		if len(todo) > 0 && n.typ != fs.ModeDir {
			// A name below a non-directory does not exist.
			return "/" + path.Join(append([]string{next}, todo...)...), node{}, blocked
		}
		cur, last = next, n
	}
	return "/" + cur, last, found
}

// parts are p's components, empty ones and "." left out.
func parts(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}
