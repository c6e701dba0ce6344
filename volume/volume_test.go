package volume

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestAnonymous(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "volumes"))
	a, err := s.CreateAnonymous()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateAnonymous()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 64 || a == b {
		t.Fatalf("names %q and %q, want two different 64-hex names", a, b)
	}
	if fi, err := os.Stat(s.Path(a)); err != nil || !fi.IsDir() {
		t.Fatalf("Path(%s): %v", a, err)
	}
	if !s.Empty(a) {
		t.Errorf("a new volume is not empty")
	}
	if err := os.WriteFile(filepath.Join(s.Path(a), "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s.Empty(a) {
		t.Errorf("a volume with a file is empty")
	}
	if err := s.Remove(a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(s.Path(a))); !os.IsNotExist(err) {
		t.Errorf("volume %s still there after Remove: %v", a, err)
	}
	if err := s.Remove(a); err != nil {
		t.Errorf("removing a removed volume: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b", "."} {
		if err := s.Remove(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Remove(%q) = %v, want ErrBadName", bad, err)
		}
	}
	if _, err := os.Stat(s.Path(b)); err != nil {
		t.Errorf("the other volume went too: %v", err)
	}
}

func TestNamedVolumes(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "volumes"))
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("List of a new store = %v, %v, want none", l, err)
	}
	for _, bad := range []string{"", "a", "-x", ".x", "a/b", "..", "a b", "é1"} {
		if _, err := s.Create(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q) = %v, want ErrBadName", bad, err)
		}
	}
	if created, err := s.Create("data"); err != nil || !created {
		t.Fatalf("Create(data) = %v, %v, want true, nil", created, err)
	}
	if err := os.WriteFile(filepath.Join(s.Path("data"), "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if created, err := s.Create("data"); err != nil || created {
		t.Fatalf("Create(data) again = %v, %v, want false, nil", created, err)
	}
	if _, err := os.Stat(filepath.Join(s.Path("data"), "f")); err != nil {
		t.Errorf("Create of an existing volume lost its data: %v", err)
	}
	anon, err := s.CreateAnonymous()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.List()
	if err != nil || len(l) != 2 {
		t.Fatalf("List = %+v, %v, want 2", l, err)
	}
	byName := map[string]Info{l[0].Name: l[0], l[1].Name: l[1]}
	if i := byName["data"]; i.Anonymous || i.Mountpoint != s.Path("data") || i.CreatedAt.IsZero() {
		t.Errorf("data = %+v", i)
	}
	if !byName[anon].Anonymous {
		t.Errorf("%s is not anonymous: %+v", anon, byName[anon])
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(nosuch) = %v, want ErrNotExist", err)
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get after Remove = %v, want ErrNotExist", err)
	}
}
