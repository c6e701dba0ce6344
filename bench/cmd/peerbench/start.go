package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

var timeMetric = []metric{{key: "time", title: "wall time", unit: "s"}}

// cmdVariant times one command per sample.
func cmdVariant(name string, t *tool, args ...string) *variant {
	return &variant{
		name: name,
		cmd:  t.line(args...),
		measure: func(ctx context.Context, _ int) (map[string]float64, error) {
			x, err := t.timed(ctx, args...)
			return map[string]float64{"time": x}, err
		},
	}
}

// runNone: the cost of a container with no network, against the tools
// that do less (bwrap: no image store, no container record) and the
// floor (the namespaces and an exec, nothing else).
func (s *suite) runNone(ctx context.Context) (*benchmark, error) {
	b := &benchmark{
		id: "run-none", title: "run --rm --network none IMG true", metrics: timeMetric,
		ref: "box", reps: s.opt.reps, warmup: s.opt.warmup,
	}
	b.variants = append(b.variants, cmdVariant("box", s.box, "run", "--rm", "--network", "none", image, "true"))
	if s.podman != nil {
		b.variants = append(b.variants, cmdVariant("podman", s.podman, "run", "--rm", "--network", "none", "--pull", "never", image, "true"))
	} else {
		b.skipped = append(b.skipped, "podman: not installed")
	}
	if bin, err := exec.LookPath("bwrap"); err == nil {
		rootfs := filepath.Join(s.work, "rootfs")
		if err := unpackBusybox(s.images.OCIDir, rootfs); err != nil {
			return nil, err
		}
		bw := &tool{name: "bwrap", bin: bin, env: os.Environ()}
		b.variants = append(b.variants, cmdVariant("bwrap", bw,
			"--unshare-all", "--bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--uid", "0", "--gid", "0", "/bin/true"))
		b.notes = append(b.notes, "bwrap runs the same busybox rootfs, unpacked once into a directory: no image store, no container record, no overlay")
	} else {
		b.skipped = append(b.skipped, "bwrap: not installed")
	}
	un := &tool{name: "unshare", bin: "unshare", env: os.Environ()}
	b.variants = append(b.variants, cmdVariant("unshare (floor)", un, "-U", "-r", "-m", "-p", "-f", "--mount-proc", "true"))
	trueBin, err := exec.LookPath("true")
	if err != nil {
		return nil, err
	}
	b.variants = append(b.variants, &variant{
		name: "clone+exec (floor)",
		cmd:  "clone(NEWUSER|NEWNS|NEWPID|NEWUTS|NEWIPC|NEWNET) + exec " + trueBin + " from Go, single-id map",
		measure: func(ctx context.Context, _ int) (map[string]float64, error) {
			x, err := cloneExec(ctx, trueBin)
			return map[string]float64{"time": x}, err
		},
	})
	b.notes = append(b.notes, "the floors run the host's true(1) with nothing mounted: the price of the namespaces, a fork and an exec")
	b.run(ctx, logf)
	return b, nil
}

// cloneExec is the kernel's floor for a container: new namespaces, a
// one-id map written by the parent, an exec, a wait.
func cloneExec(ctx context.Context, bin string) (float64, error) {
	cmd := exec.CommandContext(ctx, bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("clone+exec %s: %w", bin, err)
	}
	return time.Since(start).Seconds(), nil
}

// runNet: the same with each tool's default network, slirp4netns.
func (s *suite) runNet(ctx context.Context) (*benchmark, error) {
	b := &benchmark{
		id: "run-net", title: "run --rm IMG true, default network (slirp4netns)", metrics: timeMetric,
		ref: "box", reps: s.opt.reps, warmup: s.opt.warmup,
	}
	b.variants = append(b.variants, cmdVariant("box", s.box, "run", "--rm", image, "true"))
	if s.podman != nil {
		b.variants = append(b.variants, cmdVariant("podman", s.podman, "run", "--rm", "--network", "slirp4netns", "--pull", "never", image, "true"))
	} else {
		b.skipped = append(b.skipped, "podman: not installed")
	}
	b.run(ctx, logf)
	return b, nil
}

// detached: run -d, then (after -settle) the memory of what the tool
// keeps running for the container, then rm -f.
func (s *suite) detached(ctx context.Context) (*benchmark, error) {
	b := &benchmark{
		id: "detached", title: "run -d IMG sleep 1000; idle memory; rm -f",
		metrics: []metric{
			{key: "run", title: "run -d", unit: "s"},
			{key: "rm", title: "rm -f (running)", unit: "s"},
			{key: "monRSS", title: "idle monitor RSS (box stage / conmon)", unit: "MiB"},
			{key: "monPSS", title: "idle monitor PSS (box stage / conmon)", unit: "MiB"},
			{key: "allRSS", title: "idle RSS of all it keeps running per container", unit: "MiB"},
			{key: "allPSS", title: "idle PSS of all it keeps running per container", unit: "MiB"},
		},
		ref: "box", reps: s.opt.reps, warmup: s.opt.warmup,
	}
	b.variants = append(b.variants, &variant{
		name: "box",
		cmd:  s.box.line("run", "-d", "--name", "N", image, "sleep", "1000") + "; " + s.box.line("rm", "-f", "N"),
		measure: func(ctx context.Context, rep int) (map[string]float64, error) {
			return s.detachedSample(ctx, s.box, rep, nil, nil, s.boxKept)
		},
	})
	if s.podman != nil {
		b.variants = append(b.variants, &variant{
			name: "podman",
			cmd: s.podman.line("run", "-d", "--network", "slirp4netns", "--pull", "never", "--name", "N", image, "sleep", "1000") +
				"; " + s.podman.line("rm", "-f", "-t", "0", "N"),
			measure: func(ctx context.Context, rep int) (map[string]float64, error) {
				return s.detachedSample(ctx, s.podman, rep,
					[]string{"--network", "slirp4netns", "--pull", "never"}, []string{"-t", "0"}, s.podmanKept)
			},
		})
		b.notes = append(b.notes,
			"podman rm -f gets -t 0, which is Docker's and box's rm -f (SIGKILL at once); without it podman first waits the 10 s stop timeout, since sleep as PID 1 ignores SIGTERM",
			"monitor: box's stage and podman's conmon (State.ConmonPid of each); all per container: box's stage and its children outside the container's pid namespace (slirp4netns), podman's conmon and the container's slirp4netns. Not counted: podman's pause process, one per user for all containers (its RSS is in the notes below when measured)")
	} else {
		b.skipped = append(b.skipped, "podman: not installed")
	}
	b.notes = append(b.notes, fmt.Sprintf("memory is read from /proc/PID/smaps_rollup %v after run -d returns; PSS splits shared pages among the processes that map them (only one container of each tool runs at a time)", s.opt.settle))
	b.run(ctx, logf)
	if s.podman != nil {
		if pid := pausePid(s.podmen[0]); pid > 0 {
			if m, err := memOf(pid); err == nil {
				b.notes = append(b.notes, fmt.Sprintf("podman's pause process (pid %d, per user, shared by all containers): RSS %.1f MiB, PSS %.1f MiB", pid, m.rss, m.pss))
			}
		}
	}
	return b, nil
}

func (s *suite) detachedSample(ctx context.Context, t *tool, rep int, runFlags, rmFlags []string,
	kept func(ctx context.Context, t *tool, name string) (mon []int, all []int, err error)) (map[string]float64, error) {
	name := fmt.Sprintf("peerbench-d%d-%d", os.Getpid(), rep)
	args := append(append([]string{"run", "-d"}, runFlags...), "--name", name, image, "sleep", "1000")
	run, err := t.timed(ctx, args...)
	if err != nil {
		return nil, err
	}
	vals := map[string]float64{"run": run}
	select {
	case <-time.After(s.opt.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mon, all, merr := kept(ctx, t, name)
	if merr == nil {
		var m, a mem
		m, merr = sumMem(mon)
		a, aerr := sumMem(all)
		merr = errors.Join(merr, aerr)
		vals["monRSS"], vals["monPSS"], vals["allRSS"], vals["allPSS"] = m.rss, m.pss, a.rss, a.pss
	}
	rm, err := t.timed(ctx, append(append([]string{"rm", "-f"}, rmFlags...), name)...)
	if err != nil {
		return nil, err
	}
	vals["rm"] = rm
	if merr != nil {
		return nil, fmt.Errorf("memory of %s's container: %w", t.name, merr)
	}
	return vals, nil
}

// boxKept: the stage (the monitor), and every process under it in its
// own pid namespace (slirp4netns); the container's processes are in
// another.
func (s *suite) boxKept(ctx context.Context, t *tool, name string) ([]int, []int, error) {
	out, err := t.output(ctx, "inspect", "--format", "{{.State.ConmonPid}}", name)
	if err != nil {
		return nil, nil, err
	}
	var pid int
	if _, err := fmt.Sscan(string(out), &pid); err != nil || pid <= 0 {
		return nil, nil, fmt.Errorf("box inspect: State.ConmonPid %q", out)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return nil, nil, err
	}
	all := []int{pid}
	for _, p := range descendants(pid) {
		if pns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p)); err == nil && pns == ns {
			all = append(all, p)
		}
	}
	return []int{pid}, all, nil
}

// podmanKept: conmon, and the slirp4netns started for the container's
// network namespace (podman leaves it to init, not under conmon).
func (s *suite) podmanKept(ctx context.Context, t *tool, name string) ([]int, []int, error) {
	out, err := t.output(ctx, "inspect", "--format", "{{.State.ConmonPid}} {{.NetworkSettings.SandboxKey}}", name)
	if err != nil {
		return nil, nil, err
	}
	f := strings.Fields(string(out))
	var pid int
	if len(f) != 2 {
		return nil, nil, fmt.Errorf("podman inspect: %q", out)
	}
	if _, err := fmt.Sscan(f[0], &pid); err != nil || pid <= 0 {
		return nil, nil, fmt.Errorf("podman inspect: ConmonPid %q", out)
	}
	all := []int{pid}
	for _, p := range processesWithArg(f[1], "slirp4netns") {
		all = append(all, p)
	}
	if len(all) == 1 {
		return nil, nil, fmt.Errorf("no slirp4netns found for podman's netns %s", f[1])
	}
	return []int{pid}, all, nil
}

// pausePid is the pid of podman's pause process, 0 if there is none.
func pausePid(t *tool) int {
	for _, kv := range t.env {
		if dir, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			var pid int
			data, err := os.ReadFile(filepath.Join(dir, "libpod", "tmp", "pause.pid"))
			if err == nil {
				fmt.Sscan(string(data), &pid)
			}
			return pid
		}
	}
	return 0
}

// parallelRuns: N containers started at once; the wall time until the
// last has exited.
func (s *suite) parallelRuns(ctx context.Context) (*benchmark, error) {
	n := s.opt.parallel
	b := &benchmark{
		id: "parallel", title: fmt.Sprintf("%d × run --rm IMG true at once, default network (wall time)", n), metrics: timeMetric,
		ref: "box", reps: s.opt.parallelReps, warmup: min(s.opt.warmup, 1),
	}
	add := func(name string, t *tool, args ...string) {
		b.variants = append(b.variants, &variant{
			name: name,
			cmd:  fmt.Sprintf("%d × %s", n, t.line(args...)),
			measure: func(ctx context.Context, _ int) (map[string]float64, error) {
				x, err := parallel(ctx, t, n, args)
				return map[string]float64{"time": x}, err
			},
		})
	}
	add("box", s.box, "run", "--rm", image, "true")
	if s.podman != nil {
		add("podman", s.podman, "run", "--rm", "--network", "slirp4netns", "--pull", "never", image, "true")
	} else {
		b.skipped = append(b.skipped, "podman: not installed")
	}
	b.run(ctx, logf)
	return b, nil
}

func parallel(ctx context.Context, t *tool, n int, args []string) (float64, error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = t.output(ctx, args...)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return 0, fmt.Errorf("%d of %d failed, the first: %w", len(failed), n, failed[0])
	}
	return took.Seconds(), nil
}
