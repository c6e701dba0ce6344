package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPrepareCwdStaysInRoot gives an image's WorkingDir every way out of
// the root filesystem that a path can take and checks that whatever gets
// created lies inside it, as the same path does for the command after
// the pivot.
func TestPrepareCwdStaysInRoot(t *testing.T) {
	base := t.TempDir()
	rootDir, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{rootDir, outside, filepath.Join(rootDir, "etc"), filepath.Join(rootDir, "target")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Links an image may carry: absolute ones, and ones that climb. Inside
	// the root each names /target; outside it, the host's outside.
	for name, target := range map[string]string{
		"abs":     "/target",
		"up":      "../../../../target",
		"etc/rel": "../../../target",
		"host":    outside, // dangles inside the root: refused
	} {
		if err := os.Symlink(target, filepath.Join(rootDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenFile(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	me := User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	for _, tc := range []struct{ cwd, want string }{
		{"/work/a/b", "work/a/b"},
		{"/../../x", "x"},
		{"/abs/made", "target/made"},
		{"/up/made2", "target/made2"},
		{"/etc/rel/made3", "target/made3"},
		{"/host/made", ""},
	} {
		t.Run(tc.cwd, func(t *testing.T) {
			h, err := prepareCwd(root, tc.cwd, me)
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("prepareCwd(%q) made %s outside the root", tc.cwd, ents[0].Name())
			}
			if tc.want == "" {
				if err == nil {
					h.Close()
					t.Fatalf("prepareCwd(%q) through a link that leaves the root succeeded", tc.cwd)
				}
				return
			}
			if err != nil {
				t.Fatalf("prepareCwd(%q): %v", tc.cwd, err)
			}
			defer h.Close()
			var got, want unix.Stat_t
			if err := unix.Fstat(int(h.Fd()), &got); err != nil {
				t.Fatal(err)
			}
			if err := unix.Stat(filepath.Join(rootDir, tc.want), &want); err != nil || got.Ino != want.Ino {
				t.Fatalf("prepareCwd(%q) is not the root's %s (%v)", tc.cwd, tc.want, err)
			}
			// And openCwd finds that directory again.
			again, err := openCwd(root, tc.cwd)
			if err != nil {
				t.Fatalf("openCwd(%q) after prepareCwd: %v", tc.cwd, err)
			}
			defer again.Close()
			if unix.Fstat(int(again.Fd()), &got) != nil || got.Ino != want.Ino {
				t.Errorf("openCwd(%q) is not the directory prepareCwd made", tc.cwd)
			}
		})
	}
	// A magic link of /proc is never followed: the path names a
	// descriptor of whichever process resolves it.
	dir, err := os.Open(outside)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := os.Symlink("/proc/self/fd/"+itoa(int(dir.Fd())), filepath.Join(rootDir, "fdlink")); err != nil {
		t.Fatal(err)
	}
	h, err := prepareCwd(root, "/fdlink/escaped", me)
	if err == nil {
		h.Close()
	}
	if _, err := os.Stat(filepath.Join(outside, "escaped")); err == nil {
		t.Errorf("prepareCwd through a /proc/self/fd link made a directory outside the root")
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
