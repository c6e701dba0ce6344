package image

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	"go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/stringid"
	"go.podman.io/storage/pkg/tarlog"
	"golang.org/x/sys/unix"
)

// WorkNamePrefix begins the name of every layer a build step is writing.
// The rest of the name is the build's token (see WorkLayer): a layer whose
// build is gone is a leftover that SweepWorkLayers removes.
const WorkNamePrefix = "box-work-"

// WorkLayer is a new writable layer on a parent, mounted: a build step
// writes into Root (RUN through a container, COPY directly), then Commit
// makes it an image layer, without copying its files: the layer a step
// wrote is the step's result.
type WorkLayer struct {
	s      *Store
	id     string
	parent string
	// Root is where the layer is mounted, over its parents.
	Root string
}

// Layer is a finished image layer.
type Layer struct {
	ID     string
	DiffID digest.Digest // the digest of its uncompressed tar
	Size   int64         // of that tar
	// Created is when the layer was stored, from containers/storage.
	Created time.Time
}

// NewWorkLayer makes a writable layer on parent ("" for none) and mounts
// it. token names the build (see WorkNamePrefix).
func (s *Store) NewWorkLayer(parent, token string) (*WorkLayer, error) {
	id := stringid.GenerateRandomID()
	if _, err := s.store.CreateLayer(id, parent, []string{WorkNamePrefix + token + "-" + id[:12]}, "", true, nil); err != nil {
		return nil, fmt.Errorf("create a layer: %w", err)
	}
	w := &WorkLayer{s: s, id: id, parent: parent}
	root, err := s.store.Mount(id, "")
	if err != nil {
		_ = s.store.DeleteLayer(id)
		return nil, fmt.Errorf("mount a new layer: %w", err)
	}
	w.Root = root
	return w, nil
}

// Discard unmounts and deletes the layer: the step failed.
func (w *WorkLayer) Discard() error {
	_, _ = w.s.store.Unmount(w.id, true)
	if err := w.s.store.DeleteLayer(w.id); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
		return fmt.Errorf("delete layer %s: %w", w.id[:12], err)
	}
	return nil
}

// CommitLayerOptions say how a work layer becomes an image layer.
type CommitLayerOptions struct {
	// Epoch, if set, is the latest time a file in the layer may have:
	// later ones are set to it (SOURCE_DATE_EPOCH, --timestamp).
	Epoch *time.Time
	// Kept are directories the step only passed through (a mount point
	// made and removed in them): where the layer holds a copy that is
	// empty and as they were, the copy goes, so the layer does not.
	Kept []KeptDir
}

// KeptDir is a directory as it was before a step, by its path inside
// the layer.
type KeptDir struct {
	Path     string
	Mode     uint32
	UID, GID uint32
	Mtime    unix.Timespec
}

// Commit unmounts the layer and makes it an image layer: its diff is read
// once, for its digest and tar-split, and on native overlay the directory
// the step wrote is moved into place, not copied; fuse-overlayfs and vfs
// apply the diff again. A layer
// with no changes is discarded: Commit then returns nil. A layer with the
// same parent and content that exists already is taken instead.
func (w *WorkLayer) Commit(o CommitLayerOptions) (*Layer, error) {
	s := w.s
	if _, err := s.store.Unmount(w.id, true); err != nil && !errors.Is(err, storage.ErrLayerNotMounted) {
		return nil, fmt.Errorf("unmount layer %s: %w", w.id[:12], err)
	}
	// Only native overlay's upper directory is a layer as it stands:
	// fuse-overlayfs's holds its own markers and copies up a hard-linked
	// file under whichever name it met first, which only its own inode
	// map makes sense of; vfs has no staging.
	diffDir, err := s.store.DifferTarget(w.id)
	staged := err == nil && s.driver == DriverOverlay
	if staged {
		pruneKept(diffDir, o.Kept)
	}
	if o.Epoch != nil && staged {
		if err := clampTimes(diffDir, *o.Epoch); err != nil {
			return nil, err
		}
	}
	// The tar-split goes through a file, as containers/storage's own does.
	ts, err := os.CreateTemp(s.tmpDir, "tar-split-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(ts.Name())
	defer ts.Close()
	var body *os.File // the diff itself, when it must be applied again (vfs)
	if !staged {
		if body, err = os.CreateTemp(s.tmpDir, "layer-"); err != nil {
			return nil, err
		}
		defer os.Remove(body.Name())
		defer body.Close()
	}
	var keep io.Writer // a nil *os.File would be a writer that fails
	if body != nil {
		keep = body
	}
	sum, err := w.digest(ts, keep, o.Epoch)
	if err != nil {
		return nil, err
	}
	if sum.entries == 0 {
		return nil, w.Discard()
	}
	id := digest.Canonical.FromString(w.parent + "+" + sum.diffID.String()).Encoded()
	if l, err := s.store.Layer(id); err == nil {
		// This parent already has this content as a layer: take it.
		return layerOf(l), w.Discard()
	}
	var layer *storage.Layer
	if staged {
		layer, err = w.stage(id, diffDir, ts, sum)
	} else {
		if _, err = body.Seek(0, io.SeekStart); err == nil {
			layer, _, err = s.store.PutLayer(id, w.parent, nil, "", false, &storage.LayerOptions{UncompressedDigest: sum.diffID}, body)
		}
	}
	if errors.Is(err, storage.ErrDuplicateID) {
		// Another build made the same layer meanwhile.
		layer, err = s.store.Layer(id)
	}
	if derr := w.Discard(); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("store the layer: %w", err)
	}
	return layerOf(layer), nil
}

func layerOf(l *storage.Layer) *Layer {
	return &Layer{ID: l.ID, DiffID: l.UncompressedDigest, Size: l.UncompressedSize, Created: l.Created}
}

// diffSum is what reading a layer's diff tells.
type diffSum struct {
	diffID     digest.Digest
	size       int64
	entries    int
	uids, gids []uint32
}

// digest reads the layer's diff as containers/storage writes it, recording
// its tar-split in ts and, when body is set, the diff itself (with times
// past epoch clamped: vfs applies it again).
func (w *WorkLayer) digest(ts io.Writer, body io.Writer, epoch *time.Time) (diffSum, error) {
	var sum diffSum
	uncompressed := archive.Uncompressed
	diff, err := w.s.store.Diff(w.parent, w.id, &storage.DiffOptions{Compression: &uncompressed})
	if err != nil {
		return sum, fmt.Errorf("read the layer's changes: %w", err)
	}
	defer diff.Close()
	var src io.Reader = diff
	if body != nil {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(rewriteTimes(diff, pw, epoch)) }()
		defer pr.Close()
		src = pr
	}
	uids, gids := map[uint32]bool{}, map[uint32]bool{}
	logger, err := tarlog.NewLogger(func(h *tar.Header) {
		sum.entries++
		if !strings.HasPrefix(path.Base(h.Name), archive.WhiteoutPrefix) {
			uids[uint32(h.Uid)], gids[uint32(h.Gid)] = true, true
		}
	})
	if err != nil {
		return sum, err
	}
	digester := digest.Canonical.Digester()
	counter := &countWriter{}
	sinks := []io.Writer{digester.Hash(), counter, logger}
	if body != nil {
		sinks = append(sinks, body)
	}
	payload, done, err := asm.NewInputTarStreamWithDone(io.TeeReader(src, io.MultiWriter(sinks...)), tsstorage.NewJSONPacker(ts), tsstorage.NewDiscardFilePutter())
	if err != nil {
		logger.Close()
		return sum, err
	}
	_, err = io.Copy(io.Discard, payload)
	payload.Close()
	if derr := <-done; err == nil {
		err = derr
	}
	if cerr := logger.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sum, fmt.Errorf("read the layer's changes: %w", err)
	}
	sum.diffID, sum.size = digester.Digest(), counter.n
	for id := range uids {
		sum.uids = append(sum.uids, id)
	}
	for id := range gids {
		sum.gids = append(sum.gids, id)
	}
	return sum, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// stage makes layer id from the directory the step wrote: the driver's
// staging machinery takes a directory (the differ moves ours there) with
// the digest and tar-split already known, and renames it into place.
func (w *WorkLayer) stage(id, diffDir string, ts *os.File, sum diffSum) (*storage.Layer, error) {
	fi, err := os.Stat(diffDir)
	if err != nil {
		return nil, err
	}
	mode := fi.Mode()
	d := &moveDiffer{src: diffDir, out: drivers.DriverWithDifferOutput{
		UncompressedDigest: sum.diffID, Size: sum.size, TarSplit: ts,
		UIDs: sum.uids, GIDs: sum.gids, RootDirMode: &mode,
	}}
	out, err := w.s.store.PrepareStagedLayer(&drivers.ApplyDiffWithDifferOpts{}, d)
	if err != nil {
		return nil, fmt.Errorf("stage the layer: %w", err)
	}
	layer, err := w.s.store.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID: id, ParentLayer: w.parent, DiffOutput: out, DiffOptions: &drivers.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		_ = w.s.store.CleanupStagedLayer(out)
		return nil, err
	}
	return layer, nil
}

// moveDiffer is a containers/storage Differ whose "diff" is a directory
// on the same file system: it moves it to where the driver stages layers.
type moveDiffer struct {
	src string
	out drivers.DriverWithDifferOutput
}

func (d *moveDiffer) ApplyDiff(dest string, _ *archive.TarOptions, _ *drivers.DifferOptions) (drivers.DriverWithDifferOutput, error) {
	if err := os.Remove(dest); err != nil {
		return drivers.DriverWithDifferOutput{}, err
	}
	if err := os.Rename(d.src, dest); err != nil {
		return drivers.DriverWithDifferOutput{}, fmt.Errorf("move the layer's files: %w", err)
	}
	// The work layer keeps an (empty) directory, to be deleted as usual.
	if err := os.Mkdir(d.src, 0o755); err != nil {
		return drivers.DriverWithDifferOutput{}, err
	}
	return d.out, nil
}

func (d *moveDiffer) Close() error { return nil }

// pruneKept removes from a layer's own directory (an overlay upper
// directory) the copies of kept directories that hold nothing and say
// what the directories below said: copies the kernel made, not changes.
func pruneKept(diffDir string, kept []KeptDir) {
	for i := len(kept) - 1; i >= 0; i-- {
		k := kept[i]
		p := filepath.Join(diffDir, filepath.FromSlash(k.Path))
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || st.Mode != k.Mode || st.Uid != k.UID || st.Gid != k.GID || st.Mtim != k.Mtime {
			continue
		}
		if opaque(p) {
			continue
		}
		_ = unix.Rmdir(p) // fails, as it should, when it holds anything
	}
}

// opaque says whether the overlay directory p hides what is below it.
func opaque(p string) bool {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return false
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if strings.Contains(name, "opaque") {
			return true
		}
	}
	return false
}

// clampTimes sets every time in dir later than epoch to epoch, without
// following symlinks: the layer's files then say when the sources were
// made, not when the build ran.
func clampTimes(dir string, epoch time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(epoch.UnixNano()), unix.NsecToTimespec(epoch.UnixNano())}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.ModTime().After(epoch) {
			return nil
		}
		if d.IsDir() {
			// After its entries: setting them would change it again.
			dirs = append(dirs, p)
			return nil
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return fmt.Errorf("set the layer's file times: %w", err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, dirs[i], ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set the layer's file times: %w", err)
		}
	}
	return nil
}

// rewriteTimes copies a tar stream, with every time past epoch set to it
// (no epoch: as it is).
func rewriteTimes(r io.Reader, w io.Writer, epoch *time.Time) error {
	if epoch == nil {
		_, err := io.Copy(w, r)
		return err
	}
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if h.ModTime.After(*epoch) {
			h.ModTime = *epoch
		}
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// SweepWorkLayers deletes the work layers of builds that are gone: alive
// says whether the build a token names still runs.
func (s *Store) SweepWorkLayers(alive func(token string) bool) error {
	layers, err := s.store.Layers()
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range layers {
		for _, n := range l.Names {
			rest, ok := strings.CutPrefix(n, WorkNamePrefix)
			if !ok {
				continue
			}
			token, _, _ := strings.Cut(rest, "-")
			if alive(token) {
				continue
			}
			_, _ = s.store.Unmount(l.ID, true)
			if err := s.store.DeleteLayer(l.ID); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
				errs = append(errs, fmt.Errorf("delete a leftover build layer: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Layer is the stored layer id, for a build's cache.
func (s *Store) Layer(id string) (*Layer, error) {
	l, err := s.store.Layer(id)
	if err != nil {
		return nil, err
	}
	return layerOf(l), nil
}

// SingleID says whether box's user namespace maps a single id, so files
// cannot be given other owners.
func (s *Store) SingleID() bool { return s.single }

// CacheLayers are the layers no image, mapped image copy or container
// uses: what builds left (their steps' results, the cache), by ID, with
// their sizes.
func (s *Store) CacheLayers() (map[string]int64, error) {
	layers, used, err := s.layerUse()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range layers {
		if used[l.ID] {
			continue
		}
		size := l.UncompressedSize
		if size <= 0 {
			if n, err := s.store.DiffSize("", l.ID); err == nil {
				size = n
			}
		}
		out[l.ID] = max(size, 0)
	}
	return out, nil
}

// layerUse lists the layers, and which of them images and containers use.
func (s *Store) layerUse() ([]storage.Layer, map[string]bool, error) {
	layers, err := s.store.Layers()
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]*storage.Layer{}
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	used := map[string]bool{}
	mark := func(id string) {
		for id != "" && !used[id] {
			used[id] = true
			l := byID[id]
			if l == nil {
				return
			}
			id = l.Parent
		}
	}
	imgs, err := s.store.Images()
	if err != nil {
		return nil, nil, err
	}
	for _, img := range imgs {
		mark(img.TopLayer)
		for _, m := range img.MappedTopLayers {
			mark(m)
		}
	}
	ctrs, err := s.store.Containers()
	if err != nil {
		return nil, nil, err
	}
	for _, c := range ctrs {
		mark(c.LayerID)
	}
	return layers, used, nil
}

// PruneCache deletes the layers CacheLayers lists, but those made at or
// after since (a build still running may need them; the zero time keeps
// none) and work layers, children before their parents. It returns how
// many it deleted and their size.
func (s *Store) PruneCache(since time.Time) (int, int64, error) {
	sizes, err := s.CacheLayers()
	if err != nil {
		return 0, 0, err
	}
	layers, _, err := s.layerUse()
	if err != nil {
		return 0, 0, err
	}
	children := map[string]int{}
	keep := map[string]bool{}
	for _, l := range layers {
		children[l.Parent]++
		if !since.IsZero() && !l.Created.Before(since) {
			keep[l.ID] = true
		}
		for _, n := range l.Names {
			if strings.HasPrefix(n, WorkNamePrefix) {
				keep[l.ID] = true
			}
		}
	}
	parent := map[string]string{}
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	var n int
	var freed int64
	var errs []error
	for progress := true; progress; {
		progress = false
		for id, size := range sizes {
			if keep[id] || children[id] > 0 {
				continue
			}
			if err := s.store.DeleteLayer(id); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
				errs = append(errs, fmt.Errorf("delete build cache layer %s: %w", id[:12], err))
				keep[id] = true
				continue
			}
			delete(sizes, id)
			children[parent[id]]--
			n++
			freed += size
			progress = true
		}
	}
	return n, freed, errors.Join(errs...)
}

// Squash makes one layer, on from, of what the layers from from (not
// included) up to to change: box build --squash. Unlike a step's, this
// layer is a copy: its content is applied anew.
func (s *Store) Squash(from, to string, epoch *time.Time) (*Layer, error) {
	uncompressed := archive.Uncompressed
	diff, err := s.store.Diff(from, to, &storage.DiffOptions{Compression: &uncompressed})
	if err != nil {
		return nil, fmt.Errorf("read the layers to squash: %w", err)
	}
	// Through a file: the diff holds the layer store's lock until read.
	tmp, err := os.CreateTemp(s.tmpDir, "squash-")
	if err != nil {
		diff.Close()
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	digester := digest.Canonical.Digester()
	err = rewriteTimes(diff, io.MultiWriter(tmp, digester.Hash()), epoch)
	diff.Close()
	if err != nil {
		return nil, fmt.Errorf("read the layers to squash: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	diffID := digester.Digest()
	id := digest.Canonical.FromString(from + "+" + diffID.String()).Encoded()
	if l, err := s.store.Layer(id); err == nil {
		return layerOf(l), nil
	}
	l, _, err := s.store.PutLayer(id, from, nil, "", false, &storage.LayerOptions{UncompressedDigest: diffID}, tmp)
	if errors.Is(err, storage.ErrDuplicateID) {
		l, err = s.store.Layer(id)
	}
	if err != nil {
		return nil, fmt.Errorf("store the squashed layer: %w", err)
	}
	return layerOf(l), nil
}

// LayerChain is the IDs of top and the layers below it, bottom first.
func (s *Store) LayerChain(top string) ([]string, error) {
	var ids []string
	for id := top; id != ""; {
		l, err := s.store.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("layers below %s: %w", top, err)
		}
		ids = append(ids, id)
		id = l.Parent
	}
	slices.Reverse(ids)
	return ids, nil
}
