package tarcp

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var stamp = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// files makes what spec says below dir: "name/" a directory, "name->to" a
// symlink, "name=content" a file; each timed at stamp.
func files(t *testing.T, dir string, spec ...string) {
	t.Helper()
	for _, s := range spec {
		p := filepath.Join(dir, strings.SplitN(strings.SplitN(s, "=", 2)[0], "->", 2)[0])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(s, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.Contains(s, "->"):
			err = os.Symlink(strings.SplitN(s, "->", 2)[1], p)
		default:
			_, content, _ := strings.Cut(s, "=")
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s, "->") {
			if err := os.Chtimes(p, stamp, stamp); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// listing describes every file below dir, one line each, sorted:
// "name/" "name->to" "name=content".
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.IsDir():
			out = append(out, rel+"/")
		case fi.Mode()&os.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			out = append(out, rel+"->"+to)
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// copyTree is box cp between two host paths: Create on one side,
// Extract on the other.
func copyTree(srcRoot, src, dstRoot, dst string) error {
	var buf bytes.Buffer
	if err := Create(&buf, srcRoot, src); err != nil {
		return err
	}
	return Extract(&buf, dstRoot, dst, false)
}

// TestCopyRules checks docker cp's rules, host to host.
func TestCopyRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst string
		existing []string // in the destination directory first
		want     []string
		err      error
	}{
		{name: "file into a directory", src: "f", dst: "out", existing: []string{"out/"},
			want: []string{"out/", "out/f=file"}},
		{name: "file to a new name", src: "f", dst: "g",
			want: []string{"g=file"}},
		{name: "file over a file", src: "f", dst: "g", existing: []string{"g=old"},
			want: []string{"g=file"}},
		{name: "file over a symlink replaces the link", src: "f", dst: "g", existing: []string{"g->nowhere"},
			want: []string{"g=file"}},
		{name: "file to a new name with a slash", src: "f", dst: "new/", err: ErrNotFound},
		{name: "file under a missing directory", src: "f", dst: "no/g", err: ErrNotFound},
		{name: "directory into a directory", src: "d", dst: "out", existing: []string{"out/"},
			want: []string{"out/", "out/d/", "out/d/e/", "out/d/e/g=deep", "out/d/h=hard", "out/d/link->e/g", "out/d/x=hard"}},
		{name: "directory to a new name", src: "d", dst: "new",
			want: []string{"new/", "new/e/", "new/e/g=deep", "new/h=hard", "new/link->e/g", "new/x=hard"}},
		{name: "directory over a file", src: "d", dst: "g", existing: []string{"g=old"}, err: ErrDirOnFile},
		{name: "contents to a new name", src: "d/.", dst: "new",
			want: []string{"new/", "new/e/", "new/e/g=deep", "new/h=hard", "new/link->e/g", "new/x=hard"}},
		{name: "contents into a directory", src: "d/.", dst: "out", existing: []string{"out/", "out/old=1"},
			want: []string{"out/", "out/e/", "out/e/g=deep", "out/h=hard", "out/link->e/g", "out/old=1", "out/x=hard"}},
		{name: "contents onto a file", src: "d/.", dst: "g", existing: []string{"g=old"}, err: ErrNotDir},
		{name: "contents of a file", src: "f/.", dst: "out", existing: []string{"out/"}, err: ErrNotDir},
		{name: "a symlink is copied as one", src: "d/link", dst: "out", existing: []string{"out/"},
			want: []string{"out/", "out/link->e/g"}},
		{name: "an entry in the way is replaced", src: "d", dst: "out", existing: []string{"out/d/e=file", "out/d/link/"},
			want: []string{"out/", "out/d/", "out/d/e/", "out/d/e/g=deep", "out/d/h=hard", "out/d/link->e/g", "out/d/x=hard"}},
		{name: "missing source", src: "nope", dst: "out", err: ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			files(t, src, "f=file", "d/e/g=deep", "d/x=hard", "d/link->e/g")
			if err := os.Link(filepath.Join(src, "d/x"), filepath.Join(src, "d/h")); err != nil {
				t.Fatal(err)
			}
			files(t, dst, tc.existing...)
			// Not filepath.Join, which would clean away "/." and a final "/".
			err := copyTree("", src+"/"+tc.src, "", dst+"/"+tc.dst)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("copy %s to %s = %v, want %v", tc.src, tc.dst, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("copy %s to %s: %v", tc.src, tc.dst, err)
			}
			if got := listing(t, dst); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("copy %s to %s made\n  %q\nwant\n  %q", tc.src, tc.dst, got, tc.want)
			}
		})
	}
}

// TestAttributes: modes (a read-only directory included, which must still
// be filled), modification times and hard links come through.
func TestAttributes(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	files(t, src, "d/ro/f=x", "d/exe=#!", "d/one=1")
	if err := os.Link(filepath.Join(src, "d/one"), filepath.Join(src, "d/two")); err != nil {
		t.Fatal(err)
	}
	for p, m := range map[string]os.FileMode{"d/exe": 0o751, "d/ro/f": 0o400, "d/ro": 0o555} {
		if err := os.Chmod(filepath.Join(src, p), m); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"d/ro", "d"} {
		if err := os.Chtimes(filepath.Join(src, p), stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = os.Chmod(filepath.Join(src, "d/ro"), 0o755)
		_ = os.Chmod(filepath.Join(dst, "new/ro"), 0o755)
	})
	if err := copyTree("", filepath.Join(src, "d"), "", filepath.Join(dst, "new")); err != nil {
		t.Fatal(err)
	}
	for p, m := range map[string]os.FileMode{"new/exe": 0o751, "new/ro/f": 0o400, "new/ro": 0o555 | os.ModeDir, "new": 0o755 | os.ModeDir} {
		fi, err := os.Stat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != m {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), m)
		}
		if !fi.ModTime().Equal(stamp) {
			t.Errorf("%s: modified %v, want %v", p, fi.ModTime(), stamp)
		}
	}
	one, _ := os.Stat(filepath.Join(dst, "new/one"))
	two, _ := os.Stat(filepath.Join(dst, "new/two"))
	if !os.SameFile(one, two) {
		t.Errorf("new/one and new/two are not one file")
	}
}

// TestContainerRoot: with a root, the user's path resolves inside it,
// absolute symlinks and ".." included, and the copy stays there.
func TestContainerRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	files(t, base, "outside/secret=host", "host/")
	files(t, root, "real/passwd=ctr", "etc->/real", "up->../../..", "srv/")
	var buf bytes.Buffer
	if err := Create(&buf, root, "/etc/passwd"); err != nil {
		t.Fatal(err)
	}
	if err := Extract(&buf, "", filepath.Join(base, "host/passwd"), false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "host/passwd")); string(b) != "ctr" {
		t.Errorf("/etc/passwd through the absolute symlink read %q, want the container's", b)
	}
	for _, p := range []string{"../../outside/secret", "/up/outside/secret", "/etc/../../outside/secret"} {
		if err := Create(io.Discard, root, p); !errors.Is(err, ErrNotFound) {
			t.Errorf("Create(%s) = %v, want ErrNotFound (resolved inside the root)", p, err)
		}
	}
	// Into the container: through its symlinks, inside it.
	for _, dst := range []string{"/etc", "/up/srv", "/../srv/x"} {
		files(t, base, "in=data")
		if err := copyTree("", filepath.Join(base, "in"), root, dst); err != nil {
			t.Errorf("copy in to %s: %v", dst, err)
		}
	}
	want := []string{"etc->/real", "real/", "real/in=data", "real/passwd=ctr", "srv/", "srv/in=data", "srv/x=data", "up->../../.."}
	if got := listing(t, root); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("root after the copies:\n  %q\nwant\n  %q", got, want)
	}
	if got := listing(t, filepath.Join(base, "outside")); len(got) != 1 {
		t.Errorf("outside changed: %q", got)
	}
}

// TestRawStream: a user's own tar ("-") may not leave its directory,
// neither by name nor through a symlink it made itself.
func TestRawStream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tar.Header
		want    []string
		bad     bool
	}{
		{name: "dot-dot names are cleaned below the destination",
			entries: []tar.Header{{Name: "../../x", Typeflag: tar.TypeReg, Mode: 0o644}, {Name: "/abs", Typeflag: tar.TypeReg, Mode: 0o644}},
			want:    []string{"abs=", "x="}},
		{name: "through its own symlink",
			entries: []tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../outside"}, {Name: "l/x", Typeflag: tar.TypeReg, Mode: 0o644}},
			bad:     true},
		{name: "a hard link to a file outside",
			entries: []tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside/secret"}},
			bad:     true},
		{name: "a hard link through its own symlink",
			entries: []tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../outside"}, {Name: "h", Typeflag: tar.TypeLink, Linkname: "l/secret"}},
			bad:     true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			files(t, base, "outside/secret=host", "root/dst/")
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			err := Extract(&buf, filepath.Join(base, "root"), "/dst", true)
			if tc.bad && !errors.Is(err, ErrSymlinkInWay) && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Extract = %v, want ErrSymlinkInWay or not found", err)
			}
			if !tc.bad {
				if err != nil {
					t.Fatal(err)
				}
				if got := listing(t, filepath.Join(base, "root/dst")); strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("made %q, want %q", got, tc.want)
				}
			}
			if got := listing(t, filepath.Join(base, "outside")); strings.Join(got, " ") != "secret=host" {
				t.Errorf("outside: %q", got)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(base, "outside/secret"), &st); err != nil {
				t.Fatal(err)
			} else if st.Nlink != 1 {
				t.Errorf("outside/secret got %d links", st.Nlink)
			}
		})
	}
}
