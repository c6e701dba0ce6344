package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"github.com/boxcli/box/atomicfile"
	"github.com/boxcli/box/dockerfile"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type buildCmd struct {
	registryFlags
	Tag       []string   `short:"t" sep:"none" help:"Name[:tag] for the image; may be given several times."`
	File      string     `short:"f" help:"The Dockerfile (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile; - reads it from stdin)."`
	BuildArg  []string   `name:"build-arg" sep:"none" help:"A build arg, KEY=VALUE, or KEY to take its value from the environment."`
	Target    string     `help:"The stage to build (default: the last)."`
	NoCache   bool       `name:"no-cache" help:"Run every step; take nothing from the cache."`
	Pull      pullPolicy `help:"Pull base images: missing (the default), always (also plain --pull), never or newer."`
	Platform  string     `help:"The platform to build for; only this machine's (os/arch)."`
	Quiet     bool       `short:"q" help:"Print only the image ID."`
	IIDFile   string     `name:"iidfile" type:"path" help:"Write the image ID to this file."`
	Label     []string   `sep:"none" help:"Set a label on the image: KEY=VALUE."`
	Network   string     `help:"Network for RUN steps: default (slirp4netns), none or host."`
	Secret    []string   `sep:"none" help:"A secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR."`
	Progress  string     `default:"auto" enum:"auto,plain,tty" help:"Progress output: auto, plain or tty."`
	Format    string     `default:"oci" enum:"oci,docker" help:"Image format: oci or docker (the config keeps HEALTHCHECK, SHELL and ONBUILD either way)."`
	Squash    bool       `help:"Squash the build's new layers into one."`
	Timestamp *int64     `help:"Set every created time and every newer file time to this Unix time (SOURCE_DATE_EPOCH does too), for reproducible images."`
	Context   string     `arg:"" help:"The build context: a directory, a tar archive (compressed or not), or - (a Dockerfile or a tar archive on stdin)."`
}

// pullPolicy is --pull: Docker's boolean (--pull means always) and
// podman's policies.
type pullPolicy string

func (p *pullPolicy) Decode(ctx *kong.DecodeContext) error {
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		*p = image.PullAlways // --pull alone
		return nil
	}
	t, err := ctx.Scan.PopValue("pull policy")
	if err != nil {
		return err
	}
	switch v := strings.ToLower(fmt.Sprint(t.Value)); v {
	case "true":
		*p = image.PullAlways
	case "false":
		*p = image.PullMissing
	case image.PullMissing, image.PullAlways, image.PullNever, image.PullNewer:
		*p = pullPolicy(v)
	default:
		return fmt.Errorf("--pull=%s: want missing, always, never or newer", v)
	}
	return nil
}

func (*pullPolicy) IsBool() bool { return true }

// Run builds the image: the CLI reads what it can check here (the
// context, the Dockerfile, the flags), so that bad input fails before any
// namespace exists; a stage does the rest.
func (c *buildCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	r, stdin, err := c.request(e)
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpBuild)
	req.Build = r
	r.Registry = c.options(h, "")
	m, err := e.maps(h, userns.Auto)
	if err != nil {
		return err
	}
	// Ctrl-C reaches the stage as well (the terminal signals the whole
	// group): it stops the build and cleans up. This process must outlive
	// it, or the stage dies with it (its parent-death signal).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	s, err := stage.Start(req, stage.Options{Maps: m, Stdin: stdin, Stdout: e.stdout, Stderr: e.stderr})
	if err != nil {
		return err
	}
	done := relaySignals(sigs, nil, func(sig os.Signal) { _ = s.Signal(sig) })
	raw, err := s.Wait(e.warn)
	close(done)
	if err != nil {
		return err
	}
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		return fmt.Errorf("read the image ID: %w", err)
	}
	if c.IIDFile != "" {
		if err := atomicfile.WriteFile(c.IIDFile, []byte("sha256:"+id), 0o644); err != nil {
			return fmt.Errorf("write --iidfile: %w", err)
		}
	}
	fmt.Fprintf(e.stdout, "sha256:%s\n", id)
	return nil
}

// request turns the flags into the stage's request, and says what the
// stage's stdin is (a context archive on stdin).
func (c *buildCmd) request(e *env) (*stage.BuildRequest, io.Reader, error) {
	r := &stage.BuildRequest{
		Tags: c.Tag, Target: c.Target, NoCache: c.NoCache, Pull: string(c.Pull),
		Quiet: c.Quiet, Squash: c.Squash, Format: c.Format,
	}
	switch c.Progress {
	case "tty":
		r.ProgressTTY = true
	case "auto":
		if f, ok := e.stderr.(*os.File); ok {
			r.ProgressTTY = term.IsTerminal(int(f.Fd()))
		}
	}
	for _, t := range c.Tag {
		if err := image.CheckName(t); err != nil {
			return nil, nil, fmt.Errorf("--tag %s: %w", t, err)
		}
	}
	if c.Platform != "" {
		if want := runtime.GOOS + "/" + runtime.GOARCH; strings.TrimSuffix(c.Platform, "/v8") != want {
			return nil, nil, fmt.Errorf("--platform %s: box builds only for this machine's platform, %s (RUN steps run natively)", c.Platform, want)
		}
	}
	switch c.Network {
	case "", "default", "bridge", "slirp4netns", "private":
	case "none", "host":
		r.Network = c.Network
	default:
		return nil, nil, fmt.Errorf("--network %s: want default, none or host", c.Network)
	}
	var err error
	if r.BuildArgs, err = buildArgs(c.BuildArg); err != nil {
		return nil, nil, err
	}
	if r.Labels, err = keyValues("--label", c.Label); err != nil {
		return nil, nil, err
	}
	if r.Secrets, err = secrets(c.Secret); err != nil {
		return nil, nil, err
	}
	if c.Timestamp != nil {
		r.Epoch = c.Timestamp
	} else if v := osEnv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("SOURCE_DATE_EPOCH=%s: want a Unix time in seconds", v)
		}
		r.Epoch = &n
	}
	if r.Epoch != nil {
		if _, ok := r.BuildArgs["SOURCE_DATE_EPOCH"]; !ok {
			if r.BuildArgs == nil {
				r.BuildArgs = map[string]string{}
			}
			r.BuildArgs["SOURCE_DATE_EPOCH"] = strconv.FormatInt(*r.Epoch, 10)
		}
	}
	stdin, err := c.context(e, r)
	if err != nil {
		return nil, nil, err
	}
	if r.Dockerfile != nil {
		// Bad Dockerfiles fail here, before any namespace exists.
		if _, err := dockerfile.Parse(r.Dockerfile); err != nil {
			return nil, nil, stage.DockerfileError(r.DockerfileName, err)
		}
	}
	return r, stdin, nil
}

// context finds the build context and the Dockerfile.
func (c *buildCmd) context(e *env, r *stage.BuildRequest) (io.Reader, error) {
	if strings.Contains(c.Context, "://") || strings.HasPrefix(c.Context, "git@") {
		return nil, fmt.Errorf("build context %s: box builds from a directory, a tar archive or stdin; clone or download it first", c.Context)
	}
	if c.Context == "-" {
		if c.File == "-" {
			return nil, errors.New("-f - and the context - both want stdin: give the context as a directory or an archive")
		}
		in := bufio.NewReaderSize(e.stdin, 64<<10)
		head, _ := in.Peek(512)
		if isArchive(head) {
			r.ContextArchive = "-"
			r.DockerfilePath = c.File
			r.DockerfileName = c.File
			if c.File == "" {
				r.DockerfileName = "Dockerfile"
			}
			return in, nil
		}
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, fmt.Errorf("read the Dockerfile from stdin: %w", err)
		}
		r.Dockerfile, r.DockerfileName = data, "<stdin>"
		return nil, nil
	}
	abs, err := filepath.Abs(c.Context)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", c.Context, pathError(err))
	}
	if !fi.IsDir() {
		// An archive: the Dockerfile is in it, unless -f says otherwise.
		r.ContextArchive = abs
		switch {
		case c.File == "-":
			data, err := io.ReadAll(e.stdin)
			if err != nil {
				return nil, err
			}
			r.Dockerfile, r.DockerfileName = data, "<stdin>"
		case c.File != "":
			r.DockerfilePath, r.DockerfileName = c.File, c.File
		default:
			r.DockerfileName = "Dockerfile"
		}
		return nil, nil
	}
	r.ContextDir = abs
	var path string
	switch c.File {
	case "-":
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("read the Dockerfile from stdin: %w", err)
		}
		r.Dockerfile, r.DockerfileName = data, "<stdin>"
		return nil, nil
	case "":
		path = filepath.Join(abs, "Dockerfile")
		r.DockerfileName = filepath.Join(c.Context, "Dockerfile")
		if _, err := os.Stat(path); err != nil {
			if _, err2 := os.Stat(filepath.Join(abs, "Containerfile")); err2 == nil {
				path = filepath.Join(abs, "Containerfile")
				r.DockerfileName = filepath.Join(c.Context, "Containerfile")
			}
		}
	default:
		if path, err = filepath.Abs(c.File); err != nil {
			return nil, err
		}
		r.DockerfileName = c.File
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v; give one with -f", stage.ErrNoDockerfile, r.DockerfileName, pathError(err))
	}
	r.Dockerfile, r.DockerfilePath = data, path
	return nil, nil
}

// isArchive says whether head begins a tar archive, compressed (gzip,
// bzip2, xz, zstd) or not.
func isArchive(head []byte) bool {
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0x00}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(head, magic) {
			return true
		}
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// buildArgs reads --build-arg KEY=VALUE and KEY (from the environment,
// left out when unset, as Docker does).
func buildArgs(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range list {
		k, v, ok := strings.Cut(a, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("--build-arg %q: want KEY=VALUE or KEY", a)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

// keyValues reads KEY=VALUE flags.
func keyValues(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, a := range list {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, a)
		}
		out[k] = v
	}
	return out, nil
}

// secrets reads --secret id=ID,src=PATH|env=VAR (type=file|env also
// accepted); id=ID alone takes the variable ID, else the file ID.
func secrets(list []string) ([]stage.BuildSecret, error) {
	var out []stage.BuildSecret
	for _, s := range list {
		var sec stage.BuildSecret
		typ := ""
		for _, f := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("--secret %q: want id=ID,src=PATH or id=ID,env=VAR", s)
			}
			switch strings.ToLower(k) {
			case "id":
				sec.ID = v
			case "src", "source":
				sec.Src = v
			case "env":
				sec.Env = v
			case "type":
				if v != "file" && v != "env" {
					return nil, fmt.Errorf("--secret %q: type is file or env", s)
				}
				typ = v
			default:
				return nil, fmt.Errorf("--secret %q: unknown key %q (want id, src, env, type)", s, k)
			}
		}
		if sec.ID == "" {
			sec.ID = filepath.Base(sec.Src)
			if sec.Src == "" {
				return nil, fmt.Errorf("--secret %q: it needs an id", s)
			}
		}
		if sec.Src == "" && sec.Env == "" {
			if _, ok := os.LookupEnv(sec.ID); ok && typ != "file" {
				sec.Env = sec.ID
			} else {
				sec.Src = sec.ID
			}
		}
		if typ == "env" && sec.Env == "" {
			sec.Env, sec.Src = sec.Src, ""
		}
		if sec.Src != "" {
			abs, err := filepath.Abs(sec.Src)
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, fmt.Errorf("--secret id=%s: %s: %w", sec.ID, sec.Src, pathError(err))
			}
			sec.Src = abs
		} else if _, ok := os.LookupEnv(sec.Env); !ok {
			return nil, fmt.Errorf("--secret id=%s: the environment has no %s", sec.ID, sec.Env)
		}
		out = append(out, sec)
	}
	return out, nil
}

// builderCmd is Docker's name for the build cache's commands.
type builderCmd struct {
	Prune builderPruneCmd `cmd:"" help:"Remove the build cache: layers no image uses, and RUN cache mounts.\n\nExample: box builder prune -f"`
}

type builderPruneCmd struct {
	All   bool `short:"a" help:"Remove all of the build cache (the default: box keeps no other kind)."`
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

func (c *builderPruneCmd) Run(e *env) error {
	if err := confirm(e, c.Force, "this removes the build cache: later builds run every step again"); err != nil {
		return err
	}
	h, err := lookupHost()
	if err != nil {
		return err
	}
	var res stage.BuildCachePruned
	if err := e.do(e.request(h, stage.OpPruneBuildCache), userns.Auto, h, &res); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Deleted build cache: %d layers\nTotal reclaimed space: %s\n", res.Layers, size(res.Bytes))
	return nil
}
