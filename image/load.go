package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/compression"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// containerdNameAnnotation is where docker save (v25+) and containerd put
// the full image name in an OCI index; the OCI ref.name is then only a tag.
const containerdNameAnnotation = "io.containerd.image.name"

// Load imports every image in an archive: a docker-archive (docker save),
// an oci-archive, or an OCI layout directory; the format is detected from
// the contents. It returns the names it loaded, or the ID of an image that
// came without a name. On error, no image from this call stays behind.
//
// In OCI layouts an image is named by its io.containerd.image.name
// annotation, or by org.opencontainers.image.ref.name when that holds a
// repository ("example.com/app:1"); a bare tag names no repository, so
// such an image is loaded without a name, as docker load does.
func (s *Store) Load(ctx context.Context, src string) (_ []string, retErr error) {
	tx := s.newTx()
	defer func() {
		if retErr != nil {
			if err := tx.rollback(); err != nil {
				retErr = errors.Join(retErr, err)
			}
		}
	}()
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", src, err)
	}
	if fi.IsDir() {
		return s.loadOCIDir(ctx, tx, src)
	}
	kind, err := sniffArchive(src)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", src, err)
	}
	if kind == dockerArchive {
		return s.loadDockerArchive(ctx, tx, src)
	}
	dir, err := os.MkdirTemp(s.tmpDir, "oci-archive-")
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", src, err)
	}
	defer os.RemoveAll(dir)
	if err := extractArchive(src, dir); err != nil {
		return nil, fmt.Errorf("load %s: %w", src, err)
	}
	return s.loadOCIDir(ctx, tx, dir)
}

type archiveKind int

const (
	dockerArchive archiveKind = iota
	ociArchive
)

// sniffArchive tells a docker-archive from an oci-archive by the names in
// the (possibly compressed) tar. docker save v25+ writes both manifest.json
// and index.json; manifest.json wins, as its tags are full names.
func sniffArchive(file string) (archiveKind, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadFormat, err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	oci := false
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if n == 0 {
				return 0, fmt.Errorf("%w: not a tar archive: %v", ErrBadFormat, err)
			}
			return 0, fmt.Errorf("read archive: %w", err)
		}
		switch path.Clean(h.Name) {
		case "manifest.json":
			return dockerArchive, nil
		case ocispec.ImageIndexFile, ocispec.ImageLayoutFile:
			oci = true
		}
	}
	if oci {
		return ociArchive, nil
	}
	return 0, fmt.Errorf("%w: the archive holds neither manifest.json (docker-archive) nor index.json (oci-archive)", ErrBadFormat)
}

// extractArchive unpacks the regular files and directories of an OCI
// archive into dir. os.Root keeps every entry inside dir, whatever its name.
func extractArchive(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return err
	}
	defer r.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return fmt.Errorf("extract %s: %w", h.Name, err)
			}
		case tar.TypeReg:
			if d := path.Dir(name); d != "." {
				if err := root.MkdirAll(d, 0o700); err != nil {
					return fmt.Errorf("extract %s: %w", h.Name, err)
				}
			}
			out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("extract %s: %w", h.Name, err)
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extract %s: %w", h.Name, err)
			}
		}
	}
}

func (s *Store) loadDockerArchive(ctx context.Context, tx *loadTx, file string) ([]string, error) {
	r, err := dockerarchive.NewReader(s.sys, file)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	defer r.Close()
	groups, err := r.List()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	var loaded []string
	for i, refs := range groups {
		var names []string
		for _, ref := range refs {
			if named := ref.DockerReference(); named != nil {
				names = append(names, named.String())
			}
		}
		got, err := s.copyIn(ctx, tx, refs[0], names)
		if err != nil {
			return nil, fmt.Errorf("load image %d of %s: %w", i+1, file, err)
		}
		loaded = append(loaded, got...)
	}
	return loaded, nil
}

func (s *Store) loadOCIDir(ctx context.Context, tx *loadTx, dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load %s: %w: a directory must be an OCI layout with index.json", dir, ErrBadFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("load %s: %w: index.json: %v", dir, ErrBadFormat, err)
	}
	if len(index.Manifests) == 0 {
		return nil, fmt.Errorf("load %s: %w: index.json lists no images", dir, ErrBadFormat)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	defer root.Close()
	lr := layout.NewReaderWithRoot(root)
	var loaded []string
	for i, m := range index.Manifests {
		name, err := ociName(m.Annotations)
		if err != nil {
			return nil, fmt.Errorf("load image %d of %s: %w", i+1, dir, err)
		}
		ref, err := lr.NewIndexReference(dir, i)
		if err != nil {
			return nil, fmt.Errorf("load image %d of %s: %w", i+1, dir, err)
		}
		var names []string
		if name != "" {
			names = []string{name}
		}
		got, err := s.copyIn(ctx, tx, ref, names)
		if err != nil {
			return nil, fmt.Errorf("load image %d of %s: %w", i+1, dir, err)
		}
		loaded = append(loaded, got...)
	}
	return loaded, nil
}

// ociName picks the name of an image in an OCI index from its annotations;
// "" means the image has none. See Load.
func ociName(ann map[string]string) (string, error) {
	name := ann[containerdNameAnnotation]
	if name == "" {
		name = ann[ocispec.AnnotationRefName]
		if !strings.ContainsAny(name, "/:") {
			return "", nil
		}
	}
	return normalizeName(name, "docker.io")
}

// normalizeName turns a user's or an archive's name into the stored form:
// domain, repository and tag. shortDomain is the registry assumed when the
// name has none: docker.io for names from archives, as docker would read
// them, and localhost for images made here.
func normalizeName(name, shortDomain string) (string, error) {
	if shortDomain == "localhost" && !qualified(name) {
		name = "localhost/" + name
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadReference, name, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("%w: %q: a name to store cannot hold a digest", ErrBadReference, name)
	}
	return reference.TagNameOnly(named).String(), nil
}

// copyIn copies one image into the store under names, or without a name,
// and returns the names, or the image ID if there are none.
func (s *Store) copyIn(ctx context.Context, tx *loadTx, src types.ImageReference, names []string) ([]string, error) {
	// The ID is fixed before the copy so that an untagged image has a
	// destination, and so the transaction knows whether the image is new.
	id, err := s.imageID(ctx, src)
	if err != nil {
		return nil, err
	}
	tx.noteImage(id)
	for _, n := range names {
		tx.noteName(n)
	}
	destName := "@" + id
	if len(names) > 0 {
		destName = names[0] + destName
	}
	dest, err := istorage.Transport.ParseStoreReference(guardedStore{s.store}, destName)
	if err != nil {
		return nil, err
	}
	pc, err := s.policyContext()
	if err != nil {
		return nil, err
	}
	defer pc.Destroy()
	if _, err := copy.Image(ctx, pc, dest, src, &copy.Options{SourceCtx: s.sys, DestinationCtx: s.sys}); err != nil {
		return nil, fmt.Errorf("copy into storage: %w", err)
	}
	if err := s.fixOverflowIDs(id); err != nil {
		return nil, err
	}
	if len(names) > 1 {
		if err := s.store.AddNames(id, names[1:]); err != nil {
			return nil, fmt.Errorf("name image %s: %w", id, err)
		}
	}
	if len(names) == 0 {
		return []string{id}, nil
	}
	return names, nil
}

// imageID returns the ID the image will have in storage: its config
// digest, which is what containers/image uses for ordinary images. For a
// multi-platform index it is the config of this platform's image.
func (s *Store) imageID(ctx context.Context, ref types.ImageReference) (string, error) {
	src, err := ref.NewImageSource(ctx, s.sys)
	if err != nil {
		return "", fmt.Errorf("open source image: %w", err)
	}
	defer src.Close()
	raw, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("read manifest: %w", err)
	}
	unparsed := image.UnparsedInstance(src, nil)
	if manifest.MIMETypeIsMultiImage(mt) {
		list, err := manifest.ListFromBlob(raw, mt)
		if err != nil {
			return "", fmt.Errorf("parse manifest list: %w", err)
		}
		d, err := list.ChooseInstance(s.sys)
		if err != nil {
			return "", fmt.Errorf("choose image for this platform: %w", err)
		}
		unparsed = image.UnparsedInstance(src, &d)
	}
	img, err := image.FromUnparsedImage(ctx, s.sys, unparsed)
	if err != nil {
		return "", fmt.Errorf("read image: %w", err)
	}
	return img.ConfigInfo().Digest.Encoded(), nil
}

// loadTx remembers what a Load or Import changed, so that a failure can
// leave the store as it was: images it created are deleted, and names it
// moved go back where they were. Other images are not touched, so a
// concurrent box loading into the same store is safe.
type loadTx struct {
	s       *Store
	created []string
	names   map[string]string // name → ID of the image that had it before, or ""
}

func (s *Store) newTx() *loadTx {
	return &loadTx{s: s, names: map[string]string{}}
}

func (tx *loadTx) noteImage(id string) {
	if _, err := tx.s.store.Image(id); errors.Is(err, storage.ErrImageUnknown) {
		tx.created = append(tx.created, id)
	}
}

func (tx *loadTx) noteName(name string) {
	if _, seen := tx.names[name]; seen {
		return
	}
	prev := ""
	if img, err := tx.s.store.Image(name); err == nil {
		prev = img.ID
	}
	tx.names[name] = prev
}

func (tx *loadTx) rollback() error {
	var errs []error
	for _, id := range tx.created {
		// An image that failed before containers/image committed it does
		// not exist: the ID may name nothing, or only one of its layers.
		// A load that filled the disk must still be undone.
		err := tx.s.freeing("image "+shortID(id), func() error {
			_, err := tx.s.store.DeleteImage(id, true)
			return err
		})
		if err != nil && !errors.Is(err, storage.ErrImageUnknown) && !errors.Is(err, storage.ErrNotAnImage) {
			errs = append(errs, fmt.Errorf("remove partly loaded image %s: %w", id, err))
		}
	}
	for name, prev := range tx.names {
		now := ""
		if img, err := tx.s.store.Image(name); err == nil {
			now = img.ID
		}
		var err error
		switch {
		case now == prev:
		case prev != "":
			err = tx.s.store.AddNames(prev, []string{name})
		default:
			err = tx.s.store.RemoveNames(now, []string{name})
		}
		if err != nil && !errors.Is(err, storage.ErrImageUnknown) {
			errs = append(errs, fmt.Errorf("restore name %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
