package cloexec

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAll hands a child process a descriptor it was not meant to get, the
// way a shell's `exec 9<dir` hands one to box, and checks that after All
// nothing but stdio reaches a program this process starts.
func TestAll(t *testing.T) {
	if os.Getenv("CLOEXEC_TEST_CHILD") == "1" {
		if err := All(); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ls", "/proc/self/fd").Output()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.Write(out)
		return
	}
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	// Inherited without close-on-exec, at 9 as a shell would put it.
	if err := unix.Dup2(int(dir.Fd()), 9); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(9)
	cmd := exec.Command(os.Args[0], "-test.run=^TestAll$")
	cmd.Env = append(os.Environ(), "CLOEXEC_TEST_CHILD=1")
	cmd.ExtraFiles = make([]*os.File, 7)
	cmd.ExtraFiles[6] = os.NewFile(9, "dir") // the child's fd 9
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var fds []string
	for _, w := range strings.Fields(string(out)) {
		if _, err := strconv.Atoi(w); err == nil {
			fds = append(fds, w) // not the test binary's PASS
		}
	}
	// ls sees stdio and the directory it reads /proc/self/fd through.
	if len(fds) != 4 || fds[0] != "0" || fds[1] != "1" || fds[2] != "2" {
		t.Errorf("a program started after All got descriptors %v, want 0 1 2 and ls's own", fds)
	}
	for _, fd := range fds {
		if fd == "9" {
			t.Errorf("descriptor 9, inherited by the process that called All, reached the program it started")
		}
	}
}
