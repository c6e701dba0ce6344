package image

import (
	"context"
	"fmt"
	"io"
	"slices"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"

	"github.com/boxcli/box/registry"
)

// PushOptions say how Push reaches the registry and reports progress; see
// PullOptions.
type PushOptions struct {
	Registry registry.Options
	Progress io.Writer
	Terminal bool
}

// Push copies the stored image src names to the registry as dest, or under
// src's own name when dest is "". A name without registry goes to
// docker.io, as with docker push (no search registries for pushes). Errors
// carry registry.ErrUnauthorized and registry.ErrUnreachable as Pull's do.
func (s *Store) Push(ctx context.Context, src, dest string, o PushOptions) error {
	img, err := s.resolve(src)
	if err != nil {
		return err
	}
	if dest == "" {
		if dest, err = ownName(src, img.Names); err != nil {
			return err
		}
	}
	named, err := reference.ParseNormalizedNamed(dest)
	if err != nil {
		return fmt.Errorf("%w: push destination %q: %v", ErrBadReference, dest, err)
	}
	named = reference.TagNameOnly(named)
	srcRef, err := istorage.Transport.NewStoreReference(s.store, nil, img.ID)
	if err != nil {
		return fmt.Errorf("push %s: %w", src, err)
	}
	destRef, err := docker.NewReference(named)
	if err != nil {
		return fmt.Errorf("%w: push destination %q: %v", ErrBadReference, dest, err)
	}
	ro := o.Registry
	if ro.TmpDir == "" {
		ro.TmpDir = s.sys.BigFilesTemporaryDir
	}
	if ro.CacheDir == "" {
		ro.CacheDir = s.sys.BlobInfoCacheDir
	}
	sys, err := registry.SystemContext(ro)
	if err != nil {
		return fmt.Errorf("push %s: %w", named, err)
	}
	pol, err := registry.Policy(ro.ConfigDir)
	if err != nil {
		return fmt.Errorf("push %s: %w", named, err)
	}
	pc, err := signature.NewPolicyContext(pol)
	if err != nil {
		return fmt.Errorf("push %s: create signature policy context: %w", named, err)
	}
	defer pc.Destroy()
	_, err = copy.Image(ctx, pc, destRef, srcRef, &copy.Options{
		SourceCtx:      s.sys,
		DestinationCtx: registry.ForHost(sys, reference.Domain(named)),
		ReportWriter:   progressWriter(o.Progress, o.Terminal),
	})
	if err != nil {
		return fmt.Errorf("push %s: %w", named, registry.Classify(err))
	}
	return nil
}

// ownName is the name to push src under when no destination is given: the
// stored name src spells, or the image's only name. An ID has no name to
// guess, and pushing it to docker.io/library/ID would surprise.
func ownName(src string, names []string) (string, error) {
	if n, err := normalizeName(src, "docker.io"); err == nil && slices.Contains(names, n) {
		return n, nil
	}
	if len(names) == 1 {
		return names[0], nil
	}
	return "", fmt.Errorf("%w: push %s: the image has %d names; give the destination", ErrBadReference, src, len(names))
}
