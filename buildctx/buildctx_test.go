package buildctx

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tree makes files under a temp dir: "name" -> content, "dir/" -> a
// directory, "name@" -> a symlink to content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, strings.TrimSuffix(strings.TrimSuffix(name, "@"), "/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasSuffix(name, "@"):
			err = os.Symlink(content, p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func names(srcs []Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Name+"="+s.Rel)
	}
	return out
}

func TestMatch(t *testing.T) {
	root := tree(t, map[string]string{
		"a.go": "a", "b.go": "b", "c.txt": "c", "sub/d.go": "d", "sub/e/f.go": "f",
		"link@": "sub", "abs@": "/sub/d.go", "out@": "../../../etc/passwd", "dotdot@": "../../sub",
		"ignored.go": "i", "keep/x": "x",
	})
	if err := os.WriteFile(filepath.Join(root, ".dockerignore"), []byte("ignored.go\nkeep\n!keep/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, err := Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		want []string
		err  error
	}{
		{"a.go", []string{"a.go=a.go"}, nil},
		{"/a.go", []string{"a.go=a.go"}, nil},
		{"../../a.go", []string{"a.go=a.go"}, nil},
		{".", []string{".=."}, nil},
		{"*.go", []string{"a.go=a.go", "b.go=b.go"}, nil},
		{"s?b/*.go", []string{"d.go=sub/d.go"}, nil},
		{"*/d.go", []string{"d.go=sub/d.go", "d.go=sub/d.go", "d.go=sub/d.go"}, nil}, // through dotdot/ and link/ too
		{"link", []string{"link=sub"}, nil},
		{"link/e/f.go", []string{"f.go=sub/e/f.go"}, nil},
		{"abs", []string{"abs=sub/d.go"}, nil},  // an absolute link means the context's root
		{"dotdot", []string{"dotdot=sub"}, nil}, // .. stops at the root
		{"out", nil, ErrNotFound},               // /etc/passwd inside the context: there is none
		{"nosuch", nil, ErrNotFound},
		{"*.nosuch", nil, nil},
		{"ignored.go", nil, ErrNotFound},
		{"keep/x", []string{"x=keep/x"}, nil},
	} {
		got, err := ctx.Match(tc.src)
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("Match(%q) = %v, %v; want %v, %v", tc.src, names(got), err, tc.want, tc.err)
		}
	}
}

func walk(t *testing.T, tr *Tree, src string) []string {
	t.Helper()
	srcs, err := tr.Match(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range srcs {
		if err := tr.Walk(s, func(e Entry) error {
			suffix := ""
			switch {
			case e.Info.IsDir():
				suffix = "/"
			case e.Link != "":
				suffix = "@" + e.Link
			}
			out = append(out, e.Rel+suffix)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestWalk(t *testing.T) {
	root := tree(t, map[string]string{
		"app/main.go": "m", "app/lib/x.go": "x", "app/.git/HEAD": "h", "app/link@": "/etc/passwd",
		"app/docs/a.md": "a", "app/docs/keep.md": "k", "app/empty/": "",
	})
	if err := os.WriteFile(filepath.Join(root, "Dockerfile.dockerignore"), []byte("**/.git\napp/docs\n!app/docs/keep.md\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The Dockerfile's own ignore file wins over .dockerignore.
	if err := os.WriteFile(filepath.Join(root, ".dockerignore"), []byte("app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, err := Open(root, filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	got := walk(t, ctx, "app")
	want := []string{".", "docs/", "docs/keep.md", "empty/", "lib/", "lib/x.go", "link@/etc/passwd", "main.go"}
	want[0] = "./"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk = %q, want %q", got, want)
	}
	// A stage's tree has no exclusions.
	if got := walk(t, NewTree(root), "app/.git"); !reflect.DeepEqual(got, []string{"./", "HEAD"}) {
		t.Errorf("Walk of a stage's files = %q", got)
	}
}

func TestDigest(t *testing.T) {
	root := tree(t, map[string]string{"src/a": "one", "src/b/c": "two", "src/l@": "a"})
	sum := func() string {
		tr := NewTree(root)
		srcs, err := tr.Match("src")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if err := tr.Digest(srcs, h); err != nil {
			t.Fatal(err)
		}
		return string(h.Sum(nil))
	}
	first := sum()
	// Times do not count.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "src/a"), future, future); err != nil {
		t.Fatal(err)
	}
	if sum() != first {
		t.Error("the digest changed with a file's mtime")
	}
	for name, change := range map[string]func(){
		"content": func() { os.WriteFile(filepath.Join(root, "src/a"), []byte("ONE"), 0o644) },
		"mode":    func() { os.Chmod(filepath.Join(root, "src/b/c"), 0o755) },
		"link":    func() { os.Remove(filepath.Join(root, "src/l")); os.Symlink("b", filepath.Join(root, "src/l")) },
		"new":     func() { os.WriteFile(filepath.Join(root, "src/b/new"), nil, 0o644) },
	} {
		before := sum()
		change()
		if sum() == before {
			t.Errorf("the digest did not change with the %s", name)
		}
	}
}

func TestIsArchiveAndUnpack(t *testing.T) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, h := range []*tar.Header{
		{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "dir/f", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2, Uid: 1234},
		{Name: "../../escape", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("hi"))
		}
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	root := tree(t, map[string]string{"plain.txt": "not a tar at all"})
	os.WriteFile(filepath.Join(root, "a.tar"), raw.Bytes(), 0o644)
	os.WriteFile(filepath.Join(root, "a.tgz"), gz.Bytes(), 0o644)
	tr := NewTree(root)
	for name, want := range map[string]bool{"a.tar": true, "a.tgz": true, "plain.txt": false} {
		srcs, err := tr.Match(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.IsArchive(srcs[0]); got != want {
			t.Errorf("IsArchive(%s) = %v, want %v", name, got, want)
		}
	}
	dir := filepath.Join(t.TempDir(), "ctx")
	os.Mkdir(dir, 0o755)
	// An entry that would land outside is refused, and nothing leaves.
	if err := Unpack(bytes.NewReader(gz.Bytes()), dir); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("Unpack = %v, want an error about the entry outside", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "dir/f")); err != nil || string(b) != "hi" {
		t.Errorf("unpacked file: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "..", "escape")); err == nil {
		t.Error("an entry left the directory")
	}
}
