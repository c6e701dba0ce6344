package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"go.podman.io/image/v5/copy"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
)

// Formats Save writes.
const (
	FormatDockerArchive = "docker-archive" // docker save; several images
	FormatOCIArchive    = "oci-archive"    // a tar of an OCI layout; one image
	FormatOCIDir        = "oci-dir"        // an OCI layout directory; one image
)

// ErrSaveFormat means Save was asked for a format it does not write, or
// for several images in a format that holds one.
var ErrSaveFormat = errors.New("unsupported save format")

// saveItem is one image to save and the names to save it under.
type saveItem struct {
	id    string
	names []string // stored names, e.g. docker.io/library/busybox:latest
}

// Save writes the images refs name to dest in format ("" means
// docker-archive). An image given by name is saved under that name; one
// given by ID or digest under all its names, so that loading the archive
// restores them (docker saves none for an ID). Naming one image twice
// saves it once with both names. oci-archive and oci-dir hold one image;
// they convert an image in Docker's format to OCI's, which rewrites its
// config, so such an image loads back with another ID (as with podman and
// skopeo). docker-archive keeps every image's ID.
//
// dest is written whole or not at all: the archive or directory is made
// next to it and renamed into place. An existing file is replaced, an
// existing directory only if it is empty. A dest that is neither (a pipe,
// /dev/stdout) is written directly.
func (s *Store) Save(ctx context.Context, refs []string, dest, format string) error {
	if format == "" {
		format = FormatDockerArchive
	}
	switch format {
	case FormatDockerArchive, FormatOCIArchive, FormatOCIDir:
	default:
		return fmt.Errorf("save: %w: %q (want %s, %s or %s)", ErrSaveFormat, format, FormatDockerArchive, FormatOCIArchive, FormatOCIDir)
	}
	if len(refs) == 0 {
		return errors.New("save: no image given")
	}
	items, err := s.saveItems(refs)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if format != FormatDockerArchive && len(items) > 1 {
		return fmt.Errorf("save: %w: %s holds one image, %d given; use %s", ErrSaveFormat, format, len(items), FormatDockerArchive)
	}
	pc, err := s.policyContext()
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer pc.Destroy()
	c := saveCopier{s: s, ctx: ctx, pc: pc}
	if format == FormatOCIDir {
		err = writeDirAtomically(dest, func(tmp string) error { return c.ociDir(tmp, items[0]) })
	} else {
		write := func(tmp string) error { return c.dockerArchive(tmp, items) }
		if format == FormatOCIArchive {
			write = func(tmp string) error { return c.ociArchive(tmp, items[0]) }
		}
		err = writeFileAtomically(dest, write)
	}
	if err != nil {
		return fmt.Errorf("save to %s: %w", dest, err)
	}
	return nil
}

// SaveTo writes the archive Save would write to w: box save with stdout
// redirected to a file, a socket or a device. containers/image writes
// archives to paths, and /proc/self/fd/1 is no place for the temporary
// file next to it, nor may a file opened for appending be truncated; so
// the archive is made in the store's temporary directory and copied. A
// pipe takes the archive as it is made, with no copy on disk.
func (s *Store) SaveTo(ctx context.Context, refs []string, w io.Writer, format string) error {
	if format == FormatOCIDir {
		return fmt.Errorf("save: %w: %s is a directory, not a stream", ErrSaveFormat, format)
	}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			return s.Save(ctx, refs, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), format)
		}
	}
	dir, err := os.MkdirTemp(s.tmpDir, "save-")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "archive")
	if err := s.Save(ctx, refs, archive, format); err != nil {
		return err
	}
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("save: write the archive: %w", err)
	}
	return nil
}

// saveItems resolves refs to images, in order of first mention, each with
// the names to save it under.
func (s *Store) saveItems(refs []string) ([]saveItem, error) {
	var items []saveItem
	for _, ref := range refs {
		img, err := s.resolve(ref)
		if err != nil {
			return nil, err
		}
		names := img.Names
		if n, ok := namedBy(ref, img); ok {
			names = []string{n}
		}
		i := slices.IndexFunc(items, func(it saveItem) bool { return it.id == img.ID })
		if i < 0 {
			items = append(items, saveItem{id: img.ID})
			i = len(items) - 1
		}
		for _, n := range names {
			if !slices.Contains(items[i].names, n) {
				items[i].names = append(items[i].names, n)
			}
		}
	}
	return items, nil
}

// saveCopier copies stored images out with one policy context.
type saveCopier struct {
	s   *Store
	ctx context.Context
	pc  *signature.PolicyContext
}

func (c saveCopier) copy(dest types.ImageReference, id string, destSys *types.SystemContext) error {
	src, err := istorage.Transport.NewStoreReference(c.s.store, nil, id)
	if err != nil {
		return fmt.Errorf("image %s: %w", id, err)
	}
	if _, err := copy.Image(c.ctx, c.pc, dest, src, &copy.Options{SourceCtx: c.s.sys, DestinationCtx: destSys}); err != nil {
		return fmt.Errorf("copy image %s: %w", id, err)
	}
	return nil
}

// dockerArchive writes every item into one docker-archive. Each image is
// copied once; its further names go into the same manifest.json entry.
func (c saveCopier) dockerArchive(file string, items []saveItem) (retErr error) {
	w, err := dockerarchive.NewWriter(c.s.sys, file)
	if err != nil {
		return err
	}
	defer func() {
		if err := w.Close(); err != nil && retErr == nil {
			retErr = fmt.Errorf("finish archive: %w", err)
		}
	}()
	for _, it := range items {
		tags, err := taggedNames(it)
		if err != nil {
			return err
		}
		var first reference.NamedTagged
		if len(tags) > 0 {
			first = tags[0]
		}
		dest, err := w.NewReference(first)
		if err != nil {
			return fmt.Errorf("image %s: %w", it.id, err)
		}
		sys := *c.s.sys
		if len(tags) > 1 {
			sys.DockerArchiveAdditionalTags = tags[1:]
		}
		if err := c.copy(dest, it.id, &sys); err != nil {
			return err
		}
	}
	return nil
}

func (c saveCopier) ociArchive(file string, it saveItem) error {
	name, err := ociRefName(it)
	if err != nil {
		return err
	}
	dest, err := ociarchive.NewReference(file, name)
	if err != nil {
		return fmt.Errorf("image %s: %w", it.id, err)
	}
	return c.copy(dest, it.id, c.s.sys)
}

func (c saveCopier) ociDir(dir string, it saveItem) error {
	name, err := ociRefName(it)
	if err != nil {
		return err
	}
	dest, err := layout.NewReference(dir, name)
	if err != nil {
		return fmt.Errorf("image %s: %w", it.id, err)
	}
	return c.copy(dest, it.id, c.s.sys)
}

// ociRefName is the org.opencontainers.image.ref.name of a saved image: its
// first full name with a tag, which Load reads back as the name (a bare
// tag would lose the repository), or "" for an image without one.
func ociRefName(it saveItem) (string, error) {
	tags, err := taggedNames(it)
	if err != nil || len(tags) == 0 {
		return "", err
	}
	return tags[0].String(), nil
}

// taggedNames parses the names of it that hold a tag. A name stored with a
// digest only (pulled by digest) is left out: manifest.json's RepoTags and
// Load's reading of ref.name take only tags.
func taggedNames(it saveItem) ([]reference.NamedTagged, error) {
	var tags []reference.NamedTagged
	for _, n := range it.names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			return nil, fmt.Errorf("image %s has a bad name %q: %w", it.id, n, err)
		}
		if t, ok := named.(reference.NamedTagged); ok {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// writeFileAtomically has write fill a new file next to dest, then renames
// it onto dest. A dest that exists and is not a regular file (a pipe, a
// terminal device) is handed to write itself.
func writeFileAtomically(dest string, write func(file string) error) error {
	if fi, err := os.Stat(dest); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", dest)
		}
		return write(dest)
	}
	f, err := os.CreateTemp(filepath.Dir(dest), ".box-save-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // a no-op once renamed
	if err := write(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

// writeDirAtomically has write fill a new directory next to dest, then
// renames it onto dest, which may exist only as an empty directory.
func writeDirAtomically(dest string, write func(dir string) error) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".box-save-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := write(tmp); err != nil {
		return err
	}
	// rename(2) replaces an empty directory and refuses anything else;
	// os.Rename refuses every existing directory.
	err = syscall.Rename(tmp, dest)
	if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s exists and is not an empty directory", dest)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dest, Err: err}
	}
	return nil
}
