package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/boxcli/box/container"
)

type topCmd struct {
	Container string   `arg:"" help:"Container."`
	PsArgs    []string `arg:"" optional:"" passthrough:"" help:"ps options (default: -ef)."`
}

// Run runs the host's ps and keeps the rows of the container's processes:
// those in the pid namespace of its init. The user may read their
// /proc/PID/ns links: it owns box's user namespace, theirs or a parent.
func (c *topCmd) Run(e *env) error {
	_, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	if ct.State.Status != container.Running {
		return fmt.Errorf("container %s %w; start it first (box start %s)", ct.Config.Name, errNotRunning, ct.Config.Name)
	}
	initPid, err := container.InitPid(ct.State)
	if err != nil {
		return err
	}
	pids, err := nsPids(initPid)
	if err != nil {
		return err
	}
	args := c.PsArgs
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			// ps's first line says what is wrong; the usage it adds is
			// ps's, not box's.
			why, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n")
			if why = strings.TrimSpace(why); why == "" {
				why = ee.Error()
			}
			return fmt.Errorf("ps %s: %s; the arguments after the container are ps's options (see ps --help)", strings.Join(args, " "), why)
		}
		return fmt.Errorf("run ps: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s: its output has no PID column", strings.Join(args, " "))
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if pid, err := strconv.Atoi(f[col]); err == nil && pids[pid] {
			b.WriteString(l + "\n")
		}
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}

// nsPids lists the host pids of the processes in init's pid namespace.
func nsPids(init int) (map[int]bool, error) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return nil, fmt.Errorf("read the container's pid namespace: %w", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	pids := map[int]bool{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && l == ns {
			pids[pid] = true
		}
	}
	return pids, nil
}
