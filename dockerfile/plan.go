package dockerfile

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is an image's config as Docker writes it: the OCI config with
// HEALTHCHECK, ONBUILD and SHELL, which the OCI form has no fields for.
type Image = dockerspec.DockerOCIImage

// Resolver returns the config of the image ref names, as stored or pulled.
// ref is what the Dockerfile says after expansion (FROM's argument, or a
// COPY --from or RUN --mount from= that names no stage).
type Resolver func(ref string) (*Image, error)

// Options say what to build.
type Options struct {
	// BuildArgs are --build-arg's, values given (the CLI fills a bare
	// NAME from its environment and leaves out one that is not set).
	BuildArgs map[string]string
	// Target is the stage to build ("" for the last one).
	Target string
	// Platform is the host's: box builds for it, and it is the build
	// platform too (TARGETPLATFORM and BUILDPLATFORM).
	Platform ocispec.Platform
	// Labels are --label's, set on the target's image.
	Labels map[string]string
}

// Plan is what a build does: the stages the target needs, in the order
// they appear, each with its steps.
type Plan struct {
	Stages []*Stage
	Target *Stage
	// UnusedArgs are build args no ARG in the built stages declared
	// (Docker warns about them).
	UnusedArgs []string
}

// Stage is one FROM and what follows it, planned.
type Stage struct {
	Index int    // among the Dockerfile's stages, from 0
	Name  string // as written after AS; "" when unnamed
	Line  int    // of its FROM
	// BaseName is FROM's argument, expanded: "scratch", an image, or the
	// name of an earlier stage.
	BaseName string
	// Base is the earlier stage FROM names; BaseImage the config of the
	// image it names (nil for scratch and for a stage).
	Base      *Stage
	BaseImage *Image
	Steps     []*Step
	// Image is the config after the last step. Its history holds the
	// base's entries, then one per step that records one; the Created
	// times of the stage's own entries are the executor's to set.
	Image Image
	// Deps are the stages whose results the steps read (the base, COPY
	// --from, RUN --mount from=); ImageDeps the images they read.
	Deps      []*Stage
	ImageDeps []string

	// dispatch state
	env         envList
	buildArgs   []instructions.KeyValuePairOptional
	cmdSet      bool
	commands    []command
	triggersSet bool
	dispatched  bool
	platform    string
}

// DisplayName is how progress names the stage: its name, or stage-N.
func (s *Stage) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return "stage-" + strconv.Itoa(s.Index)
}

// Kind says what a step does to the file system.
type Kind int

const (
	// Config steps change only the image's config (ENV, LABEL, CMD, ...).
	Config Kind = iota
	// Run runs a command in the stage's file system (RUN).
	Run
	// Copy writes files from the context, a stage or an image (COPY, ADD).
	Copy
	// Workdir makes the new working directory (WORKDIR).
	Workdir
)

// Step is one instruction, expanded.
type Step struct {
	Kind Kind
	Line int
	// Instruction is the instruction as written (heredocs summarised),
	// for progress; ONBUILD triggers begin with "ONBUILD ".
	Instruction string
	// History is the entry the step adds to the image's history (nil for
	// ONBUILD, which adds none); Created is left for the executor.
	History *ocispec.History
	// One of these, by Kind.
	Run     *RunStep
	Copy    *CopyStep
	Workdir *WorkdirStep
}

// RunStep is a RUN: what the process gets.
type RunStep struct {
	Args []string // the shell and the command, or the exec form
	// Env is the process's environment: the image's, the ARGs in scope
	// and proxy build args.
	Env  []string
	User string
	Dir  string
	// Mounts are --mount's, expanded, with absolute targets.
	Mounts []*instructions.Mount
	// Network is --network: "default", "none" or "host".
	Network string
	// Files are heredoc scripts with a #! line, which the command runs
	// from /dev/pipes/NAME (read-only, mode 0755), as BuildKit does.
	Files []InlineFile
}

// InlineFile is a heredoc's body: a script RUN executes, or a file COPY
// writes.
type InlineFile struct {
	Name string
	Data string
}

// CopyStep is a COPY or an ADD.
type CopyStep struct {
	Add bool
	// From is --from as written ("" for the build context); FromStage
	// the stage it names, or FromImage the image.
	From      string
	FromStage *Stage
	FromImage string
	// Sources are the source paths (or URLs for ADD), expanded; Contents
	// the heredoc files (COPY <<EOF).
	Sources  []string
	Contents []InlineFile
	// Dest is absolute (relative ones are from the working directory); a
	// trailing slash is kept: it says the destination is a directory.
	Dest       string
	Chown      string
	Chmod      string
	Link       bool
	Parents    bool
	Exclude    []string
	Checksum   string
	Unpack     *bool
	KeepGitDir *bool
	// User is the stage's USER, which ADD's and COPY's new parent
	// directories do not take (they belong to --chown or root).
}

// WorkdirStep makes Path (and its parents) as the stage's USER, if missing.
type WorkdirStep struct {
	Path string
	User string
}

// historyComment marks the history entries box build writes.
const historyComment = "box build"

// defaultPath is the PATH every stage has unless its image sets one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// command is an instruction of a stage, or an ONBUILD trigger run in it.
type command struct {
	instructions.Command
	sources []string // what --from / --mount from= name, as written
	onbuild bool
	line    int
}

// proxyArgs are build args every RUN gets without an ARG (and that no
// history records).
var proxyArgs = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
	"NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

// predefined says whether Docker accepts build arg k without an ARG.
func predefined(k string) bool {
	return slices.Contains(proxyArgs, k) || k == "SOURCE_DATE_EPOCH" || isPlatformArg(k)
}

// planner holds what one Plan call needs.
type planner struct {
	f       *File
	o       Options
	resolve Resolver
	lex     *shell.Lex
	global  envList // meta args, and the predefined platform args
	stages  []*Stage
	byName  map[string]*Stage
	images  map[string]*Image
	used    map[string]bool // build args an ARG declared
}

// Plan expands f for o: which stages the target needs, the base images'
// configs (from resolve), every instruction's words, and the config and
// history each step leaves. Errors name the line.
func (f *File) Plan(o Options, resolve Resolver) (*Plan, error) {
	p := &planner{f: f, o: o, resolve: resolve, lex: f.lex(), byName: map[string]*Stage{}, images: map[string]*Image{}, used: map[string]bool{}}
	if err := p.metaArgs(); err != nil {
		return nil, err
	}
	for i, ist := range f.stages {
		st, err := p.newStage(i, ist)
		if err != nil {
			return nil, err
		}
		p.stages = append(p.stages, st)
		if st.Name != "" {
			p.byName[strings.ToLower(st.Name)] = st
		}
	}
	target, err := p.target()
	if err != nil {
		return nil, err
	}
	// Triggers of base images may read other stages or images: resolve
	// and take them in until nothing new is needed, as BuildKit does.
	var needed []*Stage
	for {
		needed = p.reachable(target)
		grew := false
		for _, st := range needed {
			added, err := p.initBase(st)
			if err != nil {
				return nil, err
			}
			grew = grew || added
		}
		if !grew {
			break
		}
	}
	for _, st := range needed {
		if err := p.dispatchStage(st); err != nil {
			return nil, err
		}
	}
	p.finalize(target)
	plan := &Plan{Stages: needed, Target: target}
	for k := range o.BuildArgs {
		if !p.used[k] && !predefined(k) {
			plan.UnusedArgs = append(plan.UnusedArgs, k)
		}
	}
	slices.Sort(plan.UnusedArgs)
	return plan, nil
}

// metaArgs sets the global scope: the platform args, then the ARGs
// before the first FROM, each overridden by a build arg of its name.
func (p *planner) metaArgs() error {
	pl := p.o.Platform
	platform := pl.OS + "/" + pl.Architecture
	if pl.Variant != "" {
		platform += "/" + pl.Variant
	}
	target := p.o.Target
	if target == "" {
		target = p.f.stages[len(p.f.stages)-1].Name
	}
	if target == "" {
		target = "default"
	}
	for _, kv := range [][2]string{
		{"BUILDPLATFORM", platform}, {"BUILDOS", pl.OS}, {"BUILDOSVERSION", pl.OSVersion},
		{"BUILDARCH", pl.Architecture}, {"BUILDVARIANT", pl.Variant},
		{"TARGETPLATFORM", platform}, {"TARGETOS", pl.OS}, {"TARGETOSVERSION", pl.OSVersion},
		{"TARGETARCH", pl.Architecture}, {"TARGETVARIANT", pl.Variant}, {"TARGETSTAGE", target},
	} {
		v := kv[1]
		if ov, ok := p.o.BuildArgs[kv[0]]; ok {
			v = ov
		}
		p.global = p.global.set(kv[0], v)
	}
	for _, cmd := range p.f.metaArgs {
		for _, kv := range cmd.Args {
			p.used[kv.Key] = true
			if v, ok := p.o.BuildArgs[kv.Key]; ok {
				p.global = p.global.set(kv.Key, v)
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := p.lex.ProcessWord(*kv.Value, p.global)
			if err != nil {
				return &Error{Line: locationLine(cmd.Location()), Instruction: "ARG", Err: err}
			}
			p.global = p.global.set(kv.Key, v)
		}
	}
	return nil
}

func isPlatformArg(k string) bool {
	return strings.HasPrefix(k, "BUILD") || strings.HasPrefix(k, "TARGET")
}

// newStage expands FROM and reads each instruction's sources.
func (p *planner) newStage(i int, ist instructions.Stage) (*Stage, error) {
	line := locationLine(ist.Location)
	fail := func(err error) (*Stage, error) { return nil, &Error{Line: line, Instruction: "FROM", Err: err} }
	base, _, err := p.lex.ProcessWord(ist.BaseName, p.global)
	if err != nil {
		return fail(err)
	}
	if base == "" {
		return fail(fmt.Errorf("base name (%s) should not be blank", ist.BaseName))
	}
	st := &Stage{Index: i, Name: ist.Name, Line: line, BaseName: base}
	if b, ok := p.byName[strings.ToLower(base)]; ok {
		st.Base = b
	}
	if ist.Platform != "" {
		plat, _, err := p.lex.ProcessWord(ist.Platform, p.global)
		if err != nil {
			return fail(err)
		}
		if err := p.checkPlatform(plat); err != nil {
			return fail(err)
		}
		st.platform = plat
	}
	for _, c := range ist.Commands {
		cmd, err := p.command(c, false, locationLine(c.Location()))
		if err != nil {
			return nil, err
		}
		st.commands = append(st.commands, cmd)
	}
	return st, nil
}

// checkPlatform refuses a --platform other than the host's: box runs
// RUN steps natively.
func (p *planner) checkPlatform(plat string) error {
	os, rest, _ := strings.Cut(plat, "/")
	arch, variant, _ := strings.Cut(rest, "/")
	if os == p.o.Platform.OS && (arch == "" || arch == p.o.Platform.Architecture) && (variant == "" || variant == p.o.Platform.Variant) {
		return nil
	}
	return fmt.Errorf("platform %s is not this machine's (%s/%s): box builds only for the platform it runs on", plat, p.o.Platform.OS, p.o.Platform.Architecture)
}

// command notes what an instruction reads from other stages or images.
func (p *planner) command(c instructions.Command, onbuild bool, line int) (command, error) {
	cmd := command{Command: c, onbuild: onbuild, line: line}
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			res, _, err := p.lex.ProcessWord(c.From, shell.EnvsFromSlice(nil))
			if err != nil || res != c.From {
				return cmd, &Error{Line: line, Instruction: "COPY", Err: errors.New("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")}
			}
			cmd.sources = []string{c.From}
		}
	case *instructions.RunCommand:
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				cmd.sources = append(cmd.sources, m.From)
			}
		}
	}
	return cmd, nil
}

// target is the stage --target names, or the last.
func (p *planner) target() (*Stage, error) {
	if p.o.Target == "" {
		return p.stages[len(p.stages)-1], nil
	}
	if st, ok := p.byName[strings.ToLower(p.o.Target)]; ok {
		return st, nil
	}
	var names []string
	for _, st := range p.stages {
		if st.Name != "" {
			names = append(names, st.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w %q: the Dockerfile names no stage (FROM IMAGE AS NAME)", ErrUnknownTarget, p.o.Target)
	}
	return nil, fmt.Errorf("%w %q: the stages are %s", ErrUnknownTarget, p.o.Target, strings.Join(names, ", "))
}

// sourceStage is the stage a --from names: by name, or by index among the
// stages; nil for an image.
func (p *planner) sourceStage(from string) (*Stage, error) {
	if i, err := strconv.Atoi(from); err == nil {
		if i < 0 || i >= len(p.stages) {
			return nil, fmt.Errorf("invalid stage index %d", i)
		}
		return p.stages[i], nil
	}
	return p.byName[strings.ToLower(from)], nil
}

// reachable lists the stages target needs, in file order.
func (p *planner) reachable(target *Stage) []*Stage {
	seen := map[*Stage]bool{}
	var walk func(st *Stage)
	walk = func(st *Stage) {
		if seen[st] {
			return
		}
		seen[st] = true
		if st.Base != nil {
			walk(st.Base)
		}
		for _, c := range st.commands {
			for _, src := range c.sources {
				if s, err := p.sourceStage(src); err == nil && s != nil {
					walk(s)
				}
			}
		}
	}
	walk(target)
	var out []*Stage
	for _, st := range p.stages {
		if seen[st] {
			out = append(out, st)
		}
	}
	return out
}

// image resolves ref once.
func (p *planner) image(ref string, line int) (*Image, error) {
	if img, ok := p.images[ref]; ok {
		return img, nil
	}
	img, err := p.resolve(ref)
	if err != nil {
		return nil, &Error{Line: line, Err: err}
	}
	p.images[ref] = img
	return img, nil
}

// initBase resolves st's base image and takes in its ONBUILD triggers
// (or, for a stage, the ONBUILD instructions of that stage). It says
// whether a trigger reads another stage or image.
func (p *planner) initBase(st *Stage) (bool, error) {
	if st.triggersSet {
		return false, nil
	}
	st.triggersSet = true
	var triggers []string
	switch {
	case st.Base != nil:
		for _, c := range st.Base.commands {
			if ob, ok := c.Command.(*instructions.OnbuildCommand); ok && !c.onbuild {
				triggers = append(triggers, ob.Expression)
			}
		}
	case strings.EqualFold(st.BaseName, "scratch"):
	default:
		img, err := p.image(st.BaseName, st.Line)
		if err != nil {
			return false, err
		}
		st.BaseImage = img
		triggers = img.Config.OnBuild
	}
	grew := false
	var cmds []command
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil {
			return false, &Error{Line: st.Line, Instruction: "ONBUILD", Err: unwrapLocation(err)}
		}
		if len(res.AST.Children) != 1 {
			return false, &Error{Line: st.Line, Instruction: "ONBUILD", Err: errors.New("an ONBUILD trigger must be a single instruction")}
		}
		ic, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return false, &Error{Line: st.Line, Instruction: "ONBUILD", Err: unwrapLocation(err)}
		}
		cmd, err := p.command(ic, true, st.Line)
		if err != nil {
			return false, err
		}
		grew = grew || len(cmd.sources) > 0
		cmds = append(cmds, cmd)
	}
	st.commands = append(cmds, st.commands...)
	return grew, nil
}

// dispatchStage plans st's steps; the stages it reads are planned first
// (they come earlier in the file, or the Dockerfile is refused).
func (p *planner) dispatchStage(st *Stage) error {
	if st.dispatched {
		return nil
	}
	st.dispatched = true
	switch {
	case st.Base != nil:
		b := st.Base
		st.Image = cloneImage(b.Image)
		st.Image.Config.OnBuild = nil // triggers do not carry over from a stage
		st.env = slices.Clone(b.env)
		st.buildArgs = slices.Clone(b.buildArgs)
		st.Deps = append(st.Deps, b)
	case st.BaseImage != nil:
		st.Image = cloneImage(*st.BaseImage)
		st.Image.Created = nil
		st.Image.Config.OnBuild = nil
		st.env = envList(slices.Clone(st.Image.Config.Env))
	default:
		st.Image = emptyImage(p.o.Platform)
		st.env = envList(slices.Clone(st.Image.Config.Env))
	}
	if _, ok := st.env.Get("PATH"); !ok {
		st.Image.Config.Env = append(st.Image.Config.Env, "PATH="+defaultPath)
		st.env = st.env.set("PATH", defaultPath)
	}
	if st.Image.Config.WorkingDir == "" {
		st.Image.Config.WorkingDir = "/"
	}
	for _, c := range st.commands {
		if err := p.dispatch(st, c); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return err
			}
			name := strings.ToUpper(c.Name())
			if c.onbuild {
				name = "ONBUILD " + name
			}
			return &Error{Line: c.line, Instruction: name, Err: err}
		}
	}
	return nil
}

// finalize applies what applies to the result only: --label, and the
// platform it was built for.
func (p *planner) finalize(target *Stage) {
	if len(p.o.Labels) > 0 {
		if target.Image.Config.Labels == nil {
			target.Image.Config.Labels = map[string]string{}
		}
		maps.Copy(target.Image.Config.Labels, p.o.Labels)
	}
	target.Image.OS = p.o.Platform.OS
	target.Image.Architecture = p.o.Platform.Architecture
	if p.o.Platform.Variant != "" {
		target.Image.Variant = p.o.Platform.Variant
	}
}

func emptyImage(pl ocispec.Platform) Image {
	var img Image
	img.OS, img.Architecture, img.Variant = pl.OS, pl.Architecture, pl.Variant
	img.RootFS.Type = "layers"
	img.Config.WorkingDir = "/"
	img.Config.Env = []string{"PATH=" + defaultPath}
	return img
}

// cloneImage copies what dispatch changes in place.
func cloneImage(img Image) Image {
	c := img
	c.History = slices.Clone(img.History)
	c.RootFS.DiffIDs = slices.Clone(img.RootFS.DiffIDs)
	c.Config.Env = slices.Clone(img.Config.Env)
	c.Config.Cmd = slices.Clone(img.Config.Cmd)
	c.Config.Entrypoint = slices.Clone(img.Config.Entrypoint)
	c.Config.Shell = slices.Clone(img.Config.Shell)
	c.Config.OnBuild = slices.Clone(img.Config.OnBuild)
	c.Config.Labels = maps.Clone(img.Config.Labels)
	c.Config.ExposedPorts = maps.Clone(img.Config.ExposedPorts)
	c.Config.Volumes = maps.Clone(img.Config.Volumes)
	if img.Config.Healthcheck != nil {
		h := *img.Config.Healthcheck
		h.Test = slices.Clone(h.Test)
		c.Config.Healthcheck = &h
	}
	return c
}

// envList is an ordered environment (KEY=VALUE), a shell.EnvGetter.
type envList []string

func (e envList) Get(key string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(e[i], "=")
		if shell.EqualEnvKeys(k, key) {
			return v, true
		}
	}
	return "", false
}

func (e envList) Keys() []string {
	keys := make([]string, 0, len(e))
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}

// set replaces key where it is, or appends it.
func (e envList) set(key, value string) envList {
	for i, kv := range e {
		if k, _, _ := strings.Cut(kv, "="); shell.EqualEnvKeys(k, key) {
			out := slices.Clone(e)
			out[i] = key + "=" + value
			return out
		}
	}
	return append(slices.Clip(e), key+"="+value)
}

func (e envList) unset(key string) envList {
	return slices.DeleteFunc(slices.Clone(e), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return shell.EqualEnvKeys(k, key)
	})
}

// absPath is p made absolute against dir, with a trailing slash (or /.)
// kept, as BuildKit's NormalizePath with keepSlash.
func absPath(dir, p string) string {
	orig := p
	if p == "." || p == "" {
		orig = "./"
	}
	out := p
	if !path.IsAbs(p) {
		out = path.Join("/", dir, p)
	} else {
		out = path.Clean(p)
	}
	switch {
	case strings.HasSuffix(orig, "/.") || orig == ".":
		if out != "/" {
			out += "/"
		}
	case strings.HasSuffix(orig, "/") && !strings.HasSuffix(out, "/"):
		out += "/"
	}
	return out
}
