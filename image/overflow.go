package image

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// Ids beyond the user namespace.
//
// An image may own files by ids this namespace does not map (uid 200000
// when the user has 65536 subordinate ids). The kernel refuses to chown to
// them (EINVAL), and containers/storage then fails the whole pull with
// "potentially insufficient UIDs or GIDs". box instead gives such files to
// the overflow id, 65534 (nobody), as the kernel itself shows ids it cannot
// map, and warns once.
//
// How: the storage driver runs with ignore_chown_errors (driver.go), so
// extraction leaves those files owned by the namespace's root; after each
// copy into the store, fixOverflowIDs looks at the ids containers/storage
// recorded per layer and, only for a layer that uses unmapped ids, reads the
// layer's original tar headers back (tar-split) and chowns exactly those
// entries to the overflow id. The layer's tar-split is untouched, so the
// stored image keeps its digests and saves and pushes bit for bit as it came.
//
// Why this is safe: the overflow id is an ordinary id of the user's own
// range, so no file gets an owner the user could not give it anyway; the
// set-id bits of a remapped file are dropped, because the identity they
// named is not the one the file now has (a set-uid-200000 program must not
// become set-uid-nobody, nor stay set-uid-root as it briefly is between
// extraction and this pass); and every path is resolved inside the layer
// directory as containers/storage resolved it when extracting, with
// symlinks confined to it, so a hostile name cannot chown anything outside.

// overflowID is the owner given to files whose ids this namespace cannot
// map: the kernel's default overflowuid/overflowgid, "nobody" in most images.
const overflowID = 65534

// idRange is one line of a uid_map or gid_map, in the namespace's own ids.
type idRange struct{ start, count uint64 }

// idRanges parses a uid_map or gid_map into the ranges of ids it maps
// inside the namespace (the first column).
func idRanges(r io.Reader) ([]idRange, error) {
	var out []idRange
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want 3 fields, got %d", line, len(f))
		}
		start, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		count, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, idRange{start, count})
	}
	return out, sc.Err()
}

func mapped(id uint64, ranges []idRange) bool {
	for _, r := range ranges {
		if id >= r.start && id-r.start < r.count {
			return true
		}
	}
	return false
}

// idMaps are this process's uid and gid ranges and the owner that files
// with unmapped ids get.
type idMaps struct {
	uids, gids               []idRange
	overflowUID, overflowGID int
}

func readIDMaps() (idMaps, error) {
	var m idMaps
	for _, f := range []struct {
		file string
		dst  *[]idRange
	}{{"/proc/self/uid_map", &m.uids}, {"/proc/self/gid_map", &m.gids}} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return m, err
		}
		if *f.dst, err = idRanges(strings.NewReader(string(b))); err != nil {
			return m, fmt.Errorf("parse %s: %w", f.file, err)
		}
	}
	m.overflowUID, m.overflowGID = overflowID, overflowID
	// A range too small to hold nobody: such files stay root's, as with a
	// single-ID map, and the warning says so.
	if !mapped(overflowID, m.uids) {
		m.overflowUID = 0
	}
	if !mapped(overflowID, m.gids) {
		m.overflowGID = 0
	}
	return m, nil
}

// fits reports whether every id in uids and gids is mapped.
func (m idMaps) fits(uids, gids []uint32) bool {
	for _, id := range uids {
		if !mapped(uint64(id), m.uids) {
			return false
		}
	}
	for _, id := range gids {
		if !mapped(uint64(id), m.gids) {
			return false
		}
	}
	return true
}

// remap returns the owner an entry gets: its own ids where mapped, the
// overflow id where not; changed says whether either was replaced.
func (m idMaps) remap(uid, gid int) (newUID, newGID int, changed bool) {
	newUID, newGID = uid, gid
	if uid < 0 || !mapped(uint64(uid), m.uids) {
		newUID, changed = m.overflowUID, true
	}
	if gid < 0 || !mapped(uint64(gid), m.gids) {
		newGID, changed = m.overflowGID, true
	}
	return newUID, newGID, changed
}

// overflowEntry is a tar entry whose owner must be replaced.
type overflowEntry struct {
	name     string // as in the tar, cleaned, relative
	uid, gid int    // from the tar
	typ      byte
	mode     int64
}

// fixOverflowIDs gives the files of image id that are owned by ids beyond
// this namespace to the overflow id, warning once; see the top of this
// file. It is idempotent, so it runs after every copy into the store, also
// when the layers were already there (a previous box may have died before
// fixing them).
func (s *Store) fixOverflowIDs(id string) error {
	if s.single {
		// Every id but root is unmapped, and the user was told once that
		// files of other owners become root's; the overflow id is not
		// mapped either.
		return nil
	}
	maps, err := readIDMaps()
	if err != nil {
		return fmt.Errorf("map ids beyond the user namespace: %w", err)
	}
	img, err := s.store.Image(id)
	if err != nil {
		return fmt.Errorf("map ids beyond the user namespace: %w", err)
	}
	var first *overflowEntry
	total := 0
	for layerID := img.TopLayer; layerID != ""; {
		layer, err := s.store.Layer(layerID)
		if err != nil {
			return fmt.Errorf("map ids beyond the user namespace: layer %s: %w", layerID, err)
		}
		if !maps.fits(layer.UIDs, layer.GIDs) {
			entries, err := s.overflowEntries(layer.ID, maps)
			if err != nil {
				return fmt.Errorf("map ids beyond the user namespace: layer %s: %w", layer.ID, err)
			}
			if err := s.chownOverflow(layer.ID, entries, maps); err != nil {
				return fmt.Errorf("map ids beyond the user namespace: layer %s: %w", layer.ID, err)
			}
			// Parents come after children here; report the lowest layer's
			// first file, the one the image's history made first.
			if len(entries) > 0 {
				first = &entries[0]
			}
			total += len(entries)
		}
		layerID = layer.Parent
	}
	if first != nil {
		u, g, _ := maps.remap(first.uid, first.gid)
		more := ""
		if total > 1 {
			more = fmt.Sprintf(" (and %d more files)", total-1)
		}
		s.warnf("image %.12s: /%s is owned by %d:%d, beyond this user's subordinate ids; it%s now belongs to %d:%d", id, first.name, first.uid, first.gid, more, u, g)
	}
	return nil
}

// overflowEntries reads the layer's original tar headers and returns the
// entries with an unmapped owner.
func (s *Store) overflowEntries(layerID string, maps idMaps) ([]overflowEntry, error) {
	uncompressed := archive.Uncompressed
	rc, err := s.store.Diff("", layerID, &storage.DiffOptions{Compression: &uncompressed})
	if err != nil {
		return nil, fmt.Errorf("read layer: %w", err)
	}
	defer rc.Close()
	var out []overflowEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read layer: %w", err)
		}
		if _, _, changed := maps.remap(h.Uid, h.Gid); !changed {
			continue
		}
		name := path.Clean("/" + h.Name)[1:]
		if name == "" || strings.HasPrefix(path.Base(name), archive.WhiteoutPrefix) {
			// Whiteouts are the driver's own markers, not files of the image.
			continue
		}
		out = append(out, overflowEntry{name: name, uid: h.Uid, gid: h.Gid, typ: h.Typeflag, mode: h.Mode})
	}
}

// layerDir is where the driver keeps the files of a layer.
func (s *Store) layerDir(layerID string) (string, error) {
	if s.driver == DriverVFS {
		// vfs offers no accessor; this is its layout (drivers/vfs dir()).
		return filepath.Join(s.store.GraphRoot(), "vfs", "dir", layerID), nil
	}
	return s.store.DifferTarget(layerID)
}

// chownOverflow gives the entries their remapped owners inside the layer.
func (s *Store) chownOverflow(layerID string, entries []overflowEntry, maps idMaps) error {
	dir, err := s.layerDir(layerID)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, e := range entries {
		// Resolve the parent as containers/storage did when it extracted
		// the entry (symlinks followed, but never out of the layer); the
		// Root then refuses anything that would still leave it.
		parent, err := securejoin.SecureJoin(dir, path.Dir(e.name))
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, filepath.Join(parent, path.Base(e.name)))
		if err != nil {
			return err
		}
		fi, err := root.Lstat(rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue // replaced or removed by a later entry of the layer
		}
		if err != nil {
			return err
		}
		uid, gid, _ := maps.remap(e.uid, e.gid)
		if err := root.Lchown(rel, uid, gid); err != nil {
			return err
		}
		if fi.Mode().IsRegular() && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			// chown already clears them on most kernels; make it certain.
			if err := root.Chmod(rel, fi.Mode()&^(fs.ModeSetuid|fs.ModeSetgid)); err != nil {
				return err
			}
		}
	}
	return nil
}
