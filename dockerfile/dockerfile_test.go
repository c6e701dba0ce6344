package dockerfile

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var amd64 = ocispec.Platform{OS: "linux", Architecture: "amd64"}

// images is a Resolver over a fixed set of configs; it records what it
// was asked for.
type images struct {
	m     map[string]*Image
	asked []string
}

func (im *images) resolve(ref string) (*Image, error) {
	im.asked = append(im.asked, ref)
	if img, ok := im.m[ref]; ok {
		c := cloneImage(*img)
		return &c, nil
	}
	return nil, fmt.Errorf("image not found: %s", ref)
}

func base() *images {
	busybox := &Image{}
	busybox.OS, busybox.Architecture = "linux", "amd64"
	busybox.Config.Env = []string{"PATH=/bin", "HOME=/root"}
	busybox.Config.Cmd = []string{"sh"}
	busybox.History = []ocispec.History{{CreatedBy: "base layer"}}
	busybox.RootFS.DiffIDs = nil
	onbuild := &Image{}
	onbuild.Config.Env = []string{"PATH=/bin"}
	onbuild.Config.OnBuild = []string{"RUN echo triggered", "ENV FROM_TRIGGER=1"}
	return &images{m: map[string]*Image{"busybox": busybox, "onbuild": onbuild, "tools": busybox}}
}

func plan(t *testing.T, df string, o Options) (*Plan, *images) {
	t.Helper()
	f, err := Parse([]byte(df))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if o.Platform.OS == "" {
		o.Platform = amd64
	}
	im := base()
	p, err := f.Plan(o, im.resolve)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return p, im
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, df    string
		line        int
		instruction string
		msg         string
	}{
		{"unknown instruction", "FROM busybox\nFOO bar\n", 2, "", "line 2: unknown instruction: FOO"},
		{"bad flag", "FROM busybox\nRUN --bogus=1 true\n", 2, "RUN", "unknown flag: --bogus"},
		{"unterminated heredoc", "FROM busybox\nRUN <<EOF\necho hi\n", 2, "", "unterminated heredoc"},
		{"no FROM", "# nothing\nARG X=1\n", 0, "", "no FROM"},
		{"empty", "  \n", 0, "", "empty"},
		{"instruction before FROM", "RUN true\nFROM busybox\n", 1, "RUN", "must begin with FROM"},
		{"copy without dest", "FROM busybox\nCOPY x\n", 2, "COPY", "at least two arguments"},
		{"bad healthcheck", "FROM busybox\nHEALTHCHECK --interval=bad CMD true\n", 2, "HEALTHCHECK", "invalid duration"},
		{"bad network", "FROM busybox\nRUN --network=bridge true\n", 2, "RUN", "invalid network mode"},
		{"checksum on copy", "FROM busybox\nCOPY --checksum=sha256:00 a /b\n", 2, "COPY", "unknown flag: --checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.df))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %v, want an *Error", tc.df, err)
			}
			if e.Line != tc.line || e.Instruction != tc.instruction || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Parse(%q) = line %d %q %q, want line %d %q containing %q", tc.df, e.Line, e.Instruction, err, tc.line, tc.instruction, tc.msg)
			}
			if tc.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tc.line)) {
				t.Errorf("error %q does not begin with its line", err)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name, df string
		o        Options
		line     int
		msg      string
	}{
		{"unknown target", "FROM busybox AS a\nFROM busybox AS b\n", Options{Target: "c"}, 0, `no such build stage "c": the stages are a, b`},
		{"target without names", "FROM busybox\n", Options{Target: "c"}, 0, "names no stage"},
		{"missing image", "FROM nosuch\n", Options{}, 1, "image not found: nosuch"},
		{"blank base", "ARG B\nFROM $B\n", Options{}, 2, "should not be blank"},
		{"copy from later stage", "FROM busybox AS a\nCOPY --from=b /x /y\nFROM busybox AS b\n", Options{Target: "a"}, 2, "needs to be defined before"},
		{"copy from itself by index", "FROM busybox\nCOPY --from=0 /x /y\n", Options{}, 2, "needs to be defined before"},
		{"copy from bad index", "FROM busybox\nCOPY --from=7 /x /y\n", Options{}, 2, "invalid stage index 7"},
		{"expansion in --from", "FROM busybox\nARG S=a\nCOPY --from=$S /x /y\n", Options{}, 3, "variable expansion is not supported for --from"},
		{"bad stop signal", "FROM busybox\nSTOPSIGNAL SIGBOGUS\n", Options{}, 2, "invalid signal"},
		{"bad chmod", "FROM busybox\nCOPY --chmod=8888 a /b\n", Options{}, 2, "invalid chmod"},
		{"url on copy", "FROM busybox\nCOPY http://example.com/a /b\n", Options{}, 2, "can't be a URL for COPY"},
		{"chown name with link", "FROM busybox\nCOPY --link --chown=app a /b\n", Options{}, 2, "numeric"},
		{"insecure", "FROM busybox\nRUN --security=insecure true\n", Options{}, 2, "not supported"},
		{"foreign platform", "FROM --platform=linux/arm64 busybox\n", Options{}, 1, "not this machine's"},
		{"bad expose", "FROM busybox\nEXPOSE 80/bogus\n", Options{}, 2, "invalid proto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.df))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.o.Platform.OS == "" {
				tc.o.Platform = amd64
			}
			_, err = f.Plan(tc.o, base().resolve)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Plan(%q) = %v, want an error containing %q", tc.df, err, tc.msg)
			}
			var e *Error
			if tc.line > 0 && (!errors.As(err, &e) || e.Line != tc.line) {
				t.Errorf("Plan(%q) = %v, want it on line %d", tc.df, err, tc.line)
			}
			if tc.name == "unknown target" && !errors.Is(err, ErrUnknownTarget) {
				t.Errorf("Plan(%q) = %v, want ErrUnknownTarget", tc.df, err)
			}
		})
	}
}

// runEnv is the value of key in the environment of the stage's step i.
func runEnv(t *testing.T, st *Stage, i int, key string) string {
	t.Helper()
	r := st.Steps[i].Run
	if r == nil {
		t.Fatalf("step %d (%s) is not a RUN", i, st.Steps[i].Instruction)
	}
	v, ok := envList(r.Env).Get(key)
	if !ok {
		return "<unset>"
	}
	return v
}

func TestArgScoping(t *testing.T) {
	df := `ARG VERSION=1.0
ARG BASE=busybox
FROM ${BASE} AS first
RUN echo $VERSION
ARG VERSION
RUN echo $VERSION
ARG OTHER=o-$VERSION
ENV FROMENV=$OTHER
ARG OTHER=shadowed
RUN true
FROM first AS second
RUN echo inherited
ARG VERSION=2.0
RUN echo overridden
FROM busybox AS third
RUN echo fresh
COPY --from=second /x /x
`
	for _, tc := range []struct {
		name string
		args map[string]string
		// values of VERSION in first's steps 0 and 2, and in the stages after
		v0, v2, second, secondOwn, third string
		other                            string
	}{
		{"defaults", nil, "<unset>", "1.0", "1.0", "2.0", "<unset>", "shadowed"},
		{"build arg wins", map[string]string{"VERSION": "9"}, "<unset>", "9", "9", "9", "<unset>", "shadowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := plan(t, df, Options{BuildArgs: tc.args})
			first, second, third := p.Stages[0], p.Stages[1], p.Stages[2]
			if first.BaseName != "busybox" || second.Base != first {
				t.Fatalf("bases: %q, %v", first.BaseName, second.Base)
			}
			// A global ARG is not in a stage until the stage declares it.
			if got := runEnv(t, first, 0, "VERSION"); got != tc.v0 {
				t.Errorf("VERSION before ARG = %q, want %q", got, tc.v0)
			}
			if got := runEnv(t, first, 2, "VERSION"); got != tc.v2 {
				t.Errorf("VERSION after ARG = %q, want %q", got, tc.v2)
			}
			// ENV saw OTHER's value as it was; a later ARG does not change it.
			if got, _ := envList(first.Image.Config.Env).Get("FROMENV"); got != "o-"+tc.v2 {
				t.Errorf("FROMENV = %q, want %q", got, "o-"+tc.v2)
			}
			// ENV beats ARG for later expansion: the RUN after the
			// second ARG OTHER sees the ARG (it came last).
			if got := runEnv(t, first, 6, "OTHER"); got != tc.other {
				t.Errorf("OTHER = %q, want %q", got, tc.other)
			}
			// FROM a stage keeps its ARGs (BuildKit does).
			if got := runEnv(t, second, 0, "VERSION"); got != tc.second {
				t.Errorf("VERSION in second = %q, want %q", got, tc.second)
			}
			if got := runEnv(t, second, 2, "VERSION"); got != tc.secondOwn {
				t.Errorf("VERSION in second after its ARG = %q, want %q", got, tc.secondOwn)
			}
			if got := runEnv(t, third, 0, "VERSION"); got != tc.third {
				t.Errorf("VERSION in an unrelated stage = %q, want %q", got, tc.third)
			}
			// ARGs never reach the image's config.
			if _, ok := envList(third.Image.Config.Env).Get("VERSION"); ok {
				t.Errorf("VERSION in the config of third: %v", third.Image.Config.Env)
			}
		})
	}
}

func TestEnvBeatsArg(t *testing.T) {
	p, _ := plan(t, "FROM busybox\nARG X=arg\nENV X=env\nRUN echo $X\nARG Y\nRUN true\n", Options{BuildArgs: map[string]string{"X": "given"}})
	st := p.Target
	if got := runEnv(t, st, 2, "X"); got != "env" {
		t.Errorf("X = %q, want env", got)
	}
	if got := runEnv(t, st, 4, "Y"); got != "<unset>" {
		t.Errorf("Y (declared, no value) = %q, want unset", got)
	}
	// The RUN history names the ARGs in scope with their values.
	if got, want := st.Steps[2].History.CreatedBy, "RUN |1 X=env /bin/sh -c echo $X"; got != want {
		t.Errorf("history %q, want %q", got, want)
	}
	if got, want := st.Steps[4].History.CreatedBy, "RUN |2 X=env Y= /bin/sh -c true"; got != want {
		t.Errorf("history %q, want %q", got, want)
	}
}

func TestPlatformArgs(t *testing.T) {
	p, _ := plan(t, "FROM busybox\nARG TARGETARCH\nARG TARGETPLATFORM\nARG BUILDOS\nRUN true\n", Options{})
	st := p.Target
	for k, want := range map[string]string{"TARGETARCH": "amd64", "TARGETPLATFORM": "linux/amd64", "BUILDOS": "linux"} {
		if got := runEnv(t, st, 3, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestProxyArgsAndUnused(t *testing.T) {
	p, _ := plan(t, "FROM busybox\nARG USED\nRUN true\n", Options{BuildArgs: map[string]string{
		"http_proxy": "http://proxy:3128", "USED": "u", "UNUSED": "x", "TARGETARCH": "amd64",
	}})
	st := p.Target
	if got := runEnv(t, st, 1, "http_proxy"); got != "http://proxy:3128" {
		t.Errorf("http_proxy = %q", got)
	}
	if strings.Contains(st.Steps[1].History.CreatedBy, "proxy") {
		t.Errorf("the proxy is in the history: %q", st.Steps[1].History.CreatedBy)
	}
	if !reflect.DeepEqual(p.UnusedArgs, []string{"UNUSED"}) {
		t.Errorf("UnusedArgs = %v, want [UNUSED]", p.UnusedArgs)
	}
}

func TestTargetAndReachable(t *testing.T) {
	df := `FROM busybox AS deps
RUN echo deps
FROM tools AS unrelated
RUN echo never
FROM busybox AS build
COPY --from=deps /x /x
FROM scratch
COPY --from=build /x /x
COPY --from=1 /y /y
`
	t.Run("last", func(t *testing.T) {
		p, im := plan(t, df, Options{})
		var names []string
		for _, st := range p.Stages {
			names = append(names, st.DisplayName())
		}
		if want := []string{"deps", "unrelated", "build", "stage-3"}; !reflect.DeepEqual(names, want) {
			t.Errorf("stages %v, want %v", names, want)
		}
		if p.Target.DisplayName() != "stage-3" || p.Target.BaseImage != nil || p.Target.Base != nil {
			t.Errorf("target %s base %v %v", p.Target.DisplayName(), p.Target.BaseImage, p.Target.Base)
		}
		if got := p.Target.Steps[1].Copy.FromStage; got != p.Stages[1] {
			t.Errorf("--from=1 names %v, want stage 1", got)
		}
		if len(p.Target.Deps) != 2 {
			t.Errorf("target deps %d, want 2", len(p.Target.Deps))
		}
		if !reflect.DeepEqual(im.asked, []string{"busybox", "tools"}) {
			t.Errorf("resolved %v", im.asked)
		}
	})
	t.Run("named target prunes", func(t *testing.T) {
		p, im := plan(t, df, Options{Target: "BUILD"})
		if len(p.Stages) != 2 || p.Target.Name != "build" || p.Stages[0].Name != "deps" {
			t.Errorf("stages %v", p.Stages)
		}
		if slices.Contains(im.asked, "tools") {
			t.Errorf("resolved an unneeded base: %v", im.asked)
		}
	})
}

func TestCopyFromImage(t *testing.T) {
	p, im := plan(t, "FROM scratch\nCOPY --from=tools /bin/sh /sh\nRUN --mount=type=bind,from=busybox,target=/b true\n", Options{})
	st := p.Target
	if st.Steps[0].Copy.FromImage != "tools" || !reflect.DeepEqual(st.ImageDeps, []string{"tools", "busybox"}) {
		t.Errorf("FromImage %q ImageDeps %v", st.Steps[0].Copy.FromImage, st.ImageDeps)
	}
	if !reflect.DeepEqual(im.asked, []string{"tools", "busybox"}) {
		t.Errorf("resolved %v", im.asked)
	}
}

func TestConfigAndHistory(t *testing.T) {
	df := `FROM busybox
MAINTAINER someone
LABEL a=1 "b c"=2
ENV GREETING=hello PATH=/usr/bin:$PATH
WORKDIR app
WORKDIR sub
USER 1000:1000
EXPOSE 80 53/udp 8000-8001/tcp 127.0.0.1:9000:9090
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGINT
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
CMD echo $GREETING
HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost
ONBUILD RUN echo later
ENTRYPOINT ["/entry"]
`
	p, _ := plan(t, df, Options{Labels: map[string]string{"from": "cli"}})
	st := p.Target
	c := st.Image.Config
	if st.Image.Author != "someone" {
		t.Errorf("Author %q", st.Image.Author)
	}
	if !reflect.DeepEqual(c.Labels, map[string]string{"a": "1", "b c": "2", "from": "cli"}) {
		t.Errorf("Labels %v", c.Labels)
	}
	if !reflect.DeepEqual(c.Env, []string{"PATH=/usr/bin:/bin", "HOME=/root", "GREETING=hello"}) {
		t.Errorf("Env %v", c.Env)
	}
	if c.WorkingDir != "/app/sub" || c.User != "1000:1000" || c.StopSignal != "SIGINT" {
		t.Errorf("WorkingDir %q User %q StopSignal %q", c.WorkingDir, c.User, c.StopSignal)
	}
	ports := map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "9090/tcp": {}}
	if !reflect.DeepEqual(c.ExposedPorts, ports) {
		t.Errorf("ExposedPorts %v", c.ExposedPorts)
	}
	if !reflect.DeepEqual(c.Volumes, map[string]struct{}{"/data": {}, "/cache": {}}) {
		t.Errorf("Volumes %v", c.Volumes)
	}
	// CMD's shell form runs in the SHELL set before it; the ENTRYPOINT
	// after it keeps this stage's CMD.
	if want := []string{"/bin/ash", "-eo", "pipefail", "-c", "echo $GREETING"}; !reflect.DeepEqual(c.Cmd, want) {
		t.Errorf("Cmd %q, want %q", c.Cmd, want)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/entry"}) {
		t.Errorf("Entrypoint %q", c.Entrypoint)
	}
	if h := c.Healthcheck; h == nil || h.Interval.Seconds() != 5 || h.Retries != 2 || !reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "wget -q localhost"}) {
		t.Errorf("Healthcheck %+v", h)
	}
	if !reflect.DeepEqual(c.OnBuild, []string{"RUN echo later"}) {
		t.Errorf("OnBuild %v", c.OnBuild)
	}
	if !reflect.DeepEqual(c.Shell, []string{"/bin/ash", "-eo", "pipefail", "-c"}) {
		t.Errorf("Shell %v", c.Shell)
	}
	// One history entry per instruction except ONBUILD, after the base's;
	// only WORKDIR (here) makes layers.
	var got []string
	for _, h := range st.Image.History {
		layer := ""
		if !h.EmptyLayer {
			layer = " +layer"
		}
		got = append(got, h.CreatedBy+layer)
	}
	want := []string{
		"base layer +layer",
		"MAINTAINER someone",
		`LABEL a=1 b c=2`,
		"ENV GREETING=hello PATH=/usr/bin:/bin",
		"WORKDIR /app +layer",
		"WORKDIR /app/sub +layer",
		"USER 1000:1000",
		"EXPOSE 9090/tcp 53/udp 80/tcp 8000/tcp 8001/tcp", // the parser sorts the words
		"VOLUME [/data /cache]",
		"STOPSIGNAL SIGINT",
		"SHELL [/bin/ash -eo pipefail -c]",
		`CMD ["/bin/ash" "-eo" "pipefail" "-c" "echo $GREETING"]`,
		"HEALTHCHECK {Test:[CMD-SHELL wget -q localhost] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}",
		`ENTRYPOINT ["/entry"]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.Steps[4].Kind != Workdir || st.Steps[4].Workdir.Path != "/app/sub" {
		t.Errorf("WORKDIR step %+v", st.Steps[4])
	}
	if p.Target.Image.OS != "linux" || p.Target.Image.Architecture != "amd64" {
		t.Errorf("platform %s/%s", p.Target.Image.OS, p.Target.Image.Architecture)
	}
}

func TestEntrypointDropsBaseCmd(t *testing.T) {
	p, _ := plan(t, "FROM busybox\nENTRYPOINT top\n", Options{})
	c := p.Target.Image.Config
	if c.Cmd != nil || !reflect.DeepEqual(c.Entrypoint, []string{"/bin/sh", "-c", "top"}) {
		t.Errorf("Cmd %q Entrypoint %q", c.Cmd, c.Entrypoint)
	}
}

func TestOnbuildTriggers(t *testing.T) {
	t.Run("image", func(t *testing.T) {
		p, _ := plan(t, "FROM onbuild\nRUN echo own\n", Options{})
		st := p.Target
		var got []string
		for _, s := range st.Steps {
			got = append(got, s.Instruction)
		}
		if want := []string{"ONBUILD RUN echo triggered", "ONBUILD ENV FROM_TRIGGER=1", "RUN echo own"}; !reflect.DeepEqual(got, want) {
			t.Errorf("steps %q, want %q", got, want)
		}
		if len(st.Image.Config.OnBuild) != 0 {
			t.Errorf("triggers carried over: %v", st.Image.Config.OnBuild)
		}
		if v, _ := envList(st.Image.Config.Env).Get("FROM_TRIGGER"); v != "1" {
			t.Errorf("the trigger's ENV is missing: %v", st.Image.Config.Env)
		}
	})
	t.Run("stage", func(t *testing.T) {
		p, _ := plan(t, "FROM busybox AS a\nONBUILD RUN echo from-a\nFROM a\nRUN echo own\n", Options{})
		st := p.Target
		if len(st.Steps) != 2 || st.Steps[0].Instruction != "ONBUILD RUN echo from-a" {
			t.Errorf("steps %+v", st.Steps)
		}
		if len(st.Image.Config.OnBuild) != 0 {
			t.Errorf("triggers carried over: %v", st.Image.Config.OnBuild)
		}
	})
}

func TestRunHeredocs(t *testing.T) {
	df := "FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\nRUN <<EOT\n#!/bin/sh -e\necho script\nEOT\nRUN [\"echo\", \"exec\"]\nRUN --network=none --mount=type=cache,target=cache true\n"
	p, _ := plan(t, df, Options{})
	st := p.Target
	if want := []string{"/bin/sh", "-c", "echo one\necho two\n"}; !reflect.DeepEqual(st.Steps[0].Run.Args, want) {
		t.Errorf("heredoc args %q, want %q", st.Steps[0].Run.Args, want)
	}
	r := st.Steps[1].Run
	if want := []string{"/bin/sh", "-c", "/dev/pipes/EOT"}; !reflect.DeepEqual(r.Args, want) || len(r.Files) != 1 || r.Files[0].Data != "#!/bin/sh -e\necho script\n" {
		t.Errorf("script heredoc args %q files %+v", r.Args, r.Files)
	}
	if st.Steps[0].Instruction != "RUN <<EOF" {
		t.Errorf("instruction %q", st.Steps[0].Instruction)
	}
	if want := []string{"echo", "exec"}; !reflect.DeepEqual(st.Steps[2].Run.Args, want) {
		t.Errorf("exec form %q", st.Steps[2].Run.Args)
	}
	r = st.Steps[3].Run
	if r.Network != "none" || len(r.Mounts) != 1 || r.Mounts[0].Target != "/cache" || r.Mounts[0].CacheID != "/cache" {
		t.Errorf("network %q mounts %+v", r.Network, r.Mounts)
	}
}

func TestCopyPaths(t *testing.T) {
	df := `FROM busybox
WORKDIR /app
COPY a b ./
COPY --chown=1:2 --chmod=640 c sub/
COPY d /abs
COPY e .
COPY <<EOF notes.txt
hello $HOME
EOF
ADD --checksum=sha256:abc https://example.com/f.tgz /dl/
`
	p, _ := plan(t, df, Options{})
	st := p.Target
	for i, want := range []string{"/app/", "/app/sub/", "/abs", "/app/"} {
		if got := st.Steps[i+1].Copy.Dest; got != want {
			t.Errorf("step %d dest %q, want %q", i+1, got, want)
		}
	}
	c := st.Steps[2].Copy
	if c.Chown != "1:2" || c.Chmod != "640" || st.Steps[2].History.CreatedBy != "COPY --chown=1:2 --chmod=640 c sub/" {
		t.Errorf("copy flags %+v history %q", c, st.Steps[2].History.CreatedBy)
	}
	hd := st.Steps[5].Copy
	if len(hd.Contents) != 1 || hd.Contents[0].Data != "hello /root\n" || hd.Dest != "/app/notes.txt" {
		t.Errorf("heredoc copy %+v", hd)
	}
	add := st.Steps[6].Copy
	if !add.Add || add.Checksum != "sha256:abc" || !IsURL(add.Sources[0]) {
		t.Errorf("add %+v", add)
	}
}

func TestEscapeDirective(t *testing.T) {
	p, _ := plan(t, "# escape=`\nFROM busybox\nRUN echo a `\n  b\n", Options{})
	if got := p.Target.Steps[0].Run.Args[2]; got != "echo a   b" {
		t.Errorf("continued line %q", got)
	}
}

func TestScratch(t *testing.T) {
	p, im := plan(t, "FROM scratch\nCOPY x /x\nCMD [\"/x\"]\n", Options{})
	img := p.Target.Image
	if len(im.asked) != 0 || img.Config.WorkingDir != "/" || !reflect.DeepEqual(img.Config.Env, []string{"PATH=" + defaultPath}) {
		t.Errorf("asked %v config %+v", im.asked, img.Config)
	}
	if len(img.History) != 2 || img.History[0].EmptyLayer || !img.History[1].EmptyLayer {
		t.Errorf("history %+v", img.History)
	}
	_ = dockerspec.DockerOCIImage{}
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		old   fs.FileMode
		dir   bool
		want  fs.FileMode
		isErr bool
	}{
		{"755", 0o600, false, 0o755, false},
		{"4755", 0o600, false, 0o755 | fs.ModeSetuid, false},
		{"u+x", 0o644, false, 0o744, false},
		{"go-w", 0o666, false, 0o644, false},
		{"a=rX", 0o700, true, 0o555, false},
		{"a=rX", 0o600, false, 0o444, false},
		{"a=rX", 0o700, false, 0o555, false},
		{"u+s,g=u", 0o750, false, 0o770 | fs.ModeSetuid, false},
		{"+t", 0o777, true, 0o777 | fs.ModeSticky, false},
		{"o=", 0o777, false, 0o770, false},
		{"10000", 0, false, 0, true},
		{"u*x", 0, false, 0, true},
		{"q+x", 0, false, 0, true},
	} {
		m, err := ParseMode(tc.mode)
		if tc.isErr {
			if err == nil {
				t.Errorf("ParseMode(%q) accepted it", tc.mode)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMode(%q) = %v", tc.mode, err)
			continue
		}
		if got := m.Apply(tc.old, tc.dir); got != tc.want {
			t.Errorf("ParseMode(%q).Apply(%v, dir=%v) = %v, want %v", tc.mode, tc.old, tc.dir, got, tc.want)
		}
	}
}

func TestExposedPorts(t *testing.T) {
	for spec, want := range map[string][]string{
		"80": {"80/tcp"}, "53/UDP": {"53/udp"}, "1-3/sctp": {"1/sctp", "2/sctp", "3/sctp"},
		"8080:80": {"80/tcp"}, "[::1]:8080:80/udp": {"80/udp"},
	} {
		got, err := exposedPorts(spec)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("exposedPorts(%q) = %v, %v; want %v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"x", "80/ip", "3-1", "70000"} {
		if _, err := exposedPorts(spec); err == nil {
			t.Errorf("exposedPorts(%q) accepted it", spec)
		}
	}
}

func FuzzPlan(f *testing.F) {
	for _, s := range []string{
		"FROM busybox\nRUN echo $X\n",
		"ARG B=busybox\nFROM $B AS a\nCOPY --from=a x y\nFROM a\nONBUILD RUN x\n",
		"FROM scratch\nCOPY <<EOF /x\n$Y\nEOF\n",
		"# escape=`\nFROM busybox\nENV A=`$B\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, df string) {
		file, err := Parse([]byte(df))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %v is not an *Error", err)
			}
			return
		}
		p, err := file.Plan(Options{Platform: amd64}, base().resolve)
		if err != nil {
			return
		}
		if p.Target == nil || len(p.Stages) == 0 || p.Stages[len(p.Stages)-1].Index < p.Target.Index {
			t.Fatalf("plan without its target: %+v", p)
		}
		for _, st := range p.Stages {
			for _, s := range st.Steps {
				if s.Kind == Copy && !strings.HasPrefix(s.Copy.Dest, "/") {
					t.Fatalf("relative destination %q", s.Copy.Dest)
				}
			}
		}
	})
}
