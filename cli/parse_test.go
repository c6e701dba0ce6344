package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/boxcli/box/container"
)

func TestParseVolume(t *testing.T) {
	tests := []struct {
		spec string
		want container.Mount
		err  string
	}{
		{"/src:/dst", container.Mount{Type: "bind", Source: "/src", Destination: "/dst"}, ""},
		{"/src:/dst:ro", container.Mount{Type: "bind", Source: "/src", Destination: "/dst", Options: []string{"ro"}}, ""},
		{"/src:/dst/../x:rw,z", container.Mount{Type: "bind", Source: "/src", Destination: "/x", Options: []string{"rw"}}, ""},
		{"/data", container.Mount{Type: "volume", Destination: "/data"}, ""},
		{"data", container.Mount{}, "HOST-PATH:CONTAINER-PATH"},
		{"/src:rel", container.Mount{}, "must be absolute"},
		{"name:/dst", container.Mount{Type: "volume", Name: "name", Destination: "/dst"}, ""},
		{"my_data.1:/dst/:ro", container.Mount{Type: "volume", Name: "my_data.1", Destination: "/dst", Options: []string{"ro"}}, ""},
		{"-x:/dst", container.Mount{}, "invalid volume name"},
		{"a:/dst", container.Mount{}, "invalid volume name"},
		{"/a:/b:bogus", container.Mount{}, "unknown option"},
		{"/a:/b:ro:x", container.Mount{}, "HOST-PATH"},
		{":/b", container.Mount{}, "HOST-PATH"},
	}
	for _, tc := range tests {
		got, err := parseVolume(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseVolume(%q) error = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseVolume(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestParseMount(t *testing.T) {
	tests := []struct {
		spec string
		want container.Mount
		err  string
	}{
		{"type=bind,source=/a,target=/b", container.Mount{Type: "bind", Source: "/a", Destination: "/b"}, ""},
		{"type=bind,src=/a,dst=/b,readonly", container.Mount{Type: "bind", Source: "/a", Destination: "/b", Options: []string{"ro"}}, ""},
		{"type=bind,src=/a,dst=/b,readonly=false", container.Mount{Type: "bind", Source: "/a", Destination: "/b"}, ""},
		{"type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700", container.Mount{Type: "tmpfs", Destination: "/t", Options: []string{"size=1m", "mode=700"}}, ""},
		{"type=bind,target=/b", container.Mount{}, "needs source"},
		{"type=tmpfs,src=/x,target=/t", container.Mount{}, "no source"},
		{"type=volume,target=/t", container.Mount{Type: "volume", Destination: "/t"}, ""},
		{"type=volume,source=vol,target=/t", container.Mount{Type: "volume", Name: "vol", Destination: "/t"}, ""},
		{"type=volume,source=v,target=/t", container.Mount{}, "invalid volume name"},
		{"type=bind,source=/a,target=rel", container.Mount{}, "absolute"},
		{"type=bind,source=/a,target=/b,wat=1", container.Mount{}, "unknown key"},
	}
	for _, tc := range tests {
		got, err := parseMount(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseMount(%q) error = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseMount(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "HOSTVAR" {
			return "from-host", true
		}
		return "", false
	}
	got, err := buildEnv(nil, []string{"A=1", "HOSTVAR", "UNSET", "B=x=y", "A=2", "E="}, lookup)
	want := []string{"A=1", "HOSTVAR=from-host", "B=x=y", "A=2", "E="}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("buildEnv = %q, %v; want %q", got, err, want)
	}
	if _, err := buildEnv(nil, []string{"=x"}, lookup); err == nil {
		t.Error("buildEnv accepted an empty name")
	}
}

func TestParseEnvFile(t *testing.T) {
	in := "# comment\n\nA=1\n  B=\"quoted\"\nC\n"
	got, err := parseEnvFile(strings.NewReader(in), "f")
	want := []string{"A=1", "B=\"quoted\"", "C"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseEnvFile = %q, %v; want %q", got, err, want)
	}
	if _, err := parseEnvFile(strings.NewReader("ok=1\nbad name=2\n"), "f"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("parseEnvFile error = %v, want it to name line 2", err)
	}
}

func TestParseTmpfs(t *testing.T) {
	got, err := parseTmpfs("/run:size=1m,noexec")
	want := container.Mount{Type: "tmpfs", Destination: "/run", Options: []string{"size=1m", "noexec"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseTmpfs = %+v, %v", got, err)
	}
	if _, err := parseTmpfs("rel"); err == nil {
		t.Error("parseTmpfs accepted a relative path")
	}
}

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{
		"docker.io/library/busybox:latest": {"docker.io/library/busybox", "latest"},
		"localhost:5000/x:1":               {"localhost:5000/x", "1"},
		"localhost:5000/x":                 {"localhost:5000/x", "latest"},
	} {
		r, tag := splitName(in)
		if r != want[0] || tag != want[1] {
			t.Errorf("splitName(%q) = %q, %q; want %q", in, r, tag, want)
		}
	}
}

func TestParseEnvFileHostile(t *testing.T) {
	long := "K=" + strings.Repeat("v", 100_000) // over bufio's 64 KiB
	for _, c := range []struct {
		name, file string
		want       []string
		err        string
	}{
		{"a line over 64 KiB", "A=1\n" + long + "\n", []string{"A=1", long}, ""},
		{"longer than exec takes", "A=1\nK=" + strings.Repeat("v", maxEnvEntry) + "\n", nil, `env.list line 2: environment variable K is 131073 bytes long; Linux passes at most 131071`},
		{"longer than the reader reads", "A=1\n\nK=" + strings.Repeat("v", 5*maxEnvEntry), nil, `env.list line 3: longer than`},
		{"a byte order mark", "\uFEFFA=1\nB=2\n", []string{"A=1", "B=2"}, ""},
		{"UTF-8 names", "ÉTÉ=1\n日本=2\n", []string{"ÉTÉ=1", "日本=2"}, ""},
		{"not UTF-8 in a name", "A=1\n\xffB=1\n", nil, `env.list line 2: invalid environment variable name "\xffB": it is not UTF-8 text`},
		{"not UTF-8 in a value", "A=\xfe\n", nil, `env.list line 1: invalid environment variable A: its value is not UTF-8 text`},
		{"a no-break space", "A\u00a0B=1\n", nil, `env.list line 1: invalid environment variable name "A\u00a0B": no whitespace`},
		{"a C1 control", "A\u0085B=1\n", nil, `env.list line 1: invalid environment variable name "A\u0085B": no whitespace`},
		{"a blank", "bad name=1\n", nil, `env.list line 1: invalid environment variable name "bad name"`},
		{"no name", "=1\n", nil, `env.list line 1: invalid environment variable "=1": it needs a name`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseEnvFile(strings.NewReader(c.file), "env.list")
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) {
					t.Fatalf("parseEnvFile = %v, want an error starting %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("parseEnvFile = %d entries, %v; want %d", len(got), err, len(c.want))
			}
		})
	}
}

func TestBuildEnvFlags(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	for _, c := range []struct{ flag, err string }{
		{"ÉTÉ=1", ""},
		{"\xff=1", "invalid environment variable name \"\\xff\": it is not UTF-8 text"},
		{"\ufffd=1", "invalid environment variable name \"\ufffd\": it is not UTF-8 text"},
		{"A=\xff", "invalid environment variable A: its value is not UTF-8 text"},
		{"A\u2028B=1", "invalid environment variable name \"A\\u2028B\": no whitespace"},
		{"K=" + strings.Repeat("v", maxEnvEntry), "environment variable K is 131073 bytes long"},
	} {
		_, err := buildEnv(nil, []string{c.flag}, none)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)) {
			t.Errorf("buildEnv(-e %.20q) = %v, want %q", c.flag, err, c.err)
		}
	}
}
