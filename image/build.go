package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
)

// Image formats a build writes (box build --format).
const (
	FormatOCI    = "oci"
	FormatDocker = "docker"
)

// Base is what a build needs of a stored image it builds on or copies
// from.
type Base struct {
	ID       string
	TopLayer string
	// Config is the config blob as stored (HEALTHCHECK, SHELL and ONBUILD
	// included).
	Config []byte
	// Layers are its manifest's layer descriptors, bottom first, in OCI
	// terms; a new manifest keeps them.
	Layers []ocispec.Descriptor
}

// Base reads what a build needs of the image ref names.
func (s *Store) Base(ctx context.Context, ref string) (*Base, error) {
	img, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	sref, err := istorage.Transport.NewStoreReference(s.store, nil, img.ID)
	if err != nil {
		return nil, err
	}
	src, err := sref.NewImageSource(ctx, s.sys)
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", ref, err)
	}
	defer src.Close()
	mb, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read the manifest of %s: %w", ref, err)
	}
	_, raw, err := s.imageConfig(ctx, img.ID)
	if err != nil {
		return nil, fmt.Errorf("read the config of %s: %w", ref, err)
	}
	m, err := manifest.FromBlob(mb, manifest.NormalizedMIMEType(mt))
	if err != nil {
		return nil, fmt.Errorf("read the manifest of %s: %w", ref, err)
	}
	b := &Base{ID: img.ID, TopLayer: img.TopLayer, Config: raw}
	for _, l := range m.LayerInfos() {
		b.Layers = append(b.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, URLs: l.URLs, Annotations: l.Annotations})
	}
	return b, nil
}

// MountLayer mounts layer id (and those below it) to read it, as COPY
// --from does; UnmountLayer undoes it.
func (s *Store) MountLayer(id string) (string, error) {
	dir, err := s.store.Mount(id, "")
	if err != nil {
		return "", fmt.Errorf("mount layer %s: %w", id[:min(12, len(id))], err)
	}
	return dir, nil
}

// UnmountLayer unmounts what MountLayer mounted.
func (s *Store) UnmountLayer(id string) error {
	if _, err := s.store.Unmount(id, false); err != nil && !errors.Is(err, storage.ErrLayerNotMounted) {
		return fmt.Errorf("unmount layer %s: %w", id[:min(12, len(id))], err)
	}
	return nil
}

// LayerExists says whether the store still has layer id.
func (s *Store) LayerExists(id string) bool {
	_, err := s.store.Layer(id)
	return err == nil
}

// NewImage is an image a build made, to be written at once.
type NewImage struct {
	// Config is the config blob (its diff IDs name every layer).
	Config []byte
	// TopLayer is the image's top layer ("" for an image of no layers).
	TopLayer string
	// Layers are the manifest's layer descriptors, bottom first: the
	// base's as its manifest had them, then the build's, uncompressed.
	Layers  []ocispec.Descriptor
	Format  string // FormatOCI or FormatDocker
	Names   []string
	Created time.Time
}

// WriteImage stores a built image, as containers/image's storage
// destination would (see Commit), and gives it its names, moved from the
// images that had them. The config's digest is the image's ID; the same
// config again is the same image.
func (s *Store) WriteImage(n NewImage) (string, error) {
	cfgDigest := digest.FromBytes(n.Config)
	mb, err := buildManifest(n.Format, ocispec.Descriptor{Digest: cfgDigest, Size: int64(len(n.Config))}, n.Layers)
	if err != nil {
		return "", err
	}
	var names []string
	for _, name := range n.Names {
		nn, err := normalizeName(name, "localhost")
		if err != nil {
			return "", err
		}
		names = append(names, nn)
	}
	return s.createImage(cfgDigest, n.Config, mb, n.TopLayer, n.Created, names)
}

// createImage stores an image whose layers are in place: the config and
// manifest as big data, the names moved from whatever image had them.
func (s *Store) createImage(cfgDigest digest.Digest, cfg, mb []byte, topLayer string, created time.Time, names []string) (string, error) {
	mDigest := digest.FromBytes(mb)
	img, err := s.store.CreateImage(cfgDigest.Encoded(), nil, topLayer, "", &storage.ImageOptions{
		CreationDate: created,
		Digest:       mDigest,
		BigData: []storage.ImageBigDataOption{
			{Key: cfgDigest.String(), Data: cfg, Digest: cfgDigest},
			{Key: storage.ImageDigestManifestBigDataNamePrefix + "-" + mDigest.String(), Data: mb, Digest: mDigest},
			{Key: storage.ImageDigestBigDataKey, Data: mb, Digest: mDigest},
		},
	})
	fresh := err == nil
	if errors.Is(err, storage.ErrDuplicateID) {
		// The same config again (nothing changed): that image is the answer.
		img, err = s.store.Image(cfgDigest.Encoded())
	}
	if err != nil {
		return "", err
	}
	if len(names) > 0 {
		// AddNames moves a name from the image that had it, as a tag does.
		if err := s.store.AddNames(img.ID, names); err != nil {
			if fresh {
				_, _ = s.store.DeleteImage(img.ID, true)
			}
			return "", err
		}
	}
	return img.ID, nil
}

// buildManifest is a manifest of format for the config and layers, each
// layer's media type said the format's way.
func buildManifest(format string, cfg ocispec.Descriptor, layers []ocispec.Descriptor) ([]byte, error) {
	switch format {
	case FormatDocker:
		m := manifest.Schema2{
			SchemaVersion:     2,
			MediaType:         manifest.DockerV2Schema2MediaType,
			ConfigDescriptor:  manifest.Schema2Descriptor{MediaType: manifest.DockerV2Schema2ConfigMediaType, Size: cfg.Size, Digest: cfg.Digest},
			LayersDescriptors: []manifest.Schema2Descriptor{},
		}
		for _, l := range layers {
			mt, err := dockerLayerType(l.MediaType)
			if err != nil {
				return nil, err
			}
			m.LayersDescriptors = append(m.LayersDescriptors, manifest.Schema2Descriptor{MediaType: mt, Size: l.Size, Digest: l.Digest, URLs: l.URLs})
		}
		return m.Serialize()
	case FormatOCI, "":
		m := manifest.OCI1{Manifest: ocispec.Manifest{
			Versioned: imgspec.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Size: cfg.Size, Digest: cfg.Digest},
			Layers:    []ocispec.Descriptor{},
		}}
		for _, l := range layers {
			mt, err := ociLayerType(l.MediaType)
			if err != nil {
				return nil, err
			}
			l.MediaType = mt
			m.Layers = append(m.Layers, l)
		}
		return m.Serialize()
	}
	return nil, fmt.Errorf("%w: %q (want oci or docker)", ErrBadFormat, format)
}

// UncompressedLayer is the descriptor of a layer a build made.
func UncompressedLayer(l *Layer) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: l.DiffID, Size: l.Size}
}

func dockerLayerType(mt string) (string, error) {
	switch mt {
	case manifest.DockerV2Schema2LayerMediaType, ocispec.MediaTypeImageLayerGzip:
		return manifest.DockerV2Schema2LayerMediaType, nil
	case manifest.DockerV2SchemaLayerMediaTypeUncompressed, ocispec.MediaTypeImageLayer:
		return manifest.DockerV2SchemaLayerMediaTypeUncompressed, nil
	case manifest.DockerV2Schema2ForeignLayerMediaType, manifest.DockerV2Schema2ForeignLayerMediaTypeGzip:
		return mt, nil
	}
	return "", fmt.Errorf("a layer of type %s cannot be written in a docker-format image: use --format oci", mt)
}

func ociLayerType(mt string) (string, error) {
	switch mt {
	case manifest.DockerV2Schema2LayerMediaType, ocispec.MediaTypeImageLayerGzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case manifest.DockerV2SchemaLayerMediaTypeUncompressed, ocispec.MediaTypeImageLayer:
		return ocispec.MediaTypeImageLayer, nil
	case ocispec.MediaTypeImageLayerZstd:
		return mt, nil
	case manifest.DockerV2Schema2ForeignLayerMediaType:
		return ocispec.MediaTypeImageLayerNonDistributable, nil //nolint:staticcheck // what Docker's foreign layers are called in OCI
	case manifest.DockerV2Schema2ForeignLayerMediaTypeGzip:
		return ocispec.MediaTypeImageLayerNonDistributableGzip, nil //nolint:staticcheck // as above
	}
	return "", fmt.Errorf("a layer of type %s cannot be written in an OCI image", mt)
}

// CheckName says whether name can name a local image (box build -t): it
// only reads the name, so the CLI may call it outside the stage.
func CheckName(name string) error {
	_, err := normalizeName(name, "localhost")
	return err
}
