package image

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"

	"github.com/boxcli/box/health"
)

// Inspect is what `box image inspect` prints: the fields of `docker image
// inspect`, with Docker's names and casing, and History as podman adds it.
// Names are stored names (docker.io/library/busybox:latest), as podman
// shows them.
type Inspect struct {
	ID            string            `json:"Id"` // "sha256:" and the config digest
	RepoTags      []string          `json:"RepoTags"`
	RepoDigests   []string          `json:"RepoDigests"` // repository@manifest-digest
	Parent        string            `json:"Parent"`      // always "": images here have no local parent
	Comment       string            `json:"Comment"`
	Created       string            `json:"Created"` // RFC 3339 with nanoseconds, UTC
	DockerVersion string            `json:"DockerVersion"`
	Author        string            `json:"Author"`
	Config        InspectConfig     `json:"Config"`
	Architecture  string            `json:"Architecture"`
	Variant       string            `json:"Variant,omitempty"`
	Os            string            `json:"Os"`
	Size          int64             `json:"Size"`
	GraphDriver   GraphDriver       `json:"GraphDriver"`
	RootFS        RootFS            `json:"RootFS"`
	History       []ocispec.History `json:"History,omitempty"`
}

// InspectConfig is the image's config as Docker shows it: the OCI fields
// (whose JSON names are Docker's) and the HEALTHCHECK, ONBUILD and SHELL
// only Docker's format has.
type InspectConfig struct {
	ocispec.ImageConfig
	Healthcheck *health.Config `json:"Healthcheck,omitempty"`
	OnBuild     []string       `json:"OnBuild,omitempty"`
	Shell       []string       `json:"Shell,omitempty"`
}

// GraphDriver names the storage driver holding the image.
type GraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// RootFS lists the image's layers by diff ID, bottom first.
type RootFS struct {
	Type   string   `json:"Type"` // "layers"
	Layers []string `json:"Layers"`
}

// dockerConfigExtras are the fields of a Docker image config that the OCI
// config lacks.
type dockerConfigExtras struct {
	Comment       string `json:"comment"`
	DockerVersion string `json:"docker_version"`
}

// Inspect describes the image ref names.
func (s *Store) Inspect(ctx context.Context, ref string) (*Inspect, error) {
	img, err := s.resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	cfg, raw, err := s.imageConfig(ctx, img.ID)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	size, err := s.store.ImageSize(img.ID)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: size: %w", ref, err)
	}
	var extras dockerConfigExtras
	// Best effort: the config parsed as OCI already, and the extras are
	// optional strings.
	_ = json.Unmarshal(raw, &extras)
	var docker struct {
		Config struct {
			OnBuild []string `json:"OnBuild"`
			Shell   []string `json:"Shell"`
		} `json:"config"`
	}
	_ = json.Unmarshal(raw, &docker)
	comment := extras.Comment
	if comment == "" && len(cfg.History) > 0 {
		// What docker shows for images without a top-level comment
		// (buildkit's "buildkit.dockerfile.v0", import -m's message).
		comment = cfg.History[len(cfg.History)-1].Comment
	}
	out := &Inspect{
		ID:            "sha256:" + img.ID,
		RepoTags:      []string{},
		RepoDigests:   repoDigests(img),
		Comment:       comment,
		DockerVersion: extras.DockerVersion,
		Author:        cfg.Author,
		Config:        InspectConfig{ImageConfig: cfg.Config, Healthcheck: healthcheckOf(raw), OnBuild: docker.Config.OnBuild, Shell: docker.Config.Shell},
		Architecture:  cfg.Architecture,
		Variant:       cfg.Variant,
		Os:            cfg.OS,
		Size:          size,
		GraphDriver:   GraphDriver{Name: s.driver, Data: map[string]string{}},
		RootFS:        RootFS{Type: "layers", Layers: []string{}},
		History:       cfg.History,
	}
	for _, n := range img.Names {
		if named, err := reference.ParseNormalizedNamed(n); err == nil {
			if _, ok := named.(reference.Tagged); ok {
				out.RepoTags = append(out.RepoTags, n)
			}
		}
	}
	if cfg.Created != nil {
		out.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	return out, nil
}

// repoDigests pairs each repository the image is named in with each
// manifest digest it is stored under, as podman does.
func repoDigests(img *storage.Image) []string {
	digests := slices.Clone(img.Digests)
	if img.Digest != "" && !slices.Contains(digests, img.Digest) {
		digests = append(digests, img.Digest)
	}
	out := []string{}
	for _, n := range img.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		for _, d := range digests {
			rd := named.Name() + "@" + d.String()
			if !slices.Contains(out, rd) {
				out = append(out, rd)
			}
		}
	}
	return out
}

// imageConfig reads the OCI config of stored image id, and the config
// blob as stored, for fields the OCI form drops.
func (s *Store) imageConfig(ctx context.Context, id string) (*ocispec.Image, []byte, error) {
	sref, err := istorage.Transport.NewStoreReference(s.store, nil, id)
	if err != nil {
		return nil, nil, err
	}
	src, err := sref.NewImage(ctx, s.sys)
	if err != nil {
		return nil, nil, fmt.Errorf("open image: %w", err)
	}
	defer src.Close()
	cfg, err := src.OCIConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	raw, err := src.ConfigBlob(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return cfg, raw, nil
}
