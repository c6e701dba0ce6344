package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// A store's temporary directory stays while its owner lives, and goes
// with the next sweep once the owner is gone, SIGKILL included.
func TestSweepTmpOwners(t *testing.T) {
	root := t.TempDir()
	mine, lock, err := privateTmp(root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(mine), tmpOwnPrefix) {
		t.Fatalf("privateTmp made %s", mine)
	}
	os.WriteFile(filepath.Join(mine, "blob"), []byte("x"), 0o600)

	// Another process's, locked as box does, then killed.
	theirs := filepath.Join(root, tmpOwnPrefix+"killed")
	os.MkdirAll(filepath.Join(theirs, "container_images_storage1"), 0o700)
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("needs util-linux flock")
	}
	// -o: the lock is flock's alone, not also its child's.
	holder := exec.Command("flock", "-o", "-x", theirs, "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	for deadline := time.Now().Add(5 * time.Second); !lockedByOther(t, theirs); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("flock never took %s", theirs)
		}
	}
	if err := sweepTmp(root, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !exists(theirs) || !exists(filepath.Join(mine, "blob")) {
		t.Fatalf("a sweep removed a directory whose owner runs")
	}
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if err := sweepTmp(root, time.Now()); err != nil {
		t.Fatal(err)
	}
	if exists(theirs) {
		t.Fatalf("the directory of a killed owner survived the sweep")
	}
	if !exists(mine) {
		t.Fatalf("the sweep removed this store's own directory")
	}
	lock.Close()
	if err := sweepTmp(root, time.Now()); err != nil {
		t.Fatal(err)
	}
	if exists(mine) {
		t.Fatalf("a closed store's directory survived the sweep")
	}
}

// What has no lock to tell its owner by goes by age: a directory between
// mkdir and its lock after a minute, what older box versions left after
// a day.
func TestSweepTmpByAge(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(root, name)
		os.MkdirAll(p, 0o700)
		os.Chtimes(p, now.Add(-age), now.Add(-age))
		return p
	}
	freshNew := mk(tmpNewPrefix+"a", time.Second)
	staleNew := mk(tmpNewPrefix+"b", 2*tmpNewStale)
	freshLegacy := mk("container_images_storage123", time.Hour)
	staleLegacy := mk("container_images_storage456", 2*tmpLegacyStale)
	if err := sweepTmp(root, now); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{freshNew: true, staleNew: false, freshLegacy: true, staleLegacy: false} {
		if exists(p) != want {
			t.Errorf("%s exists = %v after the sweep, want %v", filepath.Base(p), !want, want)
		}
	}
}

// lockedByOther says whether some other open file holds dir's lock.
func lockedByOther(t *testing.T, dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
}
