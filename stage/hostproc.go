package stage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// openHostProc opens the host's /proc, which Main mounts the stage's own
// over: the stage's numbers for its children are no use outside, and the
// record must name the container's PID 1 as the host numbers it (its
// State.Pid, as Docker's and Podman's). nil when it cannot: the record
// then names none, and box finds the init from the monitor as it used to.
func openHostProc() *os.File {
	f, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	return f
}

// hostPid is the host's pid of the stage's child that the stage's pid
// namespace numbers pid: among the children of the stage (self, the
// stage's host pid), the one whose NSpid says pid one level down.
func hostPid(hostProc *os.File, self, pid int) (int, error) {
	if hostProc == nil {
		return 0, fmt.Errorf("no host /proc")
	}
	// The host's /proc, reached through the stage's: /proc/self is the stage.
	root := fmt.Sprintf("/proc/self/fd/%d", hostProc.Fd())
	tasks, err := os.ReadDir(filepath.Join(root, strconv.Itoa(self), "task"))
	if err != nil {
		return 0, err
	}
	for _, t := range tasks {
		// Each thread's own children: Go forks from any of them.
		b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(self), "task", t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, c := range strings.Fields(string(b)) {
			status, err := os.ReadFile(filepath.Join(root, c, "status"))
			if err != nil {
				continue
			}
			if ns := parseNSpid(status); len(ns) >= 2 && ns[1] == pid {
				return ns[0], nil
			}
		}
	}
	return 0, fmt.Errorf("no child of host pid %d is pid %d in the stage's namespace", self, pid)
}

// parseNSpid reads the NSpid line of /proc/PID/status: the process's pid
// in each pid namespace from the reader's down to its own.
func parseNSpid(status []byte) []int {
	for _, line := range bytes.Split(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("NSpid:"))
		if !ok {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(string(rest)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil
			}
			pids = append(pids, n)
		}
		return pids
	}
	return nil
}
