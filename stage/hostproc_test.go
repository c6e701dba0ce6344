package stage

import (
	"os"
	"os/exec"
	"reflect"
	"testing"
)

func TestParseNSpid(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []int
	}{
		{"nested", "Name:\tsh\nPid:\t4021\nNSpid:\t4021\t2\t1\nNSpgid:\t4021\t2\t1\n", []int{4021, 2, 1}},
		{"host only", "Name:\tsleep\nNSpid:\t77\n", []int{77}},
		{"missing", "Name:\tsleep\nPid:\t77\n", nil},
		{"garbage", "NSpid:\t77\tx\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseNSpid([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseNSpid(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// In one pid namespace the host's pid of a child is its own pid: the
// lookup goes through the host's /proc by fd, as the stage's does.
func TestHostPidOfChild(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	proc := openHostProc()
	if proc == nil {
		t.Fatal("open /proc")
	}
	defer proc.Close()
	// NSpid has one entry here: no child is found one level down.
	if pid, err := hostPid(proc, os.Getpid(), cmd.Process.Pid); err == nil {
		t.Errorf("hostPid(self, %d) = %d in one pid namespace, want an error", cmd.Process.Pid, pid)
	}
	if _, err := hostPid(nil, os.Getpid(), 1); err == nil {
		t.Error("hostPid without a host /proc: want an error")
	}
}
