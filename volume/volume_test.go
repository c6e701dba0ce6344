package volume

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
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

func TestFill(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "volumes"))
	if _, err := s.Create("data"); err != nil {
		t.Fatal(err)
	}
	// A dead fill's leftovers (nobody holds their lock) go.
	dead := filepath.Join(filepath.Dir(s.Path("data")), fillPrefix+"dead")
	if err := os.MkdirAll(filepath.Join(dead, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	// What the volume got meanwhile stays.
	if err := os.WriteFile(filepath.Join(s.Path("data"), "theirs"), []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Fill("data", func(dir string) error {
		for _, f := range []string{"a/b/c", "theirs", "top"} {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, f), []byte("image"), 0o644); err != nil {
				return err
			}
		}
		return os.Symlink("/etc", filepath.Join(dir, "link"))
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"a/b/c": "image", "top": "image", "theirs": "theirs"} {
		if b, err := os.ReadFile(filepath.Join(s.Path("data"), f)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v, want %q", f, b, err, want)
		}
	}
	if to, err := os.Readlink(filepath.Join(s.Path("data"), "link")); err != nil || to != "/etc" {
		t.Errorf("link = %q, %v, want /etc", to, err)
	}
	ents, err := os.ReadDir(filepath.Dir(s.Path("data")))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "_data" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the volume's directory holds %v, want only _data", names)
	}
	if err := s.Fill("data", func(string) error { return errors.New("copy failed") }); err == nil || err.Error() != "copy failed" {
		t.Errorf("Fill with a failing copy = %v, want its error", err)
	}
}

// TestFillRace fills a volume while a container that shares it swaps
// the directory the fill makes, as soon as it appears, for a symlink to
// a directory outside (renameat2 RENAME_EXCHANGE in a loop): the files
// stay in the volume, all of them. The copy by path straight into _data
// that Fill replaced is attacked, and lost, in
// testscripts/testdata/run_volume_race.txtar, with real containers.
func TestFillRace(t *testing.T) {
	for try := range 20 {
		base := t.TempDir()
		s := Open(filepath.Join(base, "volumes"))
		out := filepath.Join(base, "outside")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create("vol"); err != nil {
			t.Fatal(err)
		}
		a, b := filepath.Join(s.Path("vol"), "d"), filepath.Join(s.Path("vol"), ".evil")
		done, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); errors.Is(err, unix.ENOENT) {
					if _, err := os.Lstat(a); err == nil {
						_ = os.Symlink(out, b)
					}
				}
			}
		}()
		err := s.Fill("vol", func(dir string) error {
			if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
				return err
			}
			for i := range 100 {
				if err := os.WriteFile(filepath.Join(dir, "d", "f"+strconv.Itoa(i)), nil, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
		close(done)
		<-stopped
		if err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
		if ents, _ := os.ReadDir(out); len(ents) > 0 {
			t.Fatalf("try %d: the fill wrote %d files outside the volume", try, len(ents))
		}
		n := 0
		for _, d := range []string{a, b} {
			ents, _ := os.ReadDir(d)
			n += len(ents)
		}
		if n != 100 {
			t.Fatalf("try %d: the volume has %d of the 100 files", try, n)
		}
	}
}
