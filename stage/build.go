package stage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/boxcli/box/build"
	"github.com/boxcli/box/buildctx"
	"github.com/boxcli/box/dockerfile"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/network"
	"github.com/boxcli/box/registry"
	"github.com/boxcli/box/sandbox"
)

// BuildRequest is box build's.
type BuildRequest struct {
	// Dockerfile is its content, when the CLI read it; else the stage
	// reads DockerfilePath inside the unpacked context archive.
	Dockerfile []byte `json:"dockerfile,omitempty"`
	// DockerfilePath is where it is on disk ("" for stdin); its own
	// .dockerignore sits beside it. DockerfileName names it in messages.
	DockerfilePath string `json:"dockerfilePath,omitempty"`
	DockerfileName string `json:"dockerfileName"`
	// ContextDir is the context directory; ContextArchive a tar archive
	// to unpack as the context ("-": on stdin). Neither: no context.
	ContextDir     string `json:"contextDir,omitempty"`
	ContextArchive string `json:"contextArchive,omitempty"`

	Tags      []string          `json:"tags,omitempty"`
	BuildArgs map[string]string `json:"buildArgs,omitempty"`
	Target    string            `json:"target,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	NoCache   bool              `json:"noCache,omitempty"`
	// Pull is how base images are fetched: missing, always, never, newer.
	Pull     string           `json:"pull,omitempty"`
	Registry registry.Options `json:"registry"`
	// Network is --network for RUN: "", "none" or "host".
	Network string        `json:"network,omitempty"`
	Secrets []BuildSecret `json:"secrets,omitempty"`
	Format  string        `json:"format,omitempty"`
	Quiet   bool          `json:"quiet,omitempty"`
	// ProgressTTY: the user's stderr is a terminal to draw a live view on.
	ProgressTTY bool `json:"progressTty,omitempty"`
	Squash      bool `json:"squash,omitempty"`
	// Epoch is --timestamp or SOURCE_DATE_EPOCH, in seconds; nil for none.
	Epoch *int64 `json:"epoch,omitempty"`
}

// BuildSecret is a --secret: its id and where its value is. The stage
// reads it, so the value never crosses the request pipe.
type BuildSecret struct {
	ID  string `json:"id"`
	Src string `json:"src,omitempty"`
	Env string `json:"env,omitempty"`
}

// ErrBadDockerfile: the Dockerfile cannot be built as written (the
// message names the file and line).
var ErrBadDockerfile = errors.New("invalid Dockerfile")

// build runs box build: it plans the Dockerfile, pulls what it names,
// runs the steps and writes the image.
func (s *stage) build(ctx context.Context, is *image.Store, r *BuildRequest) (string, error) {
	// Ctrl-C reaches the stage with the CLI: the build stops, takes its
	// work layers away and reports the interruption.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	var cleanups []func()
	// The token and the scratch directory come once there is something to
	// build: a Dockerfile refused leaves nothing behind, not even those.
	var token string
	var scratch string
	begin := func() (string, error) {
		if token != "" {
			return token, nil
		}
		t, release, err := s.buildToken()
		if err != nil {
			return "", err
		}
		token = t
		cleanups = append(cleanups, release)
		if err := is.SweepWorkLayers(s.buildAlive); err != nil {
			s.out.warnf("%v", err)
		}
		scratch = filepath.Join(s.req.Dirs.Builds(), token)
		if err := os.MkdirAll(scratch, 0o700); err != nil {
			return "", err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(scratch) })
		return token, nil
	}
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	tree, data, err := s.buildContext(r, begin, &cleanups)
	if err != nil {
		return "", err
	}
	name := r.DockerfileName
	file, err := dockerfile.Parse(data)
	if err != nil {
		return "", DockerfileError(name, err)
	}
	bases := map[string]*image.Base{}
	var mu sync.Mutex
	resolve := func(ref string) (*dockerfile.Image, error) {
		base, err := s.buildBase(ctx, is, ref, r)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		bases[ref] = base
		mu.Unlock()
		var img dockerfile.Image
		if err := json.Unmarshal(base.Config, &img); err != nil {
			return nil, fmt.Errorf("read the config of %s: %w", ref, err)
		}
		return &img, nil
	}
	plan, err := file.Plan(dockerfile.Options{
		BuildArgs: r.BuildArgs, Target: r.Target, Platform: hostPlatform(), Labels: r.Labels,
	}, resolve)
	if err != nil {
		if errors.Is(err, dockerfile.ErrUnknownTarget) {
			return "", err
		}
		return "", DockerfileError(name, err)
	}
	if _, err := begin(); err != nil {
		return "", err
	}
	if len(plan.UnusedArgs) > 0 && !r.Quiet {
		s.out.warnf("build args not used by any ARG: %s", strings.Join(plan.UnusedArgs, ", "))
	}
	for _, w := range file.Warnings() {
		s.out.warnf("%s: %s", name, w)
	}
	secrets, err := readSecrets(r.Secrets)
	if err != nil {
		return "", err
	}
	var epoch *time.Time
	if r.Epoch != nil {
		t := time.Unix(*r.Epoch, 0).UTC()
		epoch = &t
	}
	format := r.Format
	if format == "" {
		format = image.FormatOCI
	}
	cache := build.FileCache{Dir: filepath.Join(s.req.Dirs.BuildCache(), "index")}
	out := build.NewProgress(os.Stderr, r.Quiet, plan)
	if r.ProgressTTY && !r.Quiet {
		width, _, err := term.GetSize(int(os.Stderr.Fd()))
		if err != nil {
			width = 80
		}
		out = build.NewTTYProgress(os.Stderr, width, plan)
	}
	defer out.Close()
	id, err := build.Build(ctx, build.Options{
		Plan: plan, Dockerfile: name, Context: tree, Store: is, Bases: bases,
		Runner: &buildRunner{s: s, dir: scratch}, Out: out,
		Tags: r.Tags, Format: format, Epoch: epoch, Network: r.Network, Secrets: secrets,
		Token: token, TmpDir: scratch, CacheMounts: filepath.Join(s.req.Dirs.BuildCache(), "mounts"),
		Cache: cache, NoCache: r.NoCache, Squash: r.Squash,
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return "", ErrInterrupted
		}
		return "", err
	}
	for _, t := range r.Tags {
		s.event("image", "tag", id, map[string]string{"name": t})
	}
	s.event("image", "build", id, nil)
	return id, nil
}

// ErrInterrupted: the build was stopped by a signal (Ctrl-C).
var ErrInterrupted = errors.New("build interrupted")

// DockerfileError names the file in a Dockerfile's error: FILE:LINE:
// INSTRUCTION: what is wrong.
func DockerfileError(name string, err error) error {
	var e *dockerfile.Error
	if errors.As(err, &e) {
		where := name
		if e.Line > 0 {
			where = fmt.Sprintf("%s:%d", name, e.Line)
		}
		msg := e.Err.Error()
		if e.Instruction != "" && !strings.HasPrefix(strings.ToUpper(msg), e.Instruction) {
			msg = e.Instruction + ": " + msg
		}
		return fmt.Errorf("%s: %s: %w", where, msg, ErrBadDockerfile)
	}
	return err
}

// hostPlatform is what box builds for: the machine it runs on.
func hostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// buildContext opens the build's context, unpacking an archive first
// (which begins the build: see begin), and returns the Dockerfile's
// content.
func (s *stage) buildContext(r *BuildRequest, begin func() (string, error), cleanups *[]func()) (*buildctx.Tree, []byte, error) {
	dir := r.ContextDir
	dfPath := r.DockerfilePath
	if r.ContextArchive != "" {
		token, err := begin()
		if err != nil {
			return nil, nil, err
		}
		// Unpacked on disk, not in the runtime dir's memory: a context
		// may be large.
		dir = filepath.Join(s.req.Dirs.BuildCache(), "contexts", token)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, err
		}
		*cleanups = append(*cleanups, func() { os.RemoveAll(dir) })
		var in io.Reader = os.Stdin
		if r.ContextArchive != "-" {
			f, err := os.Open(r.ContextArchive)
			if err != nil {
				return nil, nil, fmt.Errorf("build context: %w", err)
			}
			defer f.Close()
			in = f
		}
		if err := buildctx.Unpack(in, dir); err != nil {
			return nil, nil, err
		}
		if r.Dockerfile == nil {
			// The Dockerfile is in the archive.
			dfPath = filepath.Join(dir, filepath.Clean("/"+r.DockerfilePath))
			if r.DockerfilePath == "" {
				dfPath = filepath.Join(dir, "Dockerfile")
				if _, err := os.Stat(dfPath); err != nil {
					dfPath = filepath.Join(dir, "Containerfile")
				}
			}
		}
	}
	data := r.Dockerfile
	if data == nil {
		var err error
		if data, err = os.ReadFile(dfPath); err != nil {
			return nil, nil, fmt.Errorf("%w: the context has no %s", ErrNoDockerfile, r.DockerfileName)
		}
	}
	if dir == "" {
		return nil, data, nil
	}
	tree, err := buildctx.Open(dir, dfPath)
	return tree, data, err
}

// ErrNoDockerfile: no Dockerfile where the build looked.
var ErrNoDockerfile = errors.New("no Dockerfile")

// buildBase finds an image the Dockerfile names, pulling it as --pull says.
func (s *stage) buildBase(ctx context.Context, is *image.Store, ref string, r *BuildRequest) (*image.Base, error) {
	pr := &PullRequest{Ref: ref, Policy: r.Pull, Quiet: r.Quiet, Registry: r.Registry}
	if r.Pull == "" {
		pr.Policy = image.PullMissing
	}
	if _, err := s.imageForRun(ctx, is, ref, pr); err != nil {
		return nil, err
	}
	return is.Base(ctx, ref)
}

// readSecrets reads --secret's values, here: they never cross the pipe.
func readSecrets(list []BuildSecret) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, sec := range list {
		switch {
		case sec.Env != "":
			v, ok := os.LookupEnv(sec.Env)
			if !ok {
				return nil, fmt.Errorf("--secret id=%s: the environment has no %s", sec.ID, sec.Env)
			}
			out[sec.ID] = []byte(v)
		default:
			b, err := os.ReadFile(sec.Src)
			if err != nil {
				return nil, fmt.Errorf("--secret id=%s: %w", sec.ID, err)
			}
			out[sec.ID] = b
		}
	}
	return out, nil
}

// buildToken names this build and holds its lock: the work layers it
// makes carry the token, and a build whose lock is free is gone.
func (s *stage) buildToken() (string, func(), error) {
	dir := s.req.Dirs.Builds()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token := hex.EncodeToString(b)
	f, err := os.OpenFile(filepath.Join(dir, token+".lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return "", nil, err
	}
	return token, func() {
		os.Remove(f.Name())
		f.Close()
	}, nil
}

// buildAlive says whether the build token names still runs: its lock is
// held. A build killed outright leaves its lock file, free.
func (s *stage) buildAlive(token string) bool {
	p := filepath.Join(s.req.Dirs.Builds(), token+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return true
	}
	os.Remove(p)
	os.RemoveAll(filepath.Join(s.req.Dirs.Builds(), token))
	os.RemoveAll(filepath.Join(s.req.Dirs.BuildCache(), "contexts", token))
	return false
}

// buildRunner runs RUN steps as box run runs a container.
type buildRunner struct {
	s   *stage
	dir string
	// noSlirp is set once slirp4netns turned out to be missing.
	mu      sync.Mutex
	noSlirp bool
}

func (br *buildRunner) Run(ctx context.Context, p build.Process) (int, error) {
	mode := network.Mode{Kind: network.Slirp, PortHandler: network.RootlessKit}
	switch p.Network {
	case "none":
		mode = network.Mode{Kind: network.None}
	case "host":
		mode = network.Mode{Kind: network.Host}
	}
	br.mu.Lock()
	if mode.Kind == network.Slirp && br.noSlirp {
		mode = network.Mode{Kind: network.None}
	}
	br.mu.Unlock()
	if mode.Kind == network.Slirp {
		if _, err := exec.LookPath("slirp4netns"); err != nil {
			br.mu.Lock()
			if !br.noSlirp {
				br.s.out.warnf("%v: RUN steps get no network (install slirp4netns, or pass --network none to silence this)", netslirp.ErrNotInstalled)
			}
			br.noSlirp = true
			br.mu.Unlock()
			mode = network.Mode{Kind: network.None}
		}
	}
	runDir, err := os.MkdirTemp(br.dir, "run-")
	if err != nil {
		return 0, err
	}
	defer removeRunDir(runDir)
	e := network.Etc{Hostname: "box-build", Mode: mode}
	if mode.Kind == network.Slirp {
		e.Guest, e.Gateway, e.DNS = netslirp.GuestAddr, netslirp.GatewayAddr, netslirp.DNSAddr
	}
	etc, err := writeEtc(runDir, e, false)
	if err != nil {
		return 0, err
	}
	// Docker's builds do not set no_new_privs: a RUN may use sudo or su.
	nnp := false
	sb := sandbox.Config{
		Rootfs: p.Root, Args: p.Args, Env: p.Env, Cwd: p.Dir, User: p.User,
		Hostname: "box-build", NewNet: mode.OwnNamespace(),
		Mounts: append(etc, p.Mounts...),
	}
	sb.Security.NoNewPrivileges = &nnp
	var net *netStack
	defer func() { net.close() }()
	proc, err := sandbox.Start(sb, sandbox.Stdio{Stdout: p.Stdout, Stderr: p.Stderr}, func(pid int) error {
		n, err := startNetwork(pid, runDir, mode, "", nil)
		net = n
		return err
	})
	if err != nil {
		return 0, err
	}
	done := make(chan int, 1)
	go func() { done <- proc.Wait() }()
	select {
	case code := <-done:
		return code, nil
	case <-ctx.Done():
		// The init is PID 1 of the step's pid namespace: its end ends
		// every process of the step.
		_ = proc.Signal(syscall.SIGKILL)
		<-done
		return 0, ctx.Err()
	}
}

// BuildCachePruned is what pruning the build cache removed.
type BuildCachePruned struct {
	Layers int   `json:"layers"`
	Bytes  int64 `json:"bytes"`
}

// pruneBuildCache removes what builds left: the layers no image or
// container uses, the step index, the RUN cache mounts. What a build
// still running made or uses stays.
func (s *stage) pruneBuildCache(is *image.Store) (*BuildCachePruned, error) {
	since, live := s.liveBuilds()
	n, freed, err := is.PruneCache(since)
	res := &BuildCachePruned{Layers: n, Bytes: freed}
	if live {
		return res, err
	}
	cache := s.req.Dirs.BuildCache()
	res.Bytes += dirSize(filepath.Join(cache, "mounts"))
	for _, sub := range []string{"index", "mounts"} {
		if rerr := os.RemoveAll(filepath.Join(cache, sub)); rerr != nil && err == nil {
			err = fmt.Errorf("remove the build cache: %w", rerr)
		}
	}
	return res, err
}

// liveBuilds says whether builds are running, and since when the oldest
// one has: what they made since must stay.
func (s *stage) liveBuilds() (time.Time, bool) {
	locks, _ := filepath.Glob(filepath.Join(s.req.Dirs.Builds(), "*.lock"))
	var since time.Time
	live := false
	for _, p := range locks {
		token := strings.TrimSuffix(filepath.Base(p), ".lock")
		fi, err := os.Stat(p)
		if err != nil || !s.buildAlive(token) {
			continue
		}
		live = true
		if since.IsZero() || fi.ModTime().Before(since) {
			since = fi.ModTime()
		}
	}
	return since, live
}

// buildCacheUsage is what the build cache takes: its layers, and the RUN
// cache mounts.
func (s *stage) buildCacheUsage(is *image.Store) (int, int64, error) {
	layers, err := is.CacheLayers()
	if err != nil {
		return 0, 0, err
	}
	var total int64
	for _, n := range layers {
		total += n
	}
	return len(layers), total + dirSize(filepath.Join(s.req.Dirs.BuildCache(), "mounts")), nil
}
