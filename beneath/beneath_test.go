package beneath

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
		err  error
	}{
		{"", nil, nil},
		{".", nil, nil},
		{"a", []string{"a"}, nil},
		{"a/b/c", []string{"a", "b", "c"}, nil},
		{"a//b/./c/", []string{"a", "b", "c"}, nil},
		{"./a", []string{"a"}, nil},
		{"...", []string{"..."}, nil},
		{"a/..b", []string{"a", "..b"}, nil},
		{"/a", nil, ErrOutside},
		{"/", nil, ErrOutside},
		{"..", nil, ErrOutside},
		{"a/../b", nil, ErrOutside},
		{"a/..", nil, ErrOutside},
	} {
		got, err := Split(tc.name)
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, %v, want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// tree makes, in a new directory:
//
//	top/ (the directory handles are opened on)
//	  d/ d/f d/e/ d/e/g
//	  f
//	  up -> ..              down -> d          abs -> OUT
//	  d/out -> ../../out    d/e/loop -> loop   fifo (a named pipe)
//	out/secret (outside top)
//
// and returns top's path and handle.
func tree(t *testing.T) (string, *os.File) {
	t.Helper()
	base := t.TempDir()
	top := filepath.Join(base, "top")
	for _, d := range []string{"top/d/e", "out"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"top/d/f", "top/d/e/g", "top/f", "out/secret"} {
		if err := os.WriteFile(filepath.Join(base, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{
		"top/up": "..", "top/down": "d", "top/abs": filepath.Join(base, "out"),
		"top/d/out": "../../out", "top/d/e/loop": "loop",
	} {
		if err := os.Symlink(to, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(top, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := os.OpenFile(top, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return top, h
}

// realPath is where an open file really is.
func realPath(t *testing.T, f *os.File) string {
	t.Helper()
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpen(t *testing.T) {
	top, h := tree(t)
	for _, tc := range []struct {
		name  string
		flags int
		// want is the path below top the file must really be at; "" wants
		// err.
		want string
		err  error
	}{
		{".", unix.O_RDONLY | unix.O_DIRECTORY, ".", nil},
		{"f", unix.O_RDONLY, "f", nil},
		{"d/e/g", unix.O_RDONLY, "d/e/g", nil},
		{"d/./e//g", unix.O_RDONLY, "d/e/g", nil},
		{"d/e", unix.O_PATH | unix.O_DIRECTORY, "d/e", nil},
		{"fifo", unix.O_PATH, "fifo", nil},
		// a symlink as the last component: refused, or itself with O_PATH
		{"down", unix.O_RDONLY, "", unix.ELOOP},
		{"down", unix.O_RDONLY | unix.O_DIRECTORY, "", nil},
		{"down", unix.O_PATH, "down", nil},
		{"abs", unix.O_PATH, "abs", nil},
		{"d/out", unix.O_PATH, "d/out", nil},
		{"d/e/loop", unix.O_RDONLY, "", unix.ELOOP},
		// a symlink on the way: refused wherever it points
		{"down/f", unix.O_RDONLY, "", unix.ELOOP},
		{"up/out/secret", unix.O_RDONLY, "", unix.ELOOP},
		{"abs/secret", unix.O_RDONLY, "", unix.ELOOP},
		{"d/out/secret", unix.O_PATH, "", unix.ELOOP},
		{"d/e/loop/x", unix.O_PATH, "", unix.ELOOP},
		// not a way at all
		{"../out/secret", unix.O_RDONLY, "", ErrOutside},
		{"/etc/passwd", unix.O_RDONLY, "", ErrOutside},
		{"f/x", unix.O_RDONLY, "", unix.ENOTDIR},
		{"nope", unix.O_RDONLY, "", unix.ENOENT},
		{"nope/x", unix.O_RDONLY, "", unix.ENOENT},
	} {
		for _, mode := range []struct {
			name    string
			openat2 bool
		}{{"openat2", true}, {"walk", false}} {
			parts, err := Split(tc.name)
			var f *os.File
			if err == nil {
				f, err = open(h, parts, tc.flags, mode.openat2)
			}
			if tc.want == "" && tc.err == nil {
				// Either error is right: the symlink is not a directory.
				if err == nil {
					f.Close()
					t.Errorf("%s: Open(%q, %#x) opened %s, want an error", mode.name, tc.name, tc.flags, realPath(t, f))
				}
				continue
			}
			if tc.want == "" {
				if !errors.Is(err, tc.err) {
					t.Errorf("%s: Open(%q, %#x) = %v, want %v", mode.name, tc.name, tc.flags, err, tc.err)
				}
				if f != nil {
					f.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: Open(%q, %#x) = %v, want %s", mode.name, tc.name, tc.flags, err, tc.want)
				continue
			}
			if got, want := realPath(t, f), filepath.Join(top, tc.want); got != want {
				t.Errorf("%s: Open(%q, %#x) opened %s, want %s", mode.name, tc.name, tc.flags, got, want)
			}
			f.Close()
		}
	}
}

func TestOpenParent(t *testing.T) {
	top, h := tree(t)
	p, leaf, err := OpenParent(h, "d/e/new")
	if err != nil {
		t.Fatal(err)
	}
	if got := realPath(t, p); got != filepath.Join(top, "d/e") || leaf != "new" {
		t.Errorf("OpenParent(d/e/new) = %s, %q, want %s, new", got, leaf, filepath.Join(top, "d/e"))
	}
	p.Close()
	if _, _, err := OpenParent(h, "d/out/secret"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("OpenParent(d/out/secret) = %v, want ELOOP", err)
	}
	if _, _, err := OpenParent(h, "."); !errors.Is(err, ErrOutside) {
		t.Errorf("OpenParent(.) = %v, want ErrOutside", err)
	}
}

func TestRemoveAll(t *testing.T) {
	top, h := tree(t)
	out := filepath.Join(filepath.Dir(top), "out")
	for _, name := range []string{"abs", "d", "up", "fifo", "nope", "nope/x"} {
		if err := RemoveAll(h, name); err != nil {
			t.Errorf("RemoveAll(%s): %v", name, err)
		}
		if _, err := os.Lstat(filepath.Join(top, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("RemoveAll(%s) left it: %v", name, err)
		}
	}
	// d held a symlink to out: the link went, not what it pointed to.
	if b, err := os.ReadFile(filepath.Join(out, "secret")); err != nil || string(b) != "out/secret" {
		t.Errorf("out/secret after RemoveAll: %q, %v", b, err)
	}
	if err := RemoveAll(h, "down/f"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("RemoveAll(down/f) = %v, want ELOOP", err)
	}
	if err := RemoveAll(h, "../out"); !errors.Is(err, ErrOutside) {
		t.Errorf("RemoveAll(../out) = %v, want ErrOutside", err)
	}
}

// TestRemoveAllRace removes a deep tree while another goroutine keeps
// swapping one of its directories for a symlink to a directory outside:
// whatever the interleaving, nothing outside goes.
func TestRemoveAllRace(t *testing.T) {
	for i := range 50 {
		base := t.TempDir()
		out := filepath.Join(base, "out")
		mustMkdir(t, out)
		mustWrite(t, filepath.Join(out, "keep"))
		top := filepath.Join(base, "top")
		for j := range 20 {
			mustMkdir(t, filepath.Join(top, "a", "b", strconv.Itoa(j)))
			mustWrite(t, filepath.Join(top, "a", "b", strconv.Itoa(j), "f"))
		}
		if err := os.Symlink(out, filepath.Join(top, "a", "evil")); err != nil {
			t.Fatal(err)
		}
		stop := swapLoop(t, filepath.Join(top, "a", "b"), filepath.Join(top, "a", "evil"))
		h, err := os.OpenFile(top, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_ = RemoveAll(h, "a")
		h.Close()
		stop()
		if _, err := os.Stat(filepath.Join(out, "keep")); err != nil {
			t.Fatalf("try %d: RemoveAll removed a file outside through a swapped symlink: %v", i, err)
		}
	}
}

// swapLoop exchanges a and b (renameat2 RENAME_EXCHANGE) until the
// returned function is called, as a container sharing the directory
// would.
func swapLoop(t *testing.T, a, b string) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		}
	}()
	return func() { close(done); <-stopped }
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzOpen opens any name below a tree full of symlinks that point up,
// out and around: a name either fails or opens the very file its
// components name lexically, never one reached through a symlink, and
// never one outside; with openat2 and with the per-component walk alike.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{".", "f", "d/e/g", "down/f", "up/out/secret", "../out", "d/out/secret", "abs", "d//e/./g", "/x", "d/e/loop/loop"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, name string, usePath bool) {
		if strings.ContainsRune(name, 0) {
			return
		}
		top, h := tree(t)
		flags := unix.O_RDONLY | unix.O_NONBLOCK
		if usePath {
			flags = unix.O_PATH
		}
		parts, err := Split(name)
		if err != nil {
			if !errors.Is(err, ErrOutside) {
				t.Fatalf("Split(%q) = %v, want nil or ErrOutside", name, err)
			}
			return
		}
		want := filepath.Join(append([]string{top}, parts...)...)
		for _, useOpenat2 := range []bool{true, false} {
			f, err := open(h, parts, flags, useOpenat2)
			if err != nil {
				continue
			}
			got := realPath(t, f)
			f.Close()
			if got != want {
				t.Fatalf("open(%q, openat2=%v) opened %s, want %s", name, useOpenat2, got, want)
			}
			// Only the last component may be a symlink, and only opened
			// as one (O_PATH).
			for i := 1; i < len(parts); i++ {
				fi, err := os.Lstat(filepath.Join(append([]string{top}, parts[:i]...)...))
				if err != nil || !fi.IsDir() {
					t.Fatalf("open(%q, openat2=%v) went through %s, which is not a directory (%v)", name, useOpenat2, filepath.Join(parts[:i]...), err)
				}
			}
		}
	})
}
