package volume

import (
	"errors"
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
