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
