package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/boxcli/box/health"
)

// CommitOptions say what box commit makes of a container.
type CommitOptions struct {
	// Config is the container's own configuration (its command, env,
	// working directory, ...), which the new image takes, as Docker's
	// commit does; Changes (Dockerfile-like lines) apply on top.
	Config ocispec.ImageConfig
	// Healthcheck is the container's, which the image's config carries
	// as Docker's HEALTHCHECK; nil for none.
	Healthcheck *health.Config
	Changes     []string
	Message     string
	Author      string
	// Name may be "" for an untagged image.
	Name string
}

// Commit makes a new image of container id: its image's layers, then the
// container's writable layer as one more, in the manifest format of the
// image it came from. It writes what containers/image's storage
// destination writes (config and manifest as the image's big data, the
// config digest as the ID), so pull, save, push and run read it as any
// other image; the layers below are shared, not copied. It returns the new
// image's ID; on error nothing of it stays.
func (s *Store) Commit(ctx context.Context, id string, o CommitOptions) (_ string, retErr error) {
	fail := func(err error) (string, error) { return "", fmt.Errorf("commit %s: %w", id, err) }
	ctr, err := s.store.Container(id)
	if err != nil {
		return fail(err)
	}
	base, err := s.store.Image(ctr.ImageID)
	if err != nil {
		return fail(err)
	}
	ref, err := istorage.Transport.NewStoreReference(s.store, nil, base.ID)
	if err != nil {
		return fail(err)
	}
	src, err := ref.NewImageSource(ctx, s.sys)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	mb, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		return fail(err)
	}
	img, err := ref.NewImage(ctx, s.sys)
	if err != nil {
		return fail(err)
	}
	defer img.Close()
	cb, err := img.ConfigBlob(ctx)
	if err != nil {
		return fail(err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return fail(fmt.Errorf("read the image's config: %w", err))
	}

	// The diff holds the layer store's read lock until it is read to the
	// end, and PutLayer needs its write lock: the diff goes through a file.
	tmp, err := os.CreateTemp(s.tmpDir, "commit-")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	uncompressed := archive.Uncompressed
	diff, err := s.store.Diff("", ctr.LayerID, &storage.DiffOptions{Compression: &uncompressed})
	if err != nil {
		return fail(err)
	}
	_, err = io.Copy(tmp, diff)
	diff.Close()
	if err != nil {
		return fail(fmt.Errorf("read the container's changes: %w", err))
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	layer, _, err := s.store.PutLayer("", base.TopLayer, nil, "", false, nil, tmp)
	if err != nil {
		return fail(fmt.Errorf("store the container's changes as a layer: %w", err))
	}
	defer func() {
		if retErr != nil {
			_ = s.freeing("the new layer", func() error { return s.store.DeleteLayer(layer.ID) })
		}
	}()

	now := time.Now().UTC()
	cfg.Created = &now
	cfg.Author = o.Author
	cfg.Config = o.Config
	if err := applyChanges(&cfg.Config, o.Changes); err != nil {
		return fail(err)
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, layer.UncompressedDigest)
	cfg.History = append(cfg.History, ocispec.History{Created: &now, CreatedBy: "box commit", Comment: o.Message, Author: o.Author})
	cfgJSON, err := json.Marshal(withHealthcheck{Image: cfg, Config: configWithHealthcheck{cfg.Config, o.Healthcheck}})
	if err != nil {
		return fail(err)
	}
	cfgDigest := digest.FromBytes(cfgJSON)

	newManifest, err := appendLayer(mb, mt, cfgDigest, int64(len(cfgJSON)), layer)
	if err != nil {
		return fail(err)
	}
	var names []string
	if o.Name != "" {
		n, err := normalizeName(o.Name, "localhost")
		if err != nil {
			return fail(err)
		}
		names = []string{n}
	}
	imgID, err := s.createImage(cfgDigest, cfgJSON, newManifest, layer.ID, now, names)
	if err != nil {
		return fail(err)
	}
	return imgID, nil
}

// appendLayer is manifest mb (of MIME type mt) with config cfg and one more
// layer, uncompressed, in the same format.
func appendLayer(mb []byte, mt string, cfg digest.Digest, cfgSize int64, layer *storage.Layer) ([]byte, error) {
	switch manifest.NormalizedMIMEType(mt) {
	case manifest.DockerV2Schema2MediaType:
		m, err := manifest.Schema2FromManifest(mb)
		if err != nil {
			return nil, err
		}
		m.ConfigDescriptor = manifest.Schema2Descriptor{MediaType: manifest.DockerV2Schema2ConfigMediaType, Size: cfgSize, Digest: cfg}
		m.LayersDescriptors = append(m.LayersDescriptors, manifest.Schema2Descriptor{
			MediaType: manifest.DockerV2SchemaLayerMediaTypeUncompressed, Size: layer.UncompressedSize, Digest: layer.UncompressedDigest,
		})
		return m.Serialize()
	case ocispec.MediaTypeImageManifest:
		m, err := manifest.OCI1FromManifest(mb)
		if err != nil {
			return nil, err
		}
		m.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Size: cfgSize, Digest: cfg}
		m.Layers = append(m.Layers, ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageLayer, Size: layer.UncompressedSize, Digest: layer.UncompressedDigest,
		})
		return m.Serialize()
	}
	return nil, fmt.Errorf("the image's manifest is %s, which box cannot extend", mt)
}

// withHealthcheck is an image config with Docker's HEALTHCHECK, which the
// OCI config has no field for: its "config" shadows the embedded one's.
type withHealthcheck struct {
	ocispec.Image
	Config configWithHealthcheck `json:"config"`
}

type configWithHealthcheck struct {
	ocispec.ImageConfig
	Healthcheck *health.Config `json:"Healthcheck,omitempty"`
}
