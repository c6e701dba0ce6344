package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name string
		old  []byte // nil: no file before
		data []byte
		perm os.FileMode
	}{
		{name: "new file", data: []byte("hello\n"), perm: 0o644},
		{name: "replace longer", old: []byte("a much longer old content\n"), data: []byte("new"), perm: 0o600},
		{name: "replace shorter", old: []byte("x"), data: []byte("longer new content"), perm: 0o640},
		{name: "empty", old: []byte("gone"), data: []byte{}, perm: 0o600},
		{name: "perm ignores umask", data: []byte("x"), perm: 0o777},
	}
	writers := []struct {
		name  string
		write func(string, []byte, os.FileMode) error
	}{{"WriteFile", WriteFile}, {"WriteFileNoSync", WriteFileNoSync}}
	for _, w := range writers {
		for _, tc := range tests {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) { testWrite(t, w.write, tc.old, tc.data, tc.perm) })
		}
	}
}

func testWrite(t *testing.T, write func(string, []byte, os.FileMode) error, old, data []byte, perm os.FileMode) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if old != nil {
		if err := os.WriteFile(path, old, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := write(path, data, perm); err != nil {
		t.Fatalf("write(%q) = %v, want nil", path, err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(data) {
		t.Errorf("after write, content = %q, %v, want %q", got, err, data)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != perm {
		t.Errorf("after write, perm = %v, want %v", fi.Mode().Perm(), perm)
	}
	assertOnly(t, dir, "f.json")
}

func TestWriteFileRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := WriteFile("rel", []byte("x"), 0o600); err != nil {
		t.Fatalf("WriteFile(%q) = %v, want nil", "rel", err)
	}
	assertOnly(t, dir, "rel")
}

func TestWriteFileErrorsLeaveNothing(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "nope", "f")
		if err := WriteFile(path, []byte("x"), 0o600); err == nil {
			t.Fatalf("WriteFile(%q) = nil, want an error", path)
		}
		assertOnly(t, dir)
	})
	t.Run("rename fails", func(t *testing.T) {
		// A non-empty directory at path makes the rename fail after the temp
		// file has been written and synced: the late-failure path.
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		if err := os.MkdirAll(filepath.Join(path, "child"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, []byte("x"), 0o600); err == nil {
			t.Fatalf("WriteFile(%q) over a directory = nil, want an error", path)
		}
		assertOnly(t, dir, "f")
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			t.Errorf("path should still be the directory: %v, %v", fi, err)
		}
	})
}

// Readers racing with writers see one complete version or another.
func TestWriteFileConcurrentReaders(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	a := make([]byte, 1<<16)
	b := make([]byte, 1<<15)
	for i := range a {
		a[i] = 'a'
	}
	for i := range b {
		b[i] = 'b'
	}
	if err := WriteFile(path, a, 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			data := a
			if i%2 == 0 {
				data = b
			}
			if err := WriteFile(path, data, 0o600); err != nil {
				t.Error(err)
			}
		}
		close(done)
	}()
	for {
		select {
		case <-done:
			wg.Wait()
			assertOnly(t, dir, "f")
			return
		default:
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(got); s != string(a) && s != string(b) {
			t.Fatalf("reader saw %d bytes that are neither version", len(got))
		}
	}
}

func TestWriteFileReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("x"), 0o600); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("WriteFile(%q) in a read-only directory = %v, want a permission error", path, err)
	}
	assertOnly(t, dir)
}

// assertOnly fails unless dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
	for i := range names {
		if got[i] != names[i] {
			t.Fatalf("%s holds %q, want %q", dir, got, names)
		}
	}
}
