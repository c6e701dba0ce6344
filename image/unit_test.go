package image

import (
	"errors"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestMappedIDs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     uint64
		wantErr  bool
	}{
		{"single", "         0       1000          1\n", 1, false},
		{"subuid", "0 1001 1\n1 100000 65535\n", 65536, false},
		{"identity", "0 0 4294967295\n", 4294967295, false},
		{"blank lines", "\n0 0 1\n\n", 1, false},
		{"empty", "", 0, true},
		{"two fields", "0 1\n", 0, true},
		{"garbage", "a b c\n", 0, true},
		{"negative", "0 0 -1\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mappedIDs(strings.NewReader(tc.in))
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("mappedIDs(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	if ok, v := parseVerdict(formatVerdict("6.1", nil), "6.1"); !ok || v != nil {
		t.Errorf("ok verdict read back as %v, %v", ok, v)
	}
	ok, v := parseVerdict(formatVerdict("6.1", errors.New("rename: EIO\nmore")), "6.1")
	if !ok || v == nil || !strings.Contains(v.Error(), "rename: EIO more") {
		t.Errorf("fail verdict read back as %v, %v", ok, v)
	}
	for _, in := range []string{"", "6.1\n", "6.2\nok\n", "6.1\nmaybe\n", "6.1\nok\nextra\n"} {
		if ok, _ := parseVerdict([]byte(in), "6.1"); ok {
			t.Errorf("parseVerdict(%q) accepted a verdict for 6.1", in)
		}
	}
}

func TestMatch(t *testing.T) {
	id := func(c byte) string { return strings.Repeat(string(c), 64) }
	dg := digest.Digest("sha256:" + id('9'))
	imgs := []candidate{
		{ID: id('a'), Names: []string{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"}, Digests: []digest.Digest{dg}},
		{ID: id('b'), Names: []string{"localhost/busybox:latest"}},
		{ID: id('c'), Names: []string{"quay.io/team/tool:latest"}},
		{ID: "abc" + id('d')[3:], Names: []string{"example.com/x/y:1", "other.io/z/y:1"}},
		{ID: "abd" + id('e')[3:], Names: []string{"docker.io/foo/y:1"}},
		{ID: "fee" + id('0')[3:]},
	}
	for _, tc := range []struct {
		ref, want string
		err       error
	}{
		{"busybox", id('b'), nil}, // localhost first, as podman
		{"busybox:1.36", id('a'), nil},
		{"docker.io/library/busybox", id('a'), nil},
		{"docker.io/busybox:latest", id('a'), nil},
		{"localhost/busybox", id('b'), nil},
		{"tool", id('c'), nil},
		{"team/tool", id('c'), nil},
		{"quay.io/tool", "", ErrImageNotFound},
		{"tool:2", "", ErrImageNotFound},
		{"y:1", "", ErrAmbiguous},
		{"x/y:1", "abc" + id('d')[3:], nil},
		{"busybox@" + string(dg), id('a'), nil},
		{"docker.io/library/busybox@" + string(dg), id('a'), nil},
		{id('c'), id('c'), nil},
		{"sha256:" + id('c'), id('c'), nil},
		{"sha256:" + id('7'), "", ErrImageNotFound},
		{"fee", "fee" + id('0')[3:], nil},
		{"ab", "", ErrImageNotFound}, // too short for a prefix, and no such name
		{"abc", "abc" + id('d')[3:], nil},
		{"ab" + "c", "abc" + id('d')[3:], nil},
		{"sha256:ab", "", ErrImageNotFound},
		{"aaa", id('a'), nil},
		{"ddd", "", ErrImageNotFound},
		{"", "", ErrBadReference},
		{"Busybox", "", ErrBadReference},
		{" busybox", "", ErrBadReference},
		{"sha256:zz", "", ErrBadReference},
		{"a/b:c:d", "", ErrBadReference},
	} {
		got, err := match(tc.ref, imgs)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("match(%q) = %q, %v; want %q, %v", tc.ref, got, err, tc.want, tc.err)
		}
	}
	// Ambiguous ID prefix.
	two := []candidate{{ID: "abc1" + id('0')[4:]}, {ID: "abc2" + id('0')[4:]}}
	if _, err := match("abc", two); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("match(abc) over two IDs = %v, want ErrAmbiguous", err)
	}
}

func TestOCIName(t *testing.T) {
	for _, tc := range []struct {
		ann     map[string]string
		want    string
		wantErr bool
	}{
		{map[string]string{ocispec.AnnotationRefName: "latest"}, "", false},
		{map[string]string{ocispec.AnnotationRefName: "example.com/a/b:1"}, "example.com/a/b:1", false},
		{map[string]string{ocispec.AnnotationRefName: "busybox:1"}, "docker.io/library/busybox:1", false},
		{map[string]string{containerdNameAnnotation: "docker.io/library/alpine:3", ocispec.AnnotationRefName: "3"}, "docker.io/library/alpine:3", false},
		{map[string]string{containerdNameAnnotation: "app"}, "docker.io/library/app:latest", false},
		{map[string]string{ocispec.AnnotationRefName: "Bad/Name:1"}, "", true},
		{nil, "", false},
	} {
		got, err := ociName(tc.ann)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ociName(%v) = %q, %v; want %q, error %v", tc.ann, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ in, domain, want string }{
		{"foo", "localhost", "localhost/foo:latest"},
		{"foo:2", "localhost", "localhost/foo:2"},
		{"example.com/foo", "localhost", "example.com/foo:latest"},
		{"foo", "docker.io", "docker.io/library/foo:latest"},
	} {
		if got, err := normalizeName(tc.in, tc.domain); got != tc.want || err != nil {
			t.Errorf("normalizeName(%q, %q) = %q, %v; want %q", tc.in, tc.domain, got, err, tc.want)
		}
	}
	if _, err := normalizeName("foo@sha256:"+strings.Repeat("a", 64), "localhost"); !errors.Is(err, ErrBadReference) {
		t.Errorf("normalizeName(digest) = %v, want ErrBadReference", err)
	}
}

func TestApplyChanges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []string
		check   func(c ocispec.ImageConfig) bool
		wantErr bool
	}{
		{"cmd json", []string{`CMD ["a", "b c"]`}, func(c ocispec.ImageConfig) bool { return slices.Equal(c.Cmd, []string{"a", "b c"}) }, false},
		{"cmd shell", []string{`cmd echo "hi there"`}, func(c ocispec.ImageConfig) bool {
			return slices.Equal(c.Cmd, []string{"/bin/sh", "-c", `echo "hi there"`})
		}, false},
		{"entrypoint", []string{`ENTRYPOINT ["/init"]`}, func(c ocispec.ImageConfig) bool { return slices.Equal(c.Entrypoint, []string{"/init"}) }, false},
		{"env pairs replace", []string{"ENV A=1 B='two words'", `ENV A "x y"`}, func(c ocispec.ImageConfig) bool {
			return slices.Equal(c.Env, []string{"A=x y", "B=two words"})
		}, false},
		{"label", []string{`LABEL a=b "c d"=e`}, func(c ocispec.ImageConfig) bool { return c.Labels["a"] == "b" && c.Labels["c d"] == "e" }, false},
		{"workdir relative", []string{"WORKDIR /a", "WORKDIR b/../c"}, func(c ocispec.ImageConfig) bool { return c.WorkingDir == "/a/c" }, false},
		{"user", []string{"USER nobody"}, func(c ocispec.ImageConfig) bool { return c.User == "nobody" }, false},
		{"expose", []string{"EXPOSE 80 53/UDP 8000-8001"}, func(c ocispec.ImageConfig) bool {
			_, a := c.ExposedPorts["80/tcp"]
			_, b := c.ExposedPorts["53/udp"]
			_, d := c.ExposedPorts["8001/tcp"]
			return a && b && d && len(c.ExposedPorts) == 4
		}, false},
		{"volume", []string{`VOLUME ["/v1"]`, "VOLUME /v2 /v3"}, func(c ocispec.ImageConfig) bool { return len(c.Volumes) == 3 }, false},
		{"stopsignal", []string{"STOPSIGNAL 9"}, func(c ocispec.ImageConfig) bool { return c.StopSignal == "9" }, false},
		{"unknown", []string{"RUN make"}, nil, true},
		{"no argument", []string{"CMD"}, nil, true},
		{"bad json", []string{`CMD ["a"`}, nil, true},
		{"bad port", []string{"EXPOSE 70000"}, nil, true},
		{"bad range", []string{"EXPOSE 9-8"}, nil, true},
		{"bad proto", []string{"EXPOSE 80/icmp"}, nil, true},
		{"bad env", []string{"ENV A=1 B"}, nil, true},
		{"open quote", []string{`ENV A="x`}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c ocispec.ImageConfig
			err := applyChanges(&c, tc.changes)
			if tc.wantErr {
				if !errors.Is(err, ErrBadChange) {
					t.Errorf("applyChanges(%q) = %v, want ErrBadChange", tc.changes, err)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Errorf("applyChanges(%q) = %v, config %+v", tc.changes, err, c)
			}
		})
	}
}

// FuzzApplyChanges checks docker import --change lines (one a line of the
// input): no panic; errors are ErrBadChange on one line; what is applied
// is well-formed (WORKDIR absolute and clean, EXPOSE keys "N/proto" with
// 1 <= N <= 65535, ENV entries and LABEL keys named, the shell form
// wrapped in /bin/sh -c), and applying the same lines again gives the
// same config.
func FuzzApplyChanges(f *testing.F) {
	for _, s := range []string{
		`CMD ["a"]`, "ENV A=1 B='x y'", "EXPOSE 1-3/udp", `LABEL "a b"=c\ d`, "CMD echo hi", `ENTRYPOINT ["/x", "-y"]`,
		"WORKDIR /a/../b", "WORKDIR rel\nWORKDIR ../x", "USER 1000:1000", "STOPSIGNAL SIGTERM", `VOLUME ["/v", "/w"]`,
		"VOLUME /a /b", "ENV OLD some value", "LABEL k v w", "EXPOSE 80 53/UDP 9000-9001/sctp",
		// Bad ones.
		"", "CMD", "CMD [", `CMD ["a", 1]`, "ENV =x", "ENV 'a", "ENV a\\", "EXPOSE 0", "EXPOSE 70000", "EXPOSE 5-3",
		"EXPOSE 80/icmp", "EXPOSE -1", "VOLUME [1]", "FROM x", "ENV A=1\nBOGUS", "EXPOSE 1-65535/tcp", "WORKDIR ..\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		var c ocispec.ImageConfig
		err := applyChanges(&c, lines)
		if err != nil {
			if !errors.Is(err, ErrBadChange) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("applyChanges(%q) error %q: not ErrBadChange on one line", lines, err)
			}
			return
		}
		if c.WorkingDir != "" && (!path.IsAbs(c.WorkingDir) || path.Clean(c.WorkingDir) != c.WorkingDir) {
			t.Fatalf("applyChanges(%q): WORKDIR %q", lines, c.WorkingDir)
		}
		for p := range c.ExposedPorts {
			port, proto, _ := strings.Cut(p, "/")
			n, err := strconv.Atoi(port)
			if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port || (proto != "tcp" && proto != "udp" && proto != "sctp") {
				t.Fatalf("applyChanges(%q): exposed port %q", lines, p)
			}
		}
		for _, e := range c.Env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				t.Fatalf("applyChanges(%q): ENV entry %q", lines, e)
			}
		}
		if _, ok := c.Labels[""]; ok {
			t.Fatalf("applyChanges(%q): a label without a name", lines)
		}
		for _, l := range lines {
			word, rest, _ := strings.Cut(strings.TrimSpace(l), " ")
			rest = strings.TrimSpace(rest)
			if (strings.EqualFold(word, "CMD") || strings.EqualFold(word, "ENTRYPOINT")) && !strings.HasPrefix(rest, "[") {
				got := c.Cmd
				if strings.EqualFold(word, "ENTRYPOINT") {
					got = c.Entrypoint
				}
				// A later line of the same kind may have replaced it.
				if len(got) != 3 || got[0] != "/bin/sh" || got[1] != "-c" {
					if !slices.ContainsFunc(lines, func(o string) bool {
						w, r, _ := strings.Cut(strings.TrimSpace(o), " ")
						return strings.EqualFold(w, word) && strings.HasPrefix(strings.TrimSpace(r), "[")
					}) {
						t.Fatalf("applyChanges(%q): shell form %s gave %q", lines, word, got)
					}
				}
			}
		}
		var again ocispec.ImageConfig
		if err := applyChanges(&again, lines); err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("applyChanges(%q) is not deterministic: %+v, then %+v, %v", lines, c, again, err)
		}
	})
}
