package build

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/buildctx"
	"github.com/boxcli/box/dockerfile"
)

// ErrMultipleSources: several sources need a directory to go to.
var ErrMultipleSources = errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")

// copySpec is a COPY or ADD ready to write.
type copySpec struct {
	step *dockerfile.CopyStep
	// tree is where sources are read: the context, or the root of the
	// stage or image --from names (nil when all sources are URLs or
	// heredocs).
	tree *buildctx.Tree
	// keepOwners: sources keep their owners (--from a stage or image);
	// the context's files belong to root.
	keepOwners bool
	// singleID: box's namespace maps one id, so an archive's owners
	// cannot be kept.
	singleID bool
	tmpDir   string
	epoch    *time.Time
}

// copyInto writes c's sources into the layer mounted at root, with
// Docker's rules: a directory's contents are copied, not the directory;
// a destination ending in / is a directory; files keep their modes and
// times; new parent directories are 0755.
func copyInto(ctx context.Context, root string, c copySpec) error {
	d, err := openDest(root)
	if err != nil {
		return err
	}
	defer d.close()
	cs := c.step
	owner, err := chownOwner(d, cs.Chown)
	if err != nil {
		return err
	}
	var mode *dockerfile.Mode
	if cs.Chmod != "" {
		m, err := dockerfile.ParseMode(cs.Chmod)
		if err != nil {
			return err
		}
		mode = &m
	}
	// Match every source first: how many there are decides what the
	// destination is.
	type match struct {
		src buildctx.Source
		url string
		// under is, for --parents, the path the source keeps below the
		// destination: its path from the context's root, or from the
		// pivot a /./ marks.
		under string
	}
	var excl *patternmatcher.PatternMatcher
	if len(cs.Exclude) > 0 {
		if excl, err = patternmatcher.New(cs.Exclude); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
	}
	var matches []match
	for _, s := range cs.Sources {
		if dockerfile.IsURL(s) {
			matches = append(matches, match{url: s})
			continue
		}
		pivot := ""
		if cs.Parents {
			if p, _, ok := strings.Cut(s, "/./"); ok {
				pivot = strings.Trim(path.Clean("/"+p), "/")
			}
		}
		found, err := c.tree.Match(s)
		if err != nil {
			return err
		}
		for _, f := range found {
			if excluded(excl, f.Name) {
				continue
			}
			m := match{src: f}
			if cs.Parents {
				m.under = f.Rel
				if pivot != "" {
					m.under = strings.TrimPrefix(strings.TrimPrefix(f.Rel, pivot), "/")
				}
			}
			matches = append(matches, m)
		}
	}
	destDir := strings.HasSuffix(cs.Dest, "/")
	// The destination with its symlinks followed inside the layer, as
	// Docker follows them; from here on nothing is followed.
	destPath, err := d.resolve(cs.Dest)
	if err != nil {
		return err
	}
	if n := len(matches) + len(cs.Contents); n > 1 && !destDir {
		if fi, err := d.stat(destPath); err != nil || !fi.IsDir() {
			return ErrMultipleSources
		}
	}
	parents := ids{}
	if owner != nil {
		parents = *owner
	}
	if destDir {
		h, err := d.mkdirAll(destPath, parents)
		if err != nil {
			return err
		}
		h.Close()
	}
	if c.singleID {
		// One id maps (no subordinate range): every file is root's, as
		// containers/storage makes them in that case.
		owner, parents = nil, ids{}
	}
	w := &writer{d: d, owner: owner, mode: mode, keepOwners: c.keepOwners && !c.singleID, parents: parents, fresh: map[string]bool{}}
	for _, m := range matches {
		if err := ctx.Err(); err != nil {
			return err
		}
		if m.url != "" {
			if err := w.fetch(ctx, m.url, destPath, destDir, cs, c.tmpDir); err != nil {
				return err
			}
			continue
		}
		unpack := cs.Add
		if cs.Unpack != nil {
			unpack = *cs.Unpack
		}
		if unpack && c.tree.IsArchive(m.src) {
			if err := w.untar(root, c.tree, m.src, destPath, c.singleID); err != nil {
				return err
			}
			continue
		}
		target := ""
		if cs.Parents {
			target = path.Join(destPath, m.under)
		} else if target, err = w.target(destPath, destDir, m.src.Name, m.src.Info.IsDir()); err != nil {
			return err
		}
		if err := w.copySource(c.tree, m.src, target, excl); err != nil {
			return err
		}
	}
	for _, f := range cs.Contents {
		info := inlineInfo{name: path.Base(f.Name), size: int64(len(f.Data)), mtime: time.Now()}
		target, err := w.target(destPath, destDir, info.name, false)
		if err != nil {
			return err
		}
		if err := w.writeOne(target, info, "", strings.NewReader(f.Data), ids{}); err != nil {
			return err
		}
	}
	return w.finish()
}

// writer writes the entries of one COPY.
type writer struct {
	d          *dest
	owner      *ids // --chown
	mode       *dockerfile.Mode
	keepOwners bool
	parents    ids // owner of the parent directories it makes
	// dirs are the directories written, whose metadata goes on last
	// (writing their entries changes their times).
	dirs []dirMeta
	// parent caches the handle of the directory entries last went to,
	// and what writeFile may skip there.
	parent     *os.File
	parentPath string
	parentOpts fileOpts
	// fresh are the directories this copy made: nothing was in them.
	fresh map[string]bool
}

type dirMeta struct {
	path string
	m    meta
}

// target is where a source called name goes: into the destination if it
// is (or must be) a directory, else the destination itself.
func (w *writer) target(destPath string, destDir bool, name string, srcIsDir bool) (string, error) {
	if srcIsDir {
		return destPath, nil
	}
	if destDir {
		return path.Join(destPath, name), nil
	}
	if fi, err := w.d.stat(destPath); err == nil && fi.IsDir() {
		return path.Join(destPath, name), nil
	}
	return destPath, nil
}

// copySource copies one matched source to target: a directory's
// contents into it, a file as it. What --exclude's patterns match
// (relative to the source) is left out.
func (w *writer) copySource(tree *buildctx.Tree, s buildctx.Source, target string, excl *patternmatcher.PatternMatcher) error {
	return tree.Walk(s, func(e buildctx.Entry) error {
		if e.Rel != "." && excluded(excl, e.Rel) {
			return nil
		}
		p := target
		if e.Rel != "." {
			p = path.Join(target, e.Rel)
		}
		var r io.Reader
		if e.Info.Mode().IsRegular() {
			f, err := e.Open()
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		return w.writeOne(p, e.Info, e.Link, r, hostOwner(e.Info))
	})
}

// excluded says whether --exclude's patterns leave rel out, or one of the
// directories it is in.
func excluded(pm *patternmatcher.PatternMatcher, rel string) bool {
	if pm == nil {
		return false
	}
	ok, err := pm.MatchesOrParentMatches(rel)
	return err == nil && ok
}

// writeOne writes one entry at p (absolute, inside the root).
func (w *writer) writeOne(p string, fi fs.FileInfo, link string, content io.Reader, srcOwner ids) error {
	m := meta{owner: ids{}, mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), mtime: fi.ModTime()}
	switch {
	case w.owner != nil:
		m.owner = *w.owner
	case w.keepOwners:
		m.owner = srcOwner
	}
	if w.mode != nil && fi.Mode()&fs.ModeSymlink == 0 {
		m.mode = w.mode.Apply(m.mode, fi.IsDir())
	}
	if p == "/" {
		// The contents of a directory into the root: the root stays as it is.
		return nil
	}
	parent, err := w.dirHandle(path.Dir(p))
	if err != nil {
		return err
	}
	name := path.Base(p)
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		made, err := makeDir(parent, name, w.parentOpts.fresh)
		if err != nil {
			return err
		}
		if made {
			w.fresh[p] = true
		}
		w.dirs = append(w.dirs, dirMeta{path: p, m: m})
		return nil
	case mode.IsRegular():
		return writeFile(parent, name, content, m, w.parentOpts)
	case mode&fs.ModeSymlink != 0:
		return writeSymlink(parent, name, link, m)
	case mode&fs.ModeNamedPipe != 0:
		return writeFifo(parent, name, m)
	}
	return fmt.Errorf("cannot copy %s: it is a %v", p, mode.Type())
}

// dirHandle is a handle on the directory at p, made (with its parents)
// if missing.
func (w *writer) dirHandle(p string) (*os.File, error) {
	if w.parent != nil && w.parentPath == p {
		return w.parent, nil
	}
	h, err := w.d.mkdirAll(p, w.parents)
	if err != nil {
		return nil, err
	}
	if w.parent != nil {
		w.parent.Close()
	}
	w.parent, w.parentPath = h, p
	// A new file is the process's, but for the group of a setgid
	// directory: what it need not be chowned to.
	o := fileOpts{fresh: w.fresh[p], creator: ids{os.Geteuid(), os.Getegid()}, umask: processUmask()}
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_ISGID != 0 {
		o.creator.gid = int(st.Gid)
	}
	w.parentOpts = o
	return h, nil
}

// finish sets the directories' metadata, deepest first.
func (w *writer) finish() error {
	if w.parent != nil {
		w.parent.Close()
		w.parent = nil
	}
	for i := len(w.dirs) - 1; i >= 0; i-- {
		dm := w.dirs[i]
		parent, err := w.d.mkdirAll(path.Dir(dm.path), w.parents)
		if err != nil {
			return err
		}
		err = setMeta(parent, path.Base(dm.path), dm.m)
		parent.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// untar unpacks the archive s into the directory destPath, as ADD does,
// inside a chroot of the layer: its entries cannot land elsewhere.
func (w *writer) untar(root string, tree *buildctx.Tree, s buildctx.Source, destPath string, singleID bool) error {
	h, err := w.d.mkdirAll(destPath, w.parents)
	if err != nil {
		return err
	}
	h.Close()
	f, err := tree.OpenSource(s)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := &archive.TarOptions{NoLchown: false, IgnoreChownErrors: singleID, InUserNS: true}
	if w.owner != nil {
		opts.ChownOpts = &idtools.IDPair{UID: w.owner.uid, GID: w.owner.gid}
	}
	// chrootarchive chroots into root and unpacks into destPath there.
	if err := chrootarchive.UntarWithRoot(f, path.Join(root, destPath), opts, root); err != nil {
		return fmt.Errorf("unpack %s: %w", s.Name, err)
	}
	return nil
}

// fetch downloads an ADD URL to the destination: the file is named after
// the URL's last path element, mode 0600, with the server's
// Last-Modified time, and checked against --checksum.
func (w *writer) fetch(ctx context.Context, rawURL, destPath string, destDir bool, cs *dockerfile.CopyStep, tmpDir string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	name := "__unnamed__"
	if b := path.Base(u.Path); b != "." && b != "/" && b != "" {
		name = b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ADD %s: the server answered %s", rawURL, resp.Status)
	}
	tmp, err := os.CreateTemp(tmpDir, "add-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	if cs.Checksum != "" {
		want, err := digest.Parse(cs.Checksum)
		if err != nil {
			return fmt.Errorf("--checksum=%s: %w", cs.Checksum, err)
		}
		if want.Algorithm() != digest.SHA256 {
			return fmt.Errorf("--checksum=%s: only sha256 is supported", cs.Checksum)
		}
		if got := digest.NewDigest(digest.SHA256, h); got != want {
			return fmt.Errorf("ADD %s: %w: got %s, want %s", rawURL, ErrChecksum, got, want)
		}
	}
	mtime := time.Now()
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	target, err := w.target(destPath, destDir, name, false)
	if err != nil {
		return err
	}
	return w.writeOne(target, inlineInfo{name: name, size: size, mtime: mtime, mode: 0o600}, "", tmp, ids{})
}

// ErrChecksum: an ADD URL's content is not what --checksum says.
var ErrChecksum = errors.New("checksum mismatch")

// inlineInfo is the FileInfo of a file that exists only in the Dockerfile
// or on the network.
type inlineInfo struct {
	name  string
	size  int64
	mtime time.Time
	mode  fs.FileMode // 0 means 0644
}

func (i inlineInfo) Name() string { return i.name }
func (i inlineInfo) Size() int64  { return i.size }
func (i inlineInfo) Mode() fs.FileMode {
	if i.mode == 0 {
		return 0o644
	}
	return i.mode
}
func (i inlineInfo) ModTime() time.Time { return i.mtime }
func (i inlineInfo) IsDir() bool        { return false }
func (i inlineInfo) Sys() any           { return nil }
