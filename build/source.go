package build

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"

	"github.com/boxcli/box/buildctx"
	"github.com/boxcli/box/dockerfile"
)

// stepSource is what a COPY or ADD reads: the context, or the files of
// the stage or image --from names, mounted for the step.
type stepSource struct {
	tree *buildctx.Tree
	// keepOwners: the files keep their owners (a stage's or an image's);
	// the context's belong to root in the image.
	keepOwners bool
	// layer identifies a stage's or image's files (their top layer), so
	// the cache need not read them; "" for the context.
	layer    string
	releases []func()
}

func (s *stepSource) release() {
	for i := len(s.releases) - 1; i >= 0; i-- {
		s.releases[i]()
	}
	s.releases = nil
}

// source mounts what step reads.
func (b *builder) source(ctx context.Context, step *dockerfile.Step) (*stepSource, error) {
	s := &stepSource{}
	if step.Kind != dockerfile.Copy {
		return s, nil
	}
	cs := step.Copy
	switch {
	case cs.FromStage != nil || cs.FromImage != "":
		top, err := b.topLayerOf(ctx, cs.FromStage, cs.FromImage)
		if err != nil {
			return nil, err
		}
		tree, release, err := b.mountTree(top)
		if err != nil {
			return nil, err
		}
		s.tree, s.keepOwners, s.layer = tree, true, top
		if s.layer == "" {
			s.layer = "scratch"
		}
		s.releases = append(s.releases, release)
	default:
		local := false
		for _, src := range cs.Sources {
			if !dockerfile.IsURL(src) {
				local = true
			}
		}
		if local && b.o.Context == nil {
			return nil, fmt.Errorf("%w: the Dockerfile came on stdin, so there are no files to copy (give a context directory, or a tar archive on stdin)", ErrNoContext)
		}
		s.tree = b.o.Context
	}
	return s, nil
}

// topLayerOf is the top layer of a built stage or of an image.
func (b *builder) topLayerOf(ctx context.Context, st *dockerfile.Stage, img string) (string, error) {
	if st != nil {
		r, err := b.wait(ctx, st)
		if err != nil {
			return "", err
		}
		return r.top, nil
	}
	base := b.o.Bases[img]
	if base == nil {
		return "", fmt.Errorf("image %s was not resolved (programming error)", img)
	}
	return base.TopLayer, nil
}

// mountTree mounts layer id to read (an empty directory for no layer).
func (b *builder) mountTree(id string) (*buildctx.Tree, func(), error) {
	if id == "" {
		dir, err := os.MkdirTemp(b.o.TmpDir, "scratch-")
		if err != nil {
			return nil, nil, err
		}
		return buildctx.NewTree(dir), func() { os.RemoveAll(dir) }, nil
	}
	dir, err := b.o.Store.MountLayer(id)
	if err != nil {
		return nil, nil, err
	}
	return buildctx.NewTree(dir), func() { _ = b.o.Store.UnmountLayer(id) }, nil
}

// cacheVersion changes when what a key means changes.
const cacheVersion = "box-build-cache-v1"

// key is the cache key of step over r: the parent layer, the step as
// expanded, and what it reads (the content of the context files COPY
// copies, the layers of the stages and images it copies from). "" means
// the step cannot be cached (ADD of a URL without --checksum: only
// fetching tells what it holds).
func (b *builder) key(ctx context.Context, r *result, step *dockerfile.Step, src *stepSource) (digest.Digest, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nparent %s\nformat-independent\n", cacheVersion, r.top)
	enc := json.NewEncoder(h)
	switch step.Kind {
	case dockerfile.Workdir:
		if err := enc.Encode(step.Workdir); err != nil {
			return "", err
		}
	case dockerfile.Run:
		rs := *step.Run
		rs.Network = b.network(rs.Network)
		if err := enc.Encode(rs); err != nil {
			return "", err
		}
		mk, err := b.mountsKey(ctx, step.Run)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "mounts %s\n", mk)
	case dockerfile.Copy:
		cs := *step.Copy
		for _, s := range cs.Sources {
			if dockerfile.IsURL(s) && cs.Checksum == "" {
				return "", nil
			}
		}
		cs.FromStage = nil // named by its layer below
		if err := enc.Encode(cs); err != nil {
			return "", err
		}
		if src.layer != "" {
			fmt.Fprintf(h, "from-layer %s\n", src.layer)
			break
		}
		if err := digestSources(src.tree, cs.Sources, h); err != nil {
			return "", err
		}
	}
	if b.o.Epoch != nil {
		fmt.Fprintf(h, "epoch %d\n", b.o.Epoch.Unix())
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// digestSources adds the content of the local sources to h.
func digestSources(tree *buildctx.Tree, sources []string, h io.Writer) error {
	for _, s := range sources {
		if dockerfile.IsURL(s) {
			fmt.Fprintf(h, "url %q\n", s)
			continue
		}
		matches, err := tree.Match(s)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "source %q %d\n", s, len(matches))
		if err := tree.Digest(matches, h); err != nil {
			return err
		}
	}
	return nil
}

// mountsKey is what RUN --mount's add to the key: each mount as written
// (a secret by its id, never its value), and what a bind mounts: the
// content of context files, the layer of a stage or image.
func (b *builder) mountsKey(ctx context.Context, rs *dockerfile.RunStep) (string, error) {
	h := sha256.New()
	for _, m := range rs.Mounts {
		if err := json.NewEncoder(h).Encode(m); err != nil {
			return "", err
		}
		if m.Type != "bind" {
			continue
		}
		if m.From != "" {
			st, img := b.fromStage(m.From)
			top, err := b.topLayerOf(ctx, st, img)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "from-layer %s\n", top)
			continue
		}
		if b.o.Context == nil {
			return "", fmt.Errorf("--mount=type=bind: %w", ErrNoContext)
		}
		if err := digestSources(b.o.Context, []string{m.Source}, h); err != nil {
			return "", err
		}
	}
	return digest.NewDigest(digest.SHA256, h).Encoded(), nil
}
