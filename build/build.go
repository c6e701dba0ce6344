// Package build runs a planned Dockerfile (package dockerfile) in the
// stage, as root in box's user namespace. Each step that changes files
// is a containers/storage layer on the one before, written where it is
// mounted: a RUN's command runs in a container on it (through the Runner,
// the same init as box run), COPY and ADD write into it directly, and the
// layer the step wrote is the step's result, never diffed and applied
// again. The image (config, a history entry per step, the manifest) is
// written once, at the end, and tagged then: a build that fails tags
// nothing, and its steps that succeeded stay as layers for the cache.
//
// Independent stages run at the same time. Build must run in the stage;
// use package dockerfile to plan without running anything.
package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/boxcli/box/buildctx"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/dockerfile"
	"github.com/boxcli/box/image"
)

// Runner runs a RUN step's command in a root file system, in the same
// sandbox as box run (namespaces, default capabilities and seccomp
// filter, /proc, /dev, /etc/hosts ...). The stage implements it.
type Runner interface {
	Run(ctx context.Context, p Process) (exitCode int, err error)
}

// Process is a RUN step's command.
type Process struct {
	Root string // the work layer, mounted
	Args []string
	Env  []string
	User string
	Dir  string
	// Network is "" (box's default: slirp4netns), "none" or "host".
	Network string
	// Mounts are RUN --mount's, sources on this side.
	Mounts         []container.Mount
	Stdout, Stderr io.Writer
}

// Options say what to build and with what.
type Options struct {
	Plan *dockerfile.Plan
	// Dockerfile names the file in messages ("Dockerfile", "-").
	Dockerfile string
	// Context is the build context; nil when there is none (a Dockerfile
	// on stdin): COPY and ADD of local files then fail.
	Context *buildctx.Tree
	Store   *image.Store
	// Bases are the images the plan named, as the stage resolved them.
	Bases  map[string]*image.Base
	Runner Runner
	Out    *Progress
	Tags   []string
	Format string // image.FormatOCI or image.FormatDocker
	// Epoch, if set, is every created time, and the latest file time, in
	// what the build makes (SOURCE_DATE_EPOCH, --timestamp).
	Epoch *time.Time
	// Network is --network for RUN: "" (slirp4netns), "none" or "host".
	Network string
	// Secrets are --secret's contents by id.
	Secrets map[string][]byte
	// Token names this build's work layers (image.WorkNamePrefix).
	Token string
	// TmpDir holds the build's scratch files (secrets, scripts); it is
	// the caller's to remove.
	TmpDir string
	// CacheMounts is where RUN --mount=type=cache directories live.
	CacheMounts string
	// Cache finds and records step results; nil builds every step.
	Cache Cache
	// NoCache builds every step, and records what they made.
	NoCache bool
	// Squash makes the new layers one.
	Squash bool
}

// Cache maps a step's key to the layer it made.
type Cache interface {
	Get(key digest.Digest) (layerID string, ok bool)
	Put(key digest.Digest, layerID string) error
}

// ErrStepFailed: a RUN's command failed (StepError says which and how).
var ErrStepFailed = errors.New("build step failed")

// ErrNoContext: COPY or ADD of local files with no build context.
var ErrNoContext = errors.New("no build context")

// StepError is a step that failed.
type StepError struct {
	File        string
	Line        int
	Stage       string
	Instruction string
	Code        int // the command's exit status (RUN)
	Err         error
}

func (e *StepError) Error() string {
	where := e.Instruction
	if e.Line > 0 {
		where = fmt.Sprintf("%s (%s:%d)", e.Instruction, e.File, e.Line)
	}
	if e.Stage != "" {
		where = "[" + e.Stage + "] " + where
	}
	if e.Err != nil {
		return where + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s: the command failed with exit code %d", where, e.Code)
}

// Is makes every step that fails a failed build (Docker's exit status 1),
// whatever its cause, which Unwrap gives.
func (e *StepError) Is(target error) bool { return target == ErrStepFailed }

func (e *StepError) Unwrap() error { return e.Err }

// result is a built stage: its top layer, the manifest descriptors of
// its layers, and its image config with the history as executed.
type result struct {
	top     string
	layers  []ocispec.Descriptor
	ids     []string // the layers' IDs, parallel to layers
	img     dockerfile.Image
	created time.Time // of its newest layer, or its base
	// base is how many of the layers its first image (or scratch) had:
	// the others are the build's (--squash squashes those).
	base int
}

// future is a stage's result, once it is done.
type future struct {
	done chan struct{}
	res  *result
	err  error
}

type builder struct {
	o       Options
	futures map[*dockerfile.Stage]*future
}

// Build runs the plan and writes the target's image, returning its ID.
func Build(ctx context.Context, o Options) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &builder{o: o, futures: map[*dockerfile.Stage]*future{}}
	for _, st := range o.Plan.Stages {
		b.futures[st] = &future{done: make(chan struct{})}
	}
	for _, st := range o.Plan.Stages {
		f := b.futures[st]
		go func() {
			defer close(f.done)
			f.res, f.err = b.stage(ctx, st)
			if f.err != nil {
				cancel() // the other stages stop at their next step
			}
		}()
	}
	// The first error in the order of the Dockerfile, not of the clock:
	// a stage cancelled by another's failure reports the cancellation.
	var first error
	for _, st := range o.Plan.Stages {
		f := b.futures[st]
		<-f.done
		if f.err != nil && (first == nil || errors.Is(first, context.Canceled) && !errors.Is(f.err, context.Canceled)) {
			first = f.err
		}
	}
	if first != nil {
		if ctx.Err() != nil && errors.Is(first, context.Canceled) && ctxErr(ctx) != nil {
			return "", ctxErr(ctx)
		}
		return "", first
	}
	return b.write(b.futures[o.Plan.Target].res)
}

// ctxErr is why the build's context ended, if the caller ended it.
func ctxErr(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return ctx.Err()
}

// wait is the result of stage st, once built.
func (b *builder) wait(ctx context.Context, st *dockerfile.Stage) (*result, error) {
	f := b.futures[st]
	select {
	case <-f.done:
		if f.err != nil {
			return nil, fmt.Errorf("stage %s failed: %w", st.DisplayName(), context.Canceled)
		}
		return f.res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stage builds one stage.
func (b *builder) stage(ctx context.Context, st *dockerfile.Stage) (*result, error) {
	for _, dep := range st.Deps {
		if _, err := b.wait(ctx, dep); err != nil {
			return nil, err
		}
	}
	r, err := b.base(ctx, st)
	if err != nil {
		return nil, err
	}
	total := len(st.Steps) + 1
	b.o.Out.step(st, 1, total, fromText(st))
	for i, step := range st.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b.o.Out.step(st, i+2, total, step.Instruction)
		start := time.Now()
		var layer *image.Layer
		cached := false
		if step.Kind != dockerfile.Config {
			layer, cached, err = b.layerStep(ctx, st, r, step)
			if err != nil {
				b.o.Out.stepFailed(st)
				var se *StepError
				if !errors.As(err, &se) {
					err = &StepError{File: b.o.Dockerfile, Line: step.Line, Stage: b.stageName(st), Instruction: step.Instruction, Err: err}
				}
				return nil, err
			}
		}
		if step.History != nil {
			h := *step.History
			if layer != nil {
				r.top = layer.ID
				r.layers = append(r.layers, image.UncompressedLayer(layer))
				r.ids = append(r.ids, layer.ID)
				r.img.RootFS.DiffIDs = append(r.img.RootFS.DiffIDs, layer.DiffID)
				if layer.Created.After(r.created) {
					r.created = layer.Created
				}
			} else {
				// Nothing changed on disk: no layer.
				h.EmptyLayer = true
			}
			created := r.created
			if b.o.Epoch != nil {
				created = *b.o.Epoch
			}
			if !created.IsZero() {
				c := created.UTC()
				h.Created = &c
			}
			r.img.History = append(r.img.History, h)
		}
		b.o.Out.done(st, cached, time.Since(start))
	}
	// The config is the plan's; history and layers are what ran.
	img := st.Image
	img.History = r.img.History
	img.RootFS = r.img.RootFS
	img.RootFS.Type = "layers"
	img.Created = nil
	if b.o.Epoch != nil {
		e := b.o.Epoch.UTC()
		img.Created = &e
	} else if !r.created.IsZero() {
		c := r.created.UTC()
		img.Created = &c
	}
	r.img = img
	return r, nil
}

// fromText is the FROM line progress shows.
func fromText(st *dockerfile.Stage) string {
	s := "FROM " + st.BaseName
	if st.Name != "" {
		s += " AS " + st.Name
	}
	return s
}

func (b *builder) stageName(st *dockerfile.Stage) string {
	if len(b.o.Plan.Stages) == 1 {
		return ""
	}
	return st.DisplayName()
}

// base is where a stage starts: an earlier stage's result, an image, or
// nothing.
func (b *builder) base(ctx context.Context, st *dockerfile.Stage) (*result, error) {
	switch {
	case st.Base != nil:
		br, err := b.wait(ctx, st.Base)
		if err != nil {
			return nil, err
		}
		r := *br
		r.layers = slices.Clone(br.layers)
		r.ids = slices.Clone(br.ids)
		r.img.History = slices.Clone(br.img.History)
		r.img.RootFS.DiffIDs = slices.Clone(br.img.RootFS.DiffIDs)
		return &r, nil
	case st.BaseImage != nil:
		base := b.o.Bases[st.BaseName]
		if base == nil {
			return nil, fmt.Errorf("base image %s was not resolved (programming error)", st.BaseName)
		}
		var img dockerfile.Image
		if err := json.Unmarshal(base.Config, &img); err != nil {
			return nil, fmt.Errorf("read the config of %s: %w", st.BaseName, err)
		}
		ids, err := b.o.Store.LayerChain(base.TopLayer)
		if err != nil {
			return nil, err
		}
		r := &result{top: base.TopLayer, layers: slices.Clone(base.Layers), ids: ids, img: img, base: len(ids)}
		if img.Created != nil {
			r.created = *img.Created
		}
		return r, nil
	}
	return &result{img: dockerfile.Image{}}, nil
}

// layerStep runs a step that writes files, on a new layer over r.top,
// or takes its layer from the cache. It returns nil for a step that
// changed nothing.
func (b *builder) layerStep(ctx context.Context, st *dockerfile.Stage, r *result, step *dockerfile.Step) (_ *image.Layer, cached bool, err error) {
	src, err := b.source(ctx, step)
	if err != nil {
		return nil, false, err
	}
	defer src.release()
	key, err := b.key(ctx, r, step, src)
	if err != nil {
		return nil, false, err
	}
	if l, ok := b.cached(key); ok {
		return l, true, nil
	}
	w, err := b.o.Store.NewWorkLayer(r.top, b.o.Token)
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if err != nil {
			_ = w.Discard()
		}
	}()
	var kept []image.KeptDir
	switch step.Kind {
	case dockerfile.Run:
		kept, err = b.run(ctx, st, step, w.Root)
	case dockerfile.Copy:
		err = copyInto(ctx, w.Root, copySpec{
			step: step.Copy, tree: src.tree, keepOwners: src.keepOwners,
			singleID: b.o.Store.SingleID(), tmpDir: b.o.TmpDir, epoch: b.o.Epoch,
		})
	case dockerfile.Workdir:
		err = makeWorkdir(w.Root, step.Workdir, b.o.Store.SingleID())
	}
	if err != nil {
		return nil, false, err
	}
	layer, err := w.Commit(image.CommitLayerOptions{Epoch: b.o.Epoch, Kept: kept})
	if err != nil {
		return nil, false, err
	}
	if key != "" && b.o.Cache != nil {
		id := emptyLayerID
		if layer != nil {
			id = layer.ID
		}
		if err := b.o.Cache.Put(key, id); err != nil {
			return nil, false, err
		}
	}
	return layer, false, nil
}

// emptyLayerID is what the cache records for a step that changed nothing.
const emptyLayerID = "-"

// cached is the layer the cache has for key.
func (b *builder) cached(key digest.Digest) (*image.Layer, bool) {
	if key == "" || b.o.Cache == nil || b.o.NoCache {
		return nil, false
	}
	id, ok := b.o.Cache.Get(key)
	if !ok {
		return nil, false
	}
	if id == emptyLayerID {
		return nil, true
	}
	l, err := b.o.Store.Layer(id)
	if err != nil {
		return nil, false // pruned since: build it again
	}
	return l, true
}

// makeWorkdir makes WORKDIR's directory, owned by the stage's USER.
func makeWorkdir(root string, w *dockerfile.WorkdirStep, singleID bool) error {
	d, err := openDest(root)
	if err != nil {
		return err
	}
	defer d.close()
	owner := ids{}
	if w.User != "" && !singleID {
		o, err := chownOwner(d, w.User)
		if err != nil {
			return fmt.Errorf("USER %s: %w", w.User, err)
		}
		owner = *o
	}
	p, err := d.resolve(w.Path)
	if err != nil {
		return err
	}
	h, err := d.mkdirAll(p, owner)
	if err != nil {
		return err
	}
	return h.Close()
}

// write stores the target's image and tags it.
func (b *builder) write(r *result) (string, error) {
	if b.o.Squash {
		var err error
		if r, err = b.squash(r); err != nil {
			return "", err
		}
	}
	cfg, err := json.Marshal(r.img)
	if err != nil {
		return "", err
	}
	created := time.Now().UTC()
	if r.img.Created != nil {
		created = *r.img.Created
	}
	return b.o.Store.WriteImage(image.NewImage{
		Config: cfg, TopLayer: r.top, Layers: r.layers, Format: b.o.Format, Names: b.o.Tags, Created: created,
	})
}

// squash makes the layers the build added one (--squash): the history
// keeps every step, and all but the last that made a layer say they made
// none.
func (b *builder) squash(r *result) (*result, error) {
	if len(r.ids)-r.base <= 1 {
		return r, nil
	}
	from := ""
	if r.base > 0 {
		from = r.ids[r.base-1]
	}
	l, err := b.o.Store.Squash(from, r.top, b.o.Epoch)
	if err != nil {
		return nil, err
	}
	out := *r
	out.top = l.ID
	out.ids = append(slices.Clone(r.ids[:r.base]), l.ID)
	out.layers = append(slices.Clone(r.layers[:r.base]), image.UncompressedLayer(l))
	out.img.RootFS.DiffIDs = append(slices.Clone(r.img.RootFS.DiffIDs[:r.base]), l.DiffID)
	out.img.History = slices.Clone(r.img.History)
	// The base's entries come first; of the build's, the last with a
	// layer keeps it.
	baseEntries, layersSeen := 0, 0
	for i, h := range out.img.History {
		if layersSeen == r.base {
			baseEntries = i
			break
		}
		if !h.EmptyLayer {
			layersSeen++
		}
		baseEntries = i + 1
	}
	last := -1
	for i := baseEntries; i < len(out.img.History); i++ {
		if !out.img.History[i].EmptyLayer {
			last = i
			out.img.History[i].EmptyLayer = true
		}
	}
	if last >= 0 {
		out.img.History[last].EmptyLayer = false
	}
	return &out, nil
}
