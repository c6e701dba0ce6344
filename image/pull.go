package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"

	"github.com/boxcli/box/registry"
)

// Pull policies, as --pull takes them.
const (
	PullMissing = "missing" // pull only if no stored image matches (the default)
	PullAlways  = "always"  // always pull
	PullNever   = "never"   // never pull; ErrImageNotFound if not stored
	PullNewer   = "newer"   // pull if the registry's digest differs from the stored image's
)

// PullOptions say how Pull reaches the registry and reports progress.
type PullOptions struct {
	Policy   string           // PullMissing ("" too), PullAlways, PullNever or PullNewer
	Registry registry.Options // TLS, auth file, registries.conf, platform
	// Progress receives containers/image's report; nil is silent.
	Progress io.Writer
	// Terminal asks for per-layer progress bars, which containers/image
	// draws only when Progress is an *os.File that is a terminal;
	// otherwise, and without Terminal, one line per blob is written
	// ("Copying blob sha256:…").
	Terminal bool
	// Warnf receives one-line warnings for the user; it may be nil.
	Warnf func(format string, args ...any)
}

// Pull makes sure the image ref names is in the store, fetching it from a
// registry as o.Policy says, and returns it. A short name is tried in each
// registry registry.Normalize lists. A multi-platform index yields the
// image for o.Registry.Platform, or the host's platform. Layers the store
// already holds are not downloaded again.
//
// Errors: ErrBadReference for a malformed ref; ErrImageNotFound when no
// registry has it (the message names the reference tried);
// registry.ErrUnauthorized when the registry wants a login;
// registry.ErrUnreachable when it cannot be reached. A failed or cancelled
// pull leaves no new image in the store (containers/image creates the image
// only once every layer is in; layers already committed stay, unnamed, and
// the next pull reuses them).
func (s *Store) Pull(ctx context.Context, ref string, o PullOptions) (*Image, error) {
	warnf := o.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	switch o.Policy {
	case "", PullMissing, PullAlways, PullNever, PullNewer:
	default:
		return nil, fmt.Errorf("pull %s: unknown pull policy %q: want always, missing, never or newer", ref, o.Policy)
	}
	if o.Policy == PullNever {
		return s.Lookup(ctx, ref)
	}
	if o.Policy == "" || o.Policy == PullMissing {
		if _, err := s.resolve(ref); err == nil {
			return s.Lookup(ctx, ref)
		}
	}
	p, err := s.newPuller(o, warnf)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	cands, err := registry.Normalize(p.sys, ref)
	if err != nil {
		if errors.Is(err, registry.ErrBadReference) {
			return nil, &badReferenceError{err}
		}
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	var errs []error
	for _, name := range cands {
		id, err := p.pull(ctx, name)
		if err == nil {
			return s.Lookup(ctx, id)
		}
		if ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, pullError(errs)
}

// pullError picks what to report when every candidate failed: the first
// error that is not "not found", since it says more (a login is needed,
// a registry is down), else the first candidate's "not found".
func pullError(errs []error) error {
	for _, err := range errs {
		if !errors.Is(err, ErrImageNotFound) {
			return err
		}
	}
	return errs[0]
}

// puller holds what one Pull needs for every candidate.
type puller struct {
	s      *Store
	sys    *types.SystemContext
	policy *signature.Policy
	o      PullOptions
	warnf  func(string, ...any)
}

func (s *Store) newPuller(o PullOptions, warnf func(string, ...any)) (*puller, error) {
	ro := o.Registry
	// Big files and the blob info cache go where the store keeps its own,
	// not to the host's /var/tmp.
	if ro.TmpDir == "" {
		ro.TmpDir = s.sys.BigFilesTemporaryDir
	}
	if ro.CacheDir == "" {
		ro.CacheDir = s.sys.BlobInfoCacheDir
	}
	sys, err := registry.SystemContext(ro)
	if err != nil {
		return nil, err
	}
	pol, err := registry.Policy(ro.ConfigDir)
	if err != nil {
		return nil, err
	}
	return &puller{s: s, sys: sys, policy: pol, o: o, warnf: warnf}, nil
}

// pull copies one fully qualified reference into the store and returns
// the image's ID.
func (p *puller) pull(ctx context.Context, name string) (string, error) {
	host, err := registry.Host(name)
	if err != nil {
		return "", &badReferenceError{err}
	}
	sys := registry.ForHost(p.sys, host)
	src, err := docker.ParseReference("//" + name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadReference, name, err)
	}
	dest, err := istorage.Transport.ParseStoreReference(guardedStore{p.s.store}, name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadReference, name, err)
	}
	if p.o.Policy == PullNewer {
		if id, ok := p.upToDate(ctx, sys, name, src, dest); ok {
			return id, nil
		}
	}
	pc, err := signature.NewPolicyContext(p.policy)
	if err != nil {
		return "", fmt.Errorf("pull %s: create signature policy context: %w", name, err)
	}
	defer pc.Destroy()
	_, err = copy.Image(ctx, pc, dest, src, &copy.Options{
		SourceCtx:      sys,
		DestinationCtx: p.sys,
		ReportWriter:   progressWriter(p.o.Progress, p.o.Terminal),
	})
	if err != nil {
		return "", wrapRegistryError(name, err)
	}
	img, err := istorage.Transport.GetStoreImage(p.s.store, dest)
	if err != nil {
		return "", fmt.Errorf("pull %s: find pulled image: %w", name, err)
	}
	// Files of ids beyond the user's range were left to root by the driver
	// (ignore_chown_errors); give them the overflow id, as Load does.
	if err := p.s.fixOverflowIDs(img.ID); err != nil {
		return "", fmt.Errorf("pull %s: %w", name, err)
	}
	return img.ID, nil
}

// upToDate reports whether the stored image name names already has the
// registry's manifest digest. If the registry cannot be asked, the stored
// image is used, with a warning, as podman does.
func (p *puller) upToDate(ctx context.Context, sys *types.SystemContext, name string, src, dest types.ImageReference) (string, bool) {
	img, err := istorage.Transport.GetStoreImage(p.s.store, dest)
	if err != nil {
		return "", false
	}
	remote, err := docker.GetDigest(ctx, sys, src)
	if err != nil {
		p.warnf("cannot check %s for a newer image, using the stored one: %v", name, err)
		return img.ID, true
	}
	if img.Digest == remote || slices.Contains(img.Digests, remote) {
		return img.ID, true
	}
	return "", false
}

// wrapRegistryError words err from containers/image for the CLI: "not
// found" becomes ErrImageNotFound naming the reference, the rest keeps
// registry's sentinels.
func wrapRegistryError(name string, err error) error {
	err = registry.Classify(err)
	if errors.Is(err, registry.ErrNotFound) {
		return &notFoundError{ref: name, err: err}
	}
	return fmt.Errorf("pull %s: %w", name, err)
}

// notFoundError is `image "REF" not found: REASON`, and Is
// ErrImageNotFound and registry.ErrNotFound.
type notFoundError struct {
	ref string
	err error
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("image %q not found: %s", e.ref, registry.Describe(e.err))
}
func (e *notFoundError) Unwrap() []error { return []error{ErrImageNotFound, e.err} }

// progressWriter gives containers/image the writer that yields what was
// asked: it draws bars only on an *os.File terminal, so hiding the file
// behind another type gets plain lines.
func progressWriter(w io.Writer, terminal bool) io.Writer {
	if w == nil || terminal {
		return w
	}
	return plainWriter{w}
}

type plainWriter struct{ w io.Writer }

func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }

// badReferenceError is registry's ErrBadReference that is also this
// package's, without saying "invalid image reference" twice.
type badReferenceError struct{ err error }

func (e *badReferenceError) Error() string   { return e.err.Error() }
func (e *badReferenceError) Unwrap() []error { return []error{ErrBadReference, e.err} }
