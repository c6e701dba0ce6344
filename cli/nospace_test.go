package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMountPoint(t *testing.T) {
	if got := mountPoint("/"); got != "/" {
		t.Errorf("mountPoint(/) = %q", got)
	}
	dir := t.TempDir()
	got := mountPoint(dir)
	if !strings.HasPrefix(dir, got) {
		t.Errorf("mountPoint(%s) = %q, not an ancestor", dir, got)
	}
	// /proc is a filesystem of its own below /.
	if got := mountPoint("/proc/self"); got != "/proc" {
		t.Errorf("mountPoint(/proc/self) = %q, want /proc", got)
	}
}

func TestFullestNamesTheFullerFilesystem(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "not", "yet")
	// /proc has no space at all: it is the fullest.
	d, mnt, free := fullest(missing, "/proc/self")
	if d != "/proc/self" || mnt != "/proc" || free != 0 {
		t.Errorf("fullest = %q %q %d, want /proc/self on /proc with 0 free", d, mnt, free)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("fullest made %s", missing)
	}
	if d, _, _ := fullest(missing); d != missing {
		t.Errorf("fullest(%s) = %q: a directory not made yet is judged by its parent", missing, d)
	}
}
