// Package cgdelegate gives each container a cgroup v2 subtree box may
// manage rootless: a transient systemd scope with Delegate=yes, asked of
// the user's systemd over D-Bus, or, where box already runs in a cgroup it
// owns (a CI job, a unit with Delegate=yes), a child of that cgroup. In
// the container's cgroup, "monitor" holds box's own processes (the stage,
// slirp4netns) and "container" the container's, with the limits, the
// freezer and the OOM count.
//
// Not for cgroup v1 or hybrid hosts: there a rootless process gets no
// subtree, and every limit is an error that says so.
package cgdelegate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Hierarchy is where the unified (cgroup v2) hierarchy is mounted.
type Hierarchy struct{ Root string }

// System is the usual mount point, /sys/fs/cgroup.
func System() Hierarchy { return Hierarchy{Root: "/sys/fs/cgroup"} }

// The container's cgroup's children.
const (
	monitorDir   = "monitor"
	containerDir = "container"
)

// ParseSelf reads /proc/PID/cgroup and returns the cgroup v2 path ("0::"
// line), or false when there is none.
func ParseSelf(b []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, true
		}
	}
	return "", false
}

// Unified says whether h is a cgroup v2 mount (not v1, not hybrid).
func (h Hierarchy) Unified() bool {
	var st unix.Statfs_t
	return unix.Statfs(h.Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// Own is the calling process's cgroup directory.
func (h Hierarchy) Own() (string, error) {
	if !h.Unified() {
		return "", fmt.Errorf("%w: %s is cgroup v1 or hybrid", ErrUnavailable, h.Root)
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	p, ok := ParseSelf(b)
	if !ok {
		return "", fmt.Errorf("%w: no cgroup v2 line in /proc/self/cgroup", ErrUnavailable)
	}
	return filepath.Join(h.Root, p), nil
}

// Of is process pid's cgroup directory.
func (h Hierarchy) Of(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	p, ok := ParseSelf(b)
	if !ok {
		return "", fmt.Errorf("%w: no cgroup v2 line for pid %d", ErrUnavailable, pid)
	}
	return filepath.Join(h.Root, p), nil
}

// CreateCgroupfs makes the container's cgroup as a child of box's own
// (which must be delegated to the user: a CI job's, a container's) and
// moves pid into it.
func (h Hierarchy) CreateCgroupfs(name string, pid int) (string, error) {
	own, err := h.Own()
	if err != nil {
		return "", err
	}
	if unix.Access(filepath.Join(own, "cgroup.procs"), unix.W_OK) != nil {
		return "", fmt.Errorf("%w: box's cgroup %s is not delegated to this user", ErrUnavailable, own)
	}
	dir := filepath.Join(own, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if err := writeFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		_ = os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// Group is a container's cgroup, seen from the process that set it up
// (the stage) or from the CLI (pause, stats).
type Group struct{ Dir string }

// Container is the directory of the container's processes.
func (g Group) Container() string { return filepath.Join(g.Dir, containerDir) }

// Setup, run by the stage from inside the group: it moves itself into
// "monitor" (a cgroup with controllers for its children may hold no
// processes of its own), makes "container", and enables the controllers
// it has, checking that those the limits need are among them.
func (g Group) Setup(need []string) error {
	for _, d := range []string{monitorDir, containerDir} {
		if err := os.Mkdir(filepath.Join(g.Dir, d), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup: %w", err)
		}
	}
	if err := writeFile(filepath.Join(g.Dir, monitorDir), "cgroup.procs", "0"); err != nil {
		return err
	}
	have, err := controllers(g.Dir)
	if err != nil {
		return err
	}
	if err := lacking(g.Dir, have, need); err != nil {
		return err
	}
	var enable []string
	for _, c := range []string{"cpu", "cpuset", "io", "memory", "pids"} {
		if have[c] {
			enable = append(enable, "+"+c)
		}
	}
	if len(enable) == 0 {
		return nil
	}
	return writeFile(g.Dir, "cgroup.subtree_control", strings.Join(enable, " "))
}

// controllers reads the controllers a cgroup may use.
func controllers(dir string) (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("read the cgroup's controllers: %w", err)
	}
	have := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		have[c] = true
	}
	return have, nil
}

// lacking says which controllers of need the cgroup dir does not have.
func lacking(dir string, have map[string]bool, need []string) error {
	var missing []string
	for _, c := range need {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the limits need %s, %s gets %s", ErrNoController, strings.Join(missing, ", "), dir, describe(have))
	}
	return nil
}

func describe(have map[string]bool) string {
	cs := slices.Sorted(maps.Keys(have))
	if len(cs) == 0 {
		return "no controllers"
	}
	return "only " + strings.Join(cs, ", ")
}

// Join moves process pid (as the caller's pid namespace numbers it) into
// the container's cgroup.
func (g Group) Join(pid int) error {
	return writeFile(g.Container(), "cgroup.procs", strconv.Itoa(pid))
}

// Leave moves process pid out of the container's cgroup into box's part
// of the group (where the monitor is): box exec's helper, which waits for
// the command it started there, counts against none of its limits.
func (g Group) Leave(pid int) error {
	return writeFile(filepath.Join(g.Dir, monitorDir), "cgroup.procs", strconv.Itoa(pid))
}

// Apply writes the limits' files in the container's cgroup, before its
// command runs. pids.max is the exception: the first process is box's
// init, a Go program whose threads the kernel counts as tasks, and which
// dies if it cannot make one, so a small limit would kill it before the
// command starts. Until Settle, pids.max is the limit raised by the tasks
// already there and GoThreads more: the container can never get more
// than that many more than asked.
func (g Group) Apply(files map[string]string) error {
	var cur int64
	if _, ok := files["pids.max"]; ok {
		var err error
		if cur, err = readInt(g.Container(), "pids.current"); err != nil {
			return fmt.Errorf("read pids.current: %w", err)
		}
	}
	return g.write(withPids(files, cur+GoThreads))
}

// GoThreads is room for the threads a Go process such as box's init makes
// over its life beyond those it has (measured: 6 in all for the --init,
// with its main thread locked and GOMAXPROCS=1).
const GoThreads = 8

// Settle sets pids.max to the limit once the command runs, plus extra
// tasks box keeps in the container (the threads of its --init).
func (g Group) Settle(files map[string]string, extra int) error {
	v, ok := withPids(files, int64(extra))["pids.max"]
	if !ok {
		return nil
	}
	return writeFile(g.Container(), "pids.max", v)
}

// Update changes the limits of a running container, those the files name,
// after checking that the cgroup has their controllers; extra is as for
// Settle.
func (g Group) Update(files map[string]string, extra int) error {
	have, err := controllers(g.Container())
	if err != nil {
		return err
	}
	if err := lacking(g.Dir, have, Controllers(files)); err != nil {
		return err
	}
	return g.write(withPids(files, int64(extra)))
}

// withPids is files with a pids.max limit raised by extra.
func withPids(files map[string]string, extra int64) map[string]string {
	v, ok := files["pids.max"]
	if !ok || v == "max" || extra == 0 {
		return files
	}
	out := maps.Clone(files)
	n, _ := strconv.ParseInt(v, 10, 64)
	out["pids.max"] = strconv.FormatInt(n+extra, 10)
	return out
}

// write writes interface files in the container's cgroup.
func (g Group) write(files map[string]string) error {
	for name, v := range files {
		for _, line := range strings.Split(v, "\n") { // io.max takes one device a write
			if err := writeFile(g.Container(), name, line); err != nil {
				return err
			}
		}
	}
	return nil
}

// Freeze stops (or, with false, resumes) every process of the container
// and waits until the kernel says it is done.
func (g Group) Freeze(on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	if err := writeFile(g.Container(), "cgroup.freeze", v); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if ev, err := g.events("cgroup.events"); err == nil && strconv.FormatInt(ev["frozen"], 10) == v {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the cgroup %s did not reach frozen=%s within 5s", g.Container(), v)
		}
	}
}

// Frozen says whether the container is frozen (paused).
func (g Group) Frozen() bool {
	ev, err := g.events("cgroup.events")
	return err == nil && ev["frozen"] == 1
}

// OOMKilled says whether the OOM killer killed a process of the container.
func (g Group) OOMKilled() bool {
	ev, err := g.events("memory.events")
	return err == nil && ev["oom_kill"] > 0
}

// events reads a flat keyed file ("key value" lines).
func (g Group) events(name string) (map[string]int64, error) {
	b, err := os.ReadFile(filepath.Join(g.Container(), name))
	if err != nil {
		return nil, err
	}
	return parseFlatKeyed(b), nil
}

func parseFlatKeyed(b []byte) map[string]int64 {
	m := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// Remove deletes the group once its processes are gone; what cannot go
// yet (box's own process still in "monitor") the next box command takes.
func (g Group) Remove() {
	_ = os.Remove(g.Container())
	_ = os.Remove(filepath.Join(g.Dir, monitorDir))
	_ = os.Remove(g.Dir)
}

func writeFile(dir, name, v string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0); err != nil {
		return fmt.Errorf("write %s to %s: %w", strings.TrimSpace(v), filepath.Join(dir, name), err)
	}
	return nil
}

// CollectLeftovers removes the empty cgroups of containers whose stage
// died without removing its own (it cannot while it is in one): children
// of box's own cgroup named box-*. A cgroup still in use is not empty and
// stays.
func (h Hierarchy) CollectLeftovers() {
	own, err := h.Own()
	if err != nil {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(own, "box-*"))
	for _, d := range dirs {
		Group{Dir: d}.Remove()
	}
}
