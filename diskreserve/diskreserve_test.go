package diskreserve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNoSpace(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("delete layer: %w", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), true},
		// as it comes back from a containers/storage helper process
		{errors.New("processing tar file(write /a/b: no space left on device): exit status 1"), true},
		{syscall.EDQUOT, false},
	} {
		if got := NoSpace(tc.err); got != tc.want {
			t.Errorf("NoSpace(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// inSmallFS runs the test named run again in a user and mount namespace of
// its own, with a 2 MiB tmpfs at $DISKRESERVE_DIR: a filesystem the test
// can fill, without root.
func inSmallFS(t *testing.T, run string) {
	if dir := os.Getenv("DISKRESERVE_DIR"); dir != "" {
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.v")
	cmd.Env = append(os.Environ(), "DISKRESERVE_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSPC) {
			t.Skipf("no user namespace for the test's tmpfs: %v", err)
		}
		t.Fatalf("%s in a small filesystem: %v\n%s", run, err, out)
	}
	t.Logf("%s", out)
}

func smallFS(t *testing.T) string {
	dir := os.Getenv("DISKRESERVE_DIR")
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs: %v", err)
	}
	return dir
}

// fill writes until the filesystem is full and returns the file.
func fill(t *testing.T, dir string) string {
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return p
		}
	}
}

// On a full filesystem, the reserve makes room for a write, and is taken
// back afterwards as far as there is room.
func TestRetryOnFullDisk(t *testing.T) {
	inSmallFS(t, "TestRetryOnFullDisk")
	if os.Getenv("DISKRESERVE_DIR") == "" {
		return
	}
	dir := smallFS(t)
	r := Reserve{Path: filepath.Join(dir, "reserve"), Size: 256 << 10}
	if err := r.Ensure(); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if fi, err := os.Stat(r.Path); err != nil || fi.Size() != r.Size {
		t.Fatalf("reserve after Ensure: %v %v, want %d bytes", fi, err, r.Size)
	}
	filler := fill(t, dir)
	state := filepath.Join(dir, "state.json")
	write := func() error { return os.WriteFile(state, make([]byte, 8192), 0o600) }
	if err := write(); !NoSpace(err) {
		t.Fatalf("write on the full disk: %v, want ENOSPC", err)
	}
	used, err := r.Retry(write)
	if err != nil || !used {
		t.Fatalf("Retry on the full disk = %v, %v; want the write done with the reserve", used, err)
	}
	// What is left of the reserve was taken back: the disk is full again.
	fi, err := os.Stat(r.Path)
	if err != nil || fi.Size() == 0 || fi.Size() > r.Size {
		t.Fatalf("reserve after Retry: %v %v, want it taken back", fi, err)
	}
	// A reserve that is all used up: Retry reports the failure.
	big := func() error { return os.WriteFile(state+"2", make([]byte, 1<<20), 0o600) }
	if _, err := r.Retry(big); !NoSpace(err) {
		t.Fatalf("Retry of a write larger than the reserve: %v, want ENOSPC", err)
	}
	// Once space is freed, Ensure makes it whole again.
	os.Remove(filler)
	os.Remove(state + "2")
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(r.Path); err != nil || fi.Size() != r.Size {
		t.Fatalf("reserve after space came back: %v %v, want %d bytes", fi, err, r.Size)
	}
}

// Ensure never takes the last free space.
func TestEnsureLeavesRoom(t *testing.T) {
	inSmallFS(t, "TestEnsureLeavesRoom")
	if os.Getenv("DISKRESERVE_DIR") == "" {
		return
	}
	dir := smallFS(t)
	r := Reserve{Path: filepath.Join(dir, "reserve"), Size: 1 << 20}
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a 1 MiB reserve on a 2 MiB filesystem was made (%v)", err)
	}
}

// Without a reserve, Retry is op.
func TestRetryWithoutReserve(t *testing.T) {
	r := New(filepath.Join(t.TempDir(), "none"))
	calls := 0
	enospc := &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}
	used, err := r.Retry(func() error { calls++; return enospc })
	if used || !errors.Is(err, syscall.ENOSPC) || calls != 1 {
		t.Fatalf("Retry without a reserve = %v, %v after %d calls", used, err, calls)
	}
}
