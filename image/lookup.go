package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"

	"github.com/boxcli/box/health"
)

// Summary describes a stored image for listings.
type Summary struct {
	ID      string
	Names   []string // e.g. "docker.io/library/busybox:latest"
	Digest  string   // digest of the manifest
	Created time.Time
	Size    int64
}

// Images lists the stored images.
func (s *Store) Images() ([]Summary, error) {
	imgs, err := s.store.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Summary, 0, len(imgs))
	for _, img := range imgs {
		size, err := s.store.ImageSize(img.ID)
		if err != nil {
			return nil, fmt.Errorf("size of image %s: %w", img.ID, err)
		}
		out = append(out, Summary{
			ID:      img.ID,
			Names:   slices.Clone(img.Names),
			Digest:  img.Digest.String(),
			Created: img.Created,
			Size:    size,
		})
	}
	return out, nil
}

// LayerUsage is what the stored images' layers take: each image's layers
// (top first) and each layer's size, for a disk usage that counts a layer
// shared by several images once.
func (s *Store) LayerUsage() (byImage map[string][]string, sizes map[string]int64, err error) {
	imgs, err := s.store.Images()
	if err != nil {
		return nil, nil, fmt.Errorf("list images: %w", err)
	}
	byImage, sizes = map[string][]string{}, map[string]int64{}
	for _, img := range imgs {
		for id := img.TopLayer; id != ""; {
			byImage[img.ID] = append(byImage[img.ID], id)
			l, err := s.store.Layer(id)
			if err != nil {
				return nil, nil, fmt.Errorf("layers of image %s: %w", img.ID, err)
			}
			if _, seen := sizes[id]; !seen {
				size := l.UncompressedSize
				if size <= 0 {
					if size, err = s.store.DiffSize("", id); err != nil {
						size = 0 // unknown: counted as nothing rather than failing df
					}
				}
				sizes[id] = size
			}
			id = l.Parent
		}
	}
	return byImage, sizes, nil
}

// Image is a resolved image and the parts of its config that box runs with.
type Image struct {
	ID     string
	Names  []string
	Config ocispec.ImageConfig
	// Healthcheck is the HEALTHCHECK of a Docker-format config, which the
	// OCI form has no field for; nil when there is none.
	Healthcheck *health.Config
}

// Lookup resolves what a user typed to a stored image: a full ID (with or
// without "sha256:"), a unique ID prefix of at least three hex digits, or a
// name. A short name such as "busybox" or "busybox:1.36" matches, in this
// order, "localhost/busybox", "docker.io/library/busybox", and then any
// stored name whose repository ends in "/busybox", with the tag given or
// "latest"; a fully qualified name matches only itself.
func (s *Store) Lookup(ctx context.Context, ref string) (*Image, error) {
	img, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	sref, err := istorage.Transport.NewStoreReference(s.store, nil, img.ID)
	if err != nil {
		return nil, fmt.Errorf("look up image %s: %w", ref, err)
	}
	src, err := sref.NewImage(ctx, s.sys)
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", ref, err)
	}
	defer src.Close()
	cfg, err := src.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", ref, err)
	}
	raw, err := src.ConfigBlob(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config of image %s: %w", ref, err)
	}
	return &Image{ID: img.ID, Names: slices.Clone(img.Names), Config: cfg.Config, Healthcheck: healthcheckOf(raw)}, nil
}

// healthcheckOf reads the HEALTHCHECK of a Docker image config blob.
func healthcheckOf(raw []byte) *health.Config {
	var c struct {
		Config struct {
			Healthcheck *health.Config `json:"Healthcheck"`
		} `json:"config"`
	}
	// Best effort: the blob parsed as a config already, and a malformed
	// healthcheck is no healthcheck.
	if json.Unmarshal(raw, &c) != nil {
		return nil
	}
	return c.Config.Healthcheck
}

// resolve finds the stored image ref names.
func (s *Store) resolve(ref string) (*storage.Image, error) {
	imgs, err := s.store.Images()
	if err != nil {
		return nil, fmt.Errorf("look up image %s: %w", ref, err)
	}
	cands := make([]candidate, len(imgs))
	for i, img := range imgs {
		cands[i] = candidate{ID: img.ID, Names: img.Names, Digests: img.Digests}
	}
	id, err := match(ref, cands)
	if err != nil {
		return nil, err
	}
	for i := range imgs {
		if imgs[i].ID == id {
			return &imgs[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrImageNotFound, ref)
}

// candidate is what match needs to know about a stored image.
type candidate struct {
	ID      string
	Names   []string
	Digests []digest.Digest
}

// minIDPrefix is containers/image's shortest accepted ID prefix, so that a
// short name like "abc" is not taken for an ID by accident.
const minIDPrefix = 3

// match returns the ID of the one image in imgs that ref names. See Lookup.
func match(ref string, imgs []candidate) (string, error) {
	if ref == "" || strings.TrimSpace(ref) != ref {
		return "", fmt.Errorf("%w: %q", ErrBadReference, ref)
	}
	hexPart, isID := strings.CutPrefix(ref, "sha256:")
	hex := isHex(hexPart)
	if isID && !hex {
		return "", fmt.Errorf("%w: %q is not a sha256 image ID", ErrBadReference, ref)
	}
	if hex && len(hexPart) == 64 {
		for _, img := range imgs {
			if img.ID == hexPart {
				return img.ID, nil
			}
		}
		// 64 hex digits can only be an ID: names may not look like one.
		return "", fmt.Errorf("%w: %s", ErrImageNotFound, ref)
	}
	if !isID {
		id, err := matchName(ref, imgs)
		switch {
		case err == nil:
			return id, nil
		case !hex || !errors.Is(err, ErrImageNotFound):
			return "", err
		}
	}
	if len(hexPart) < minIDPrefix {
		return "", fmt.Errorf("%w: %s", ErrImageNotFound, ref)
	}
	var found []string
	for _, img := range imgs {
		if strings.HasPrefix(img.ID, hexPart) {
			found = append(found, img.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrImageNotFound, ref)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: ID prefix %s matches %d images", ErrAmbiguous, ref, len(found))
}

func matchName(ref string, imgs []candidate) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadReference, ref, err)
	}
	var dgst digest.Digest
	if c, ok := named.(reference.Canonical); ok {
		dgst = c.Digest()
	}
	tag := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	} else if dgst != "" {
		tag = "" // a digest alone says nothing about the tag
	}

	// Each stored name is compared by repository and tag (or digest); the
	// tiers are tried in order and the first that matches anything wins.
	repo := named.Name()
	var tiers []func(storedRepo string) bool
	if qualified(ref) {
		tiers = append(tiers, func(r string) bool { return r == repo })
	} else {
		short := reference.FamiliarName(named)
		tiers = append(tiers,
			func(r string) bool { return r == "localhost/"+short },
			func(r string) bool { return r == repo },
			func(r string) bool { return strings.HasSuffix(r, "/"+short) },
		)
	}
	for _, tier := range tiers {
		var ids, names []string
		for _, img := range imgs {
			if name, ok := imageMatches(img, tier, tag, dgst); ok && !slices.Contains(ids, img.ID) {
				ids = append(ids, img.ID)
				names = append(names, name)
			}
		}
		switch len(ids) {
		case 0:
			continue
		case 1:
			return ids[0], nil
		}
		return "", fmt.Errorf("%w: %s matches %s", ErrAmbiguous, ref, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("%w: %s", ErrImageNotFound, ref)
}

// imageMatches returns the first stored name of img whose repository passes
// repoOK and whose tag is tag, or, with a digest, whose image has that digest.
func imageMatches(img candidate, repoOK func(string) bool, tag string, dgst digest.Digest) (string, bool) {
	if dgst != "" && !slices.Contains(img.Digests, dgst) {
		return "", false
	}
	for _, n := range img.Names {
		stored, err := reference.ParseNormalizedNamed(n)
		if err != nil || !repoOK(stored.Name()) {
			continue
		}
		if tag == "" {
			return n, true
		}
		if t, ok := stored.(reference.Tagged); ok && t.Tag() == tag {
			return n, true
		}
	}
	return "", false
}

// qualified reports whether ref names its registry, as podman decides it:
// the part before the first slash looks like a host.
func qualified(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// namedBy returns the stored name of img that ref matched, if ref is a
// name (not an ID or a digest) that resolved to img.
func namedBy(ref string, img *storage.Image) (string, bool) {
	if strings.HasPrefix(ref, "sha256:") || strings.Contains(ref, "@") {
		return "", false
	}
	for _, n := range img.Names {
		if _, err := matchName(ref, []candidate{{ID: img.ID, Names: []string{n}}}); err == nil {
			return n, true
		}
	}
	return "", false
}
