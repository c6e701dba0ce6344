package dockerfile

import (
	"errors"
	"fmt"
	"net/url"
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

// dispatch plans one instruction of st, as BuildKit's dockerfile2llb does.
func (p *planner) dispatch(st *Stage, c command) error {
	// Words are expanded against the stage's environment: the image's
	// ENV and the ARGs in scope. ARG expands its own default itself.
	if _, isArg := c.Command.(*instructions.ArgCommand); !isArg {
		if ex, ok := c.Command.(instructions.SupportsSingleWordExpansion); ok {
			if err := ex.Expand(func(w string) (string, error) {
				out, _, err := p.lex.ProcessWord(w, st.env)
				return out, err
			}); err != nil {
				return err
			}
		}
	}
	if ex, ok := c.Command.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex('\\')
		raw.SkipProcessQuotes = true
		if err := ex.ExpandRaw(func(w string) (string, error) {
			out, _, err := raw.ProcessWord(w, st.env)
			return out, err
		}); err != nil {
			return err
		}
	}
	step := &Step{Kind: Config, Line: c.line, Instruction: instructionText(c)}
	var err error
	switch ic := c.Command.(type) {
	case *instructions.EnvCommand:
		err = p.env(st, step, ic)
	case *instructions.MaintainerCommand:
		st.Image.Author = ic.Maintainer
		step.History = history("MAINTAINER "+ic.Maintainer, false)
	case *instructions.LabelCommand:
		err = p.label(st, step, ic)
	case *instructions.RunCommand:
		err = p.run(st, step, ic, c)
	case *instructions.WorkdirCommand:
		p.workdir(st, step, ic)
	case *instructions.CopyCommand:
		err = p.copy(st, step, &ic.SourcesAndDest, copyFlags{
			from: ic.From, chown: ic.Chown, chmod: ic.Chmod, link: ic.Link, parents: ic.Parents, exclude: ic.ExcludePatterns,
		})
	case *instructions.AddCommand:
		err = p.copy(st, step, &ic.SourcesAndDest, copyFlags{
			add: true, chown: ic.Chown, chmod: ic.Chmod, link: ic.Link, exclude: ic.ExcludePatterns,
			checksum: ic.Checksum, unpack: ic.Unpack, keepGitDir: ic.KeepGitDir,
		})
	case *instructions.OnbuildCommand:
		st.Image.Config.OnBuild = append(st.Image.Config.OnBuild, ic.Expression)
	case *instructions.CmdCommand:
		args := ic.CmdLine
		if ic.PrependShell {
			args = withShell(st.Image, args)
		}
		st.Image.Config.Cmd = args
		st.Image.Config.ArgsEscaped = true //nolint:staticcheck // Docker's image spec still writes it
		st.cmdSet = true
		step.History = history(fmt.Sprintf("CMD %q", args), false)
	case *instructions.EntrypointCommand:
		args := ic.CmdLine
		if ic.PrependShell {
			args = withShell(st.Image, args)
		}
		st.Image.Config.Entrypoint = args
		if !st.cmdSet {
			// An ENTRYPOINT drops the base image's CMD, not this stage's.
			st.Image.Config.Cmd = nil
		}
		step.History = history(fmt.Sprintf("ENTRYPOINT %q", args), false)
	case *instructions.HealthCheckCommand:
		h := *ic.Health
		st.Image.Config.Healthcheck = &dockerspec.HealthcheckConfig{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
		step.History = history(fmt.Sprintf("HEALTHCHECK %+v", *st.Image.Config.Healthcheck), false)
	case *instructions.ExposeCommand:
		err = p.expose(st, step, ic)
	case *instructions.UserCommand:
		st.Image.Config.User = ic.User
		step.History = history("USER "+ic.User, false)
	case *instructions.VolumeCommand:
		err = volume(st, step, ic)
	case *instructions.StopSignalCommand:
		if err = checkSignal(ic.Signal); err == nil {
			st.Image.Config.StopSignal = ic.Signal
			step.History = history("STOPSIGNAL "+ic.Signal, false)
		}
	case *instructions.ShellCommand:
		st.Image.Config.Shell = slices.Clone(ic.Shell)
		step.History = history(fmt.Sprintf("SHELL %v", ic.Shell), false)
	case *instructions.ArgCommand:
		err = p.arg(st, step, ic)
	default:
		err = fmt.Errorf("%s is not supported", strings.ToUpper(c.Name()))
	}
	if err != nil {
		return err
	}
	if step.History != nil {
		st.Image.History = append(st.Image.History, *step.History)
	}
	st.Steps = append(st.Steps, step)
	return nil
}

// instructionText is the instruction as the user wrote it, on one line.
func instructionText(c command) string {
	s, ok := c.Command.(fmt.Stringer)
	text := strings.ToUpper(c.Name())
	if ok {
		text = s.String()
		if first, rest, found := strings.Cut(text, "\n"); found {
			// A heredoc: its first line stands for it.
			text = first
			if strings.TrimSpace(rest) != "" {
				text += " ..."
			}
		}
		if name, rest, ok := strings.Cut(text, " "); ok {
			text = strings.ToUpper(name) + " " + rest
		} else {
			text = strings.ToUpper(text)
		}
	}
	if c.onbuild {
		text = "ONBUILD " + text
	}
	return text
}

func history(createdBy string, layer bool) *ocispec.History {
	return &ocispec.History{CreatedBy: createdBy, Comment: historyComment, EmptyLayer: !layer}
}

func withShell(img Image, args []string) []string {
	sh := slices.Clone(img.Config.Shell)
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(sh, strings.Join(args, " "))
}

func (p *planner) env(st *Stage, step *Step, c *instructions.EnvCommand) error {
	if c.Unset {
		var keys []string
		for _, kv := range c.Env {
			if kv.Key == "" {
				return errors.New("ENV --unset names can not be blank")
			}
			st.unsetEnv(kv.Key)
			keys = append(keys, kv.Key)
		}
		step.History = history("ENV --unset "+strings.Join(keys, " "), false)
		return nil
	}
	msg := "ENV"
	for _, kv := range c.Env {
		msg += " " + kv.String()
		st.env = st.env.set(kv.Key, kv.Value)
		st.Image.Config.Env = []string(envList(st.Image.Config.Env).set(kv.Key, kv.Value))
	}
	step.History = history(msg, false)
	return nil
}

// unsetEnv removes key from the environment and the build args.
func (st *Stage) unsetEnv(key string) {
	st.env = st.env.unset(key)
	st.Image.Config.Env = []string(envList(st.Image.Config.Env).unset(key))
	st.buildArgs = slices.DeleteFunc(st.buildArgs, func(a instructions.KeyValuePairOptional) bool {
		return shell.EqualEnvKeys(a.Key, key)
	})
}

func (p *planner) label(st *Stage, step *Step, c *instructions.LabelCommand) error {
	if c.Unset {
		var keys []string
		for _, kv := range c.Labels {
			if kv.Key == "" {
				return errors.New("LABEL --unset names can not be blank")
			}
			delete(st.Image.Config.Labels, kv.Key)
			keys = append(keys, kv.Key)
		}
		step.History = history("LABEL --unset "+strings.Join(keys, " "), false)
		return nil
	}
	if st.Image.Config.Labels == nil {
		st.Image.Config.Labels = map[string]string{}
	}
	msg := "LABEL"
	for _, kv := range c.Labels {
		st.Image.Config.Labels[kv.Key] = kv.Value
		msg += " " + kv.String()
	}
	step.History = history(msg, false)
	return nil
}

// arg declares build args in the stage: a --build-arg's value, else the
// default expanded now, else the global ARG of that name.
func (p *planner) arg(st *Stage, step *Step, c *instructions.ArgCommand) error {
	var strs []string
	for _, kv := range c.Args {
		p.used[kv.Key] = true
		given, hasGiven := p.o.BuildArgs[kv.Key]
		switch {
		case hasGiven:
			kv.Value = &given
		case kv.Value != nil:
			v, _, err := p.lex.ProcessWord(*kv.Value, st.env)
			if err != nil {
				return err
			}
			kv.Value = &v
		default:
			if v, ok := p.global.Get(kv.Key); ok {
				kv.Value = &v
			}
		}
		if kv.Value != nil {
			st.env = st.env.set(kv.Key, *kv.Value)
		}
		st.buildArgs = append(st.buildArgs, kv)
		s := kv.Key
		if kv.Value != nil {
			s += "=" + *kv.Value
		}
		strs = append(strs, s)
	}
	step.History = history("ARG "+strings.Join(strs, " "), false)
	return nil
}

func (p *planner) workdir(st *Stage, step *Step, c *instructions.WorkdirCommand) {
	wd := c.Path
	if !path.IsAbs(wd) {
		wd = path.Join("/", st.Image.Config.WorkingDir, wd)
	}
	wd = path.Clean(wd)
	st.Image.Config.WorkingDir = wd
	if wd == "/" {
		step.History = history("WORKDIR /", false)
		return
	}
	step.Kind = Workdir
	step.Workdir = &WorkdirStep{Path: wd, User: st.Image.Config.User}
	step.History = history("WORKDIR "+wd, true)
}

func (p *planner) run(st *Stage, step *Step, c *instructions.RunCommand, cmd command) error {
	r := &RunStep{User: st.Image.Config.User, Dir: st.Image.Config.WorkingDir}
	args := slices.Clone(c.CmdLine)
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return fmt.Errorf("parsing produced an invalid run command: %v", args)
		}
		if hd := parser.MustParseHeredoc(args[0]); hd != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				// A script with its own interpreter runs from a file.
				r.Files = []InlineFile{{Name: c.Files[0].Name, Data: data}}
				args = []string{path.Join("/dev/pipes", c.Files[0].Name)}
			} else {
				args = []string{data}
			}
		} else {
			// Several heredocs: the shell reads them itself.
			var b strings.Builder
			b.WriteString(args[0])
			for _, f := range c.Files {
				b.WriteByte('\n')
				b.WriteString(f.Data)
				b.WriteString(f.Name)
			}
			args = []string{b.String()}
		}
	}
	if c.PrependShell {
		args = withShell(st.Image, args)
	}
	r.Args = args
	r.Network = instructions.GetNetwork(c)
	if sec := instructions.GetSecurity(c); sec == instructions.SecurityInsecure {
		return errors.New("--security=insecure is not supported: box runs every RUN with the default capabilities and seccomp filter")
	}
	if devs := instructions.GetDevices(c); len(devs) > 0 {
		return errors.New("--device is not supported")
	}
	for _, m := range instructions.GetMounts(c) {
		switch m.Type {
		case instructions.MountTypeSSH:
			return errors.New("--mount=type=ssh is not supported")
		case instructions.MountTypeSecret:
			// BuildKit's rules: the id is id=, else source=, else the
			// target's name; the file goes to /run/secrets/ID unless
			// env= asks for a variable only.
			id := m.CacheID
			if m.Source != "" {
				id = m.Source
			}
			if id == "" {
				id = path.Base(m.Target)
			}
			m.CacheID, m.Source = id, ""
			if m.Env == nil && m.Target == "" {
				m.Target = "/run/secrets/" + path.Base(id)
			}
			if m.Target != "" && !path.IsAbs(m.Target) {
				m.Target = path.Join("/", r.Dir, m.Target)
			}
			r.Mounts = append(r.Mounts, m)
			continue
		}
		target := m.Target
		if !path.IsAbs(path.Clean(target)) {
			target = path.Join("/", r.Dir, target)
		}
		target = path.Clean(target)
		if target == "/" {
			return fmt.Errorf("invalid mount target %q", m.Target)
		}
		m.Target = target
		if m.Type == instructions.MountTypeCache && m.CacheID == "" {
			m.CacheID = target
		}
		if m.From != "" {
			if err := p.addSource(st, m.From, cmd.line); err != nil {
				return err
			}
		}
		r.Mounts = append(r.Mounts, m)
	}
	// The process sees the image's environment and the ARGs in scope;
	// proxy settings given as build args too, without an ARG and without
	// landing in the history.
	r.Env = slices.Clone([]string(st.env))
	for _, k := range proxyArgs {
		if v, ok := p.o.BuildArgs[k]; ok {
			if _, set := envList(r.Env).Get(k); !set {
				r.Env = append(r.Env, k+"="+v)
			}
		}
	}
	step.Kind = Run
	step.Run = r
	step.History = history("RUN "+runString(args, st.buildArgs, st.env), true)
	return nil
}

// runString is BuildKit's RUN history: "|N K=V ... ARGS", the ARGs in scope
// first, so that two builds with different args are told apart.
func runString(args []string, buildArgs []instructions.KeyValuePairOptional, env envList) string {
	var kvs []string
	idx := map[string]int{}
	for _, a := range buildArgs {
		v, ok := env.Get(a.Key)
		if !ok {
			v = a.ValueString()
		}
		if i, ok := idx[a.Key]; ok {
			kvs[i] = a.Key + "=" + v
			continue
		}
		idx[a.Key] = len(kvs)
		kvs = append(kvs, a.Key+"="+v)
	}
	if len(kvs) > 0 {
		kvs = append([]string{"|" + strconv.Itoa(len(kvs))}, kvs...)
	}
	return strings.Join(append(kvs, args...), " ")
}

// addSource records that st reads stage or image from, which must be
// planned already.
func (p *planner) addSource(st *Stage, from string, line int) error {
	src, err := p.sourceStage(from)
	if err != nil {
		return err
	}
	if src == nil {
		if !slices.Contains(st.ImageDeps, from) {
			if _, err := p.image(from, line); err != nil {
				return err
			}
			st.ImageDeps = append(st.ImageDeps, from)
		}
		return nil
	}
	if src == st || !src.dispatched {
		return fmt.Errorf("cannot copy from stage %q, it needs to be defined before current stage %q", from, st.DisplayName())
	}
	if !slices.Contains(st.Deps, src) {
		st.Deps = append(st.Deps, src)
	}
	return nil
}

type copyFlags struct {
	add                bool
	from               string
	chown, chmod       string
	link, parents      bool
	exclude            []string
	checksum           string
	unpack, keepGitDir *bool
}

func (p *planner) copy(st *Stage, step *Step, sd *instructions.SourcesAndDest, f copyFlags) error {
	cs := &CopyStep{
		Add: f.add, From: f.from, Sources: slices.Clone(sd.SourcePaths),
		Dest:  absPath(st.Image.Config.WorkingDir, sd.DestPath),
		Chown: f.chown, Chmod: f.chmod, Link: f.link, Parents: f.parents, Exclude: f.exclude,
		Checksum: f.checksum, Unpack: f.unpack, KeepGitDir: f.keepGitDir,
	}
	for _, c := range sd.SourceContents {
		cs.Contents = append(cs.Contents, InlineFile{Name: c.Path, Data: c.Data})
	}
	if f.from != "" {
		src, err := p.sourceStage(f.from)
		if err != nil {
			return err
		}
		if err := p.addSource(st, f.from, step.Line); err != nil {
			return err
		}
		if src != nil {
			cs.FromStage = src
		} else {
			cs.FromImage = f.from
		}
	}
	if f.chown != "" && f.link && chownByName(f.chown) {
		return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", f.chown)
	}
	if f.chmod != "" {
		if _, err := ParseMode(f.chmod); err != nil {
			return err
		}
	}
	if f.checksum != "" {
		if !f.add {
			return errors.New("checksum can't be specified for COPY")
		}
		if len(cs.Sources) != 1 {
			return errors.New("checksum can't be specified for multiple sources")
		}
		if !IsURL(cs.Sources[0]) {
			return errors.New("checksum requires HTTP(S) sources")
		}
	}
	for _, s := range cs.Sources {
		if IsGit(s) {
			return fmt.Errorf("source %s: git sources are not supported; clone it into the build context", s)
		}
		if IsURL(s) {
			if !f.add {
				return errors.New("source can't be a URL for COPY")
			}
			if _, err := url.Parse(s); err != nil {
				return err
			}
		}
	}
	msg := "COPY"
	if f.add {
		msg = "ADD"
	}
	if f.parents {
		msg += " --parents"
	}
	if f.chown != "" {
		msg += " --chown=" + f.chown
	}
	if f.chmod != "" {
		msg += " --chmod=" + f.chmod
	}
	for _, s := range cs.Sources {
		msg += " " + s
	}
	for _, c := range cs.Contents {
		msg += " <<" + c.Name
	}
	msg += " " + sd.DestPath
	step.Kind = Copy
	step.Copy = cs
	step.History = history(msg, true)
	return nil
}

// IsURL says whether an ADD source is fetched over HTTP(S).
func IsURL(s string) bool {
	return (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) && !IsGit(s)
}

// IsGit says whether an ADD source names a git repository.
func IsGit(s string) bool {
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "ssh://") {
		return true
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.HasSuffix(u.Path, ".git") || strings.Contains(u.Path, ".git/")
}

// chownByName says whether --chown names a user or group rather than
// numbers.
func chownByName(s string) bool {
	u, g, _ := strings.Cut(s, ":")
	isNum := func(x string) bool { _, err := strconv.ParseUint(x, 10, 32); return err == nil }
	return !isNum(u) || (g != "" && !isNum(g))
}

func volume(st *Stage, step *Step, c *instructions.VolumeCommand) error {
	if slices.Contains(c.Volumes, "") {
		return errors.New("VOLUME specified can not be an empty string")
	}
	if c.Unset {
		for _, v := range c.Volumes {
			for k := range st.Image.Config.Volumes {
				if path.Clean(k) == path.Clean(v) {
					delete(st.Image.Config.Volumes, k)
				}
			}
		}
		step.History = history(fmt.Sprintf("VOLUME --unset %v", c.Volumes), false)
		return nil
	}
	if st.Image.Config.Volumes == nil {
		st.Image.Config.Volumes = map[string]struct{}{}
	}
	for _, v := range c.Volumes {
		st.Image.Config.Volumes[v] = struct{}{}
	}
	step.History = history(fmt.Sprintf("VOLUME %v", c.Volumes), false)
	return nil
}

func (p *planner) expose(st *Stage, step *Step, c *instructions.ExposeCommand) error {
	var words []string
	for _, w := range c.Ports {
		ws, err := p.lex.ProcessWords(w, st.env)
		if err != nil {
			return err
		}
		words = append(words, ws...)
	}
	var ports []string
	for _, w := range words {
		ps, err := exposedPorts(w)
		if err != nil {
			return err
		}
		ports = append(ports, ps...)
	}
	if st.Image.Config.ExposedPorts == nil {
		st.Image.Config.ExposedPorts = map[string]struct{}{}
	}
	for _, port := range ports {
		st.Image.Config.ExposedPorts[port] = struct{}{}
	}
	step.History = history("EXPOSE "+strings.Join(ports, " "), false)
	return nil
}

// exposedPorts reads Docker's port specs ([ip:][hostport:]port[-end][/proto])
// into config keys "80/tcp".
func exposedPorts(spec string) ([]string, error) {
	rest, proto, ok := strings.Cut(spec, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	// The container port is the last colon-separated part; an IPv6
	// address in brackets may hold colons itself.
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		rest = rest[i+1:]
	}
	lo, hi, isRange := strings.Cut(rest, "-")
	if !isRange {
		hi = lo
	}
	start, err1 := strconv.ParseUint(lo, 10, 16)
	end, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || end < start {
		return nil, fmt.Errorf("invalid containerPort: %s", spec)
	}
	var out []string
	for port := start; port <= end; port++ {
		out = append(out, fmt.Sprintf("%d/%s", port, proto))
	}
	return out, nil
}

// signalNames are the signals STOPSIGNAL may name (with or without SIG).
var signalNames = []string{
	"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
	"PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
	"XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS", "RTMIN", "RTMAX",
}

// checkSignal accepts Docker's forms: 9, KILL, SIGKILL, SIGRTMIN+3.
func checkSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return fmt.Errorf("invalid signal: %s", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if base, off, ok := strings.Cut(name, "+"); ok && base == "RTMIN" {
		if n, err := strconv.Atoi(off); err == nil && n >= 0 && n <= 30 {
			return nil
		}
	}
	if base, off, ok := strings.Cut(name, "-"); ok && base == "RTMAX" {
		if n, err := strconv.Atoi(off); err == nil && n >= 0 && n <= 30 {
			return nil
		}
	}
	if slices.Contains(signalNames, name) {
		return nil
	}
	return fmt.Errorf("invalid signal: %s", s)
}
