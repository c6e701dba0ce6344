package testscripts_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// settle is how long a script's processes and mounts may take to go away
// after its last command, before they count as left behind.
const settle = 5 * time.Second

// cleanup runs after every script: it stops what the script left running,
// removes the store, and fails the script if anything was left behind.
func cleanup(env *testscript.Env, box string) {
	work := workPaths(env.WorkDir)
	stopBackground(work)

	var left leftovers
	for deadline := time.Now().Add(settle); ; time.Sleep(100 * time.Millisecond) {
		left = findLeftovers(work, box)
		if left.empty() || time.Now().After(deadline) {
			break
		}
	}
	if !left.empty() {
		left.remove()
	}

	var problems []string
	if !left.empty() {
		problems = append(problems, left.String())
	}
	if keepWork() {
		env.T().Log("-testwork: leaving the store in place")
	} else if err := removeStore(env.WorkDir); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		return
	}
	msg := "cleanup: " + strings.Join(problems, "\n")
	// Errorf, not Fatal: this runs in a deferred call, maybe while the
	// script is already failing.
	if t, ok := env.T().(interface{ Errorf(string, ...any) }); ok {
		t.Errorf("%s", msg)
		return
	}
	env.T().Fatal(msg)
}

// workPaths is $WORK as given and with symlinks resolved, since /proc
// shows resolved paths.
func workPaths(work string) []string {
	paths := []string{work}
	if r, err := filepath.EvalSymlinks(work); err == nil && r != work {
		paths = append(paths, r)
	}
	return paths
}

func keepWork() bool {
	f := flag.Lookup("testwork")
	return f != nil && f.Value.String() == "true"
}

// stopBackground interrupts this script's background commands that are
// still running, which happens only when the script failed: testscript
// stops them only after the deferred cleanup. They are not leaks.
func stopBackground(work []string) {
	self := os.Getpid()
	var kids []int
	for _, pid := range pids() {
		if ppid(pid) == self && attributed(pid, work) != "" {
			kids = append(kids, pid)
			unix.Kill(pid, unix.SIGINT)
		}
	}
	for deadline := time.Now().Add(settle); len(kids) > 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		kids = slicesFilter(kids, alive)
	}
}

func slicesFilter(s []int, keep func(int) bool) []int {
	out := s[:0]
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

type leftovers struct {
	mounts []*mountinfo.Info
	procs  []leftProc
}

type leftProc struct {
	pid          int
	exe, cmdline string
	why          string
}

func (l leftovers) empty() bool { return len(l.mounts) == 0 && len(l.procs) == 0 }

func (l leftovers) String() string {
	var b strings.Builder
	b.WriteString("left behind (now removed):")
	for _, m := range l.mounts {
		fmt.Fprintf(&b, "\n  mount %s (%s from %s)", m.Mountpoint, m.FSType, m.Source)
	}
	for _, p := range l.procs {
		fmt.Fprintf(&b, "\n  pid %d %s (%s): %s", p.pid, p.exe, p.why, p.cmdline)
	}
	return b.String()
}

// remove unmounts what it can (only FUSE mounts can be unmounted without
// privilege) and kills the processes, so one leaking script does not break
// the ones after it.
func (l leftovers) remove() {
	for i := len(l.mounts) - 1; i >= 0; i-- {
		m := l.mounts[i]
		if strings.HasPrefix(m.FSType, "fuse") {
			for _, tool := range []string{"fusermount3", "fusermount"} {
				if exec.Command(tool, "-u", "-z", m.Mountpoint).Run() == nil {
					break
				}
			}
		}
	}
	for _, p := range l.procs {
		unix.Kill(p.pid, unix.SIGKILL)
	}
}

// findLeftovers lists the mounts under work in this mount namespace, and
// every process that belongs to the script: its cwd or root is under work,
// its environment names work, or its mount namespace has a mount naming work
// (a container's overlay names its layers in the store). A process that
// merely runs box is not enough: other scripts run box at the same time.
func findLeftovers(work []string, box string) leftovers {
	var l leftovers
	seen := make(map[int]bool)
	for _, w := range work {
		ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(w))
		if err != nil {
			continue
		}
		for _, m := range ms {
			if !seen[m.ID] {
				seen[m.ID] = true
				l.mounts = append(l.mounts, m)
			}
		}
	}
	self := os.Getpid()
	for _, pid := range pids() {
		if pid == self || !alive(pid) {
			continue
		}
		why := attributed(pid, work)
		if why == "" {
			continue
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if exe == box {
			exe = "box"
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cl := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		if len(cl) > 200 {
			cl = cl[:200] + "..."
		}
		l.procs = append(l.procs, leftProc{pid: pid, exe: exe, cmdline: cl, why: why})
	}
	return l
}

// attributed says why process pid belongs to the script in work, or ""
// if it does not (or cannot be read: it is not ours).
func attributed(pid int, work []string) string {
	proc := fmt.Sprintf("/proc/%d/", pid)
	for _, link := range []string{"cwd", "root"} {
		p, err := os.Readlink(proc + link)
		if err == nil && underAny(strings.TrimSuffix(p, " (deleted)"), work) {
			return link + " under $WORK"
		}
	}
	if env, err := os.ReadFile(proc + "environ"); err == nil && mentions(env, work) {
		return "environment names $WORK"
	}
	mine, err1 := os.Readlink("/proc/self/ns/mnt")
	theirs, err2 := os.Readlink(proc + "ns/mnt")
	if err1 == nil && err2 == nil && mine != theirs {
		if mi, err := os.ReadFile(proc + "mountinfo"); err == nil && mentions(mi, work) {
			return "its mounts name $WORK"
		}
	}
	return ""
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// mentions reports whether data holds one of dirs as a whole path
// component, so /tmp/x/script-run does not match /tmp/x/script-run_it.
func mentions(data []byte, dirs []string) bool {
	for _, d := range dirs {
		rest := data
		for {
			i := bytes.Index(rest, []byte(d))
			if i < 0 {
				break
			}
			rest = rest[i+len(d):]
			if len(rest) == 0 || bytes.IndexByte([]byte("/\x00:, \n"), rest[0]) >= 0 {
				return true
			}
		}
	}
	return false
}

func pids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// stat returns the fields of /proc/pid/stat after the command name, which
// may itself hold spaces and parentheses.
func stat(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(data[i+1:]))
}

// alive is true for a process that exists and is not a zombie.
func alive(pid int) bool {
	f := stat(pid)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func ppid(pid int) int {
	f := stat(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// removeStore deletes what box may have written under work. Files in the
// store belong to subordinate ids, which only a user namespace with the
// user's whole range can remove (and the overlay workdir is mode 000).
func removeStore(work string) error {
	var dirs []string
	for _, d := range []string{"data", "run", "home", "config", ".tmp"} {
		p := filepath.Join(work, d)
		if _, err := os.Lstat(p); err == nil {
			dirs = append(dirs, p)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	const script = `for d; do chmod -R u+rwX "$d" 2>/dev/null; rm -rf "$d"; done`
	var out []byte
	var err error
	if os.Geteuid() == 0 {
		out, err = exec.Command("sh", append([]string{"-c", script, "sh"}, dirs...)...).CombinedOutput()
	} else {
		out, err = exec.Command("unshare", append([]string{"--map-auto", "--map-root-user", "sh", "-c", script, "sh"}, dirs...)...).CombinedOutput()
		if err != nil {
			// No subordinate range: then box could not have used one either.
			out, err = exec.Command("sh", append([]string{"-c", script, "sh"}, dirs...)...).CombinedOutput()
		}
	}
	for _, d := range dirs {
		if _, serr := os.Lstat(d); serr == nil {
			return fmt.Errorf("remove %s: still there after rm -rf in a user namespace (%v)\n%s", d, err, out)
		}
	}
	return nil
}
