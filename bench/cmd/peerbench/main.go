// Command peerbench is box's benchmark suite (make bench; issue #9): box
// side by side with its peers on the same machine, in one run.
//
// Every benchmark runs its variants (box, podman, bwrap, ...) round-robin,
// one sample each per repetition, with the first tool rotating, after
// warm-up repetitions that are not counted. It reports each variant's
// median and p90 and its ratio to box, oriented so that a ratio above 1
// means box did better (other/box for times and sizes, box/other for
// rates), as a markdown table (stdout, -md) and JSON (-json). It ends with
// the goals as pass/fail lines; it asserts nothing.
//
// Benchmarks (-only takes their ids, comma-separated):
//
//	run-none   run --rm --network none IMG true: box, podman, bwrap on the
//	           unpacked rootfs, unshare(1), and a clone+exec from Go
//	run-net    run --rm IMG true with default networking (slirp4netns)
//	detached   run -d IMG sleep 1000, the idle memory of what stays, rm -f
//	parallel   N (50) run --rm IMG true at once: wall time
//	pull       pull + unpack of a ~26 MB single-layer image from a
//	           registry on 127.0.0.1: box, podman, skopeo copy to dir:, tar -x
//	io         10 000 small files, 1 GiB write, 1 GiB read: host directory,
//	           box on native overlay, box on fuse-overlayfs
//	port       published-port TCP throughput (bench/cmd/netbench)
//	build      box build against podman build: a multi-stage Dockerfile with
//	           RUNs and a COPY of a 3000-file context, cold, rebuilt with
//	           nothing changed, and rebuilt after one file changed
//
// peerbench runs as two processes: the suite, under a parent that is a
// child subreaper (reaper.go) and reaps every orphan at once, as systemd
// does on an ordinary machine. On this test machine PID 1 is not an init
// that reaps promptly, and a zombie still passes kill(pid, 0): a tool
// that waits for its monitor (box) or conmon (podman) to be gone would be
// measured waiting for PID 1 instead.
//
// Run it as an unprivileged user with a subordinate id range (bench/run.sh
// does, as BOX_TEST_USER through scripts/as-user.sh). Everything it makes
// (stores, registry, images, podman's pause process) lives in a temporary
// directory and is removed at the end or on a signal. It talks only to
// 127.0.0.1 and to its containers; podman's and box's registries.conf
// block docker.io, and podman runs with --pull never but for the pull
// benchmark, whose image is fully qualified.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/boxcli/box/imagetest"
)

const image = imagetest.BusyboxTag // box-test/busybox:latest

var allBenchmarks = []string{"run-none", "run-net", "detached", "parallel", "pull", "io", "port", "build"}

type options struct {
	box, tcpbench, iobench, netbench string

	reps, warmup int
	parallel     int
	parallelReps int
	settle       time.Duration

	ioBytes    int64
	ioFiles    int
	ioFileSize int
	ioReps     int

	pullSrc string

	netDuration time.Duration
	netRuns     int

	buildReps int

	only    map[string]bool
	jsonOut string
	mdOut   string
	pidFile string
	quick   bool
}

func main() {
	if os.Getenv(reaperEnv) == "" {
		os.Exit(reaper())
	}
	os.Exit(run())
}

func run() int {
	var o options
	var only string
	var ioMiB int64
	flag.StringVar(&o.box, "box", "box", "box binary (CGO_ENABLED=0, box's build tags)")
	flag.StringVar(&o.tcpbench, "tcpbench", "", "static tcpbench binary (bench/cmd/tcpbench), for the port benchmark")
	flag.StringVar(&o.iobench, "iobench", "", "static iobench binary (bench/cmd/iobench), for the io benchmark")
	flag.StringVar(&o.netbench, "netbench", "", "netbench binary (bench/cmd/netbench), for the port benchmark")
	flag.IntVar(&o.reps, "reps", 20, "counted repetitions per benchmark")
	flag.IntVar(&o.warmup, "warmup", 2, "uncounted warm-up repetitions before them")
	flag.IntVar(&o.parallel, "parallel", 50, "containers started at once in the parallel benchmark")
	flag.IntVar(&o.parallelReps, "parallel-reps", 5, "repetitions of the parallel benchmark (each is -parallel runs of each tool)")
	flag.DurationVar(&o.settle, "settle", time.Second, "how long a detached container idles before its memory is read")
	flag.Int64Var(&ioMiB, "io-mib", 1024, "MiB written and read by the io benchmark")
	flag.IntVar(&o.ioFiles, "io-files", 10000, "small files created by the io benchmark")
	flag.IntVar(&o.ioFileSize, "io-file-size", 4096, "bytes in each small file")
	flag.IntVar(&o.ioReps, "io-reps", 10, "repetitions of the io benchmark (each writes and reads -io-mib three times)")
	flag.StringVar(&o.pullSrc, "pull-src", "/usr/local/go", "a Go installation (GOROOT) whose files make the pull benchmark's image")
	flag.DurationVar(&o.netDuration, "net-duration", 2*time.Second, "netbench -duration: length of one timed transfer")
	flag.IntVar(&o.netRuns, "net-runs", 5, "netbench -runs: timed transfers per cell")
	flag.IntVar(&o.buildReps, "build-reps", 5, "repetitions of the build benchmark (each is a cold build and two rebuilds per tool)")
	flag.StringVar(&only, "only", "", "comma-separated benchmarks to run (default all): "+strings.Join(allBenchmarks, ","))
	flag.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	flag.StringVar(&o.mdOut, "md", "", "write the markdown report to this file (it also goes to stdout)")
	flag.StringVar(&o.pidFile, "pidfile", "", "write peerbench's pid here (bench/run.sh signals it there)")
	flag.BoolVar(&o.quick, "quick", false, "a smoke run: 5 reps, 1 warm-up, 256 MiB of io, short network transfers (flags given explicitly win)")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		return 2
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		for name, val := range map[string]string{"reps": "5", "warmup": "1", "parallel-reps": "2", "io-reps": "3",
			"io-mib": "256", "net-duration": "1s", "net-runs": "2", "build-reps": "2"} {
			if !set[name] {
				_ = flag.Set(name, val)
			}
		}
	}
	o.ioBytes = ioMiB << 20
	if o.reps < 1 || o.parallelReps < 1 || o.ioReps < 1 || o.buildReps < 1 || o.warmup < 0 || o.parallel < 1 || o.ioBytes < 1<<20 || o.ioFiles < 1 {
		fmt.Fprintln(os.Stderr, "peerbench: -reps, -parallel, -io-mib and -io-files must be at least 1, -warmup at least 0")
		return 2
	}
	o.only = map[string]bool{}
	for _, id := range strings.Split(only, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if !slices.Contains(allBenchmarks, id) {
			fmt.Fprintf(os.Stderr, "peerbench: -only: no benchmark %q (have %s)\n", id, strings.Join(allBenchmarks, ","))
			return 2
		}
		o.only[id] = true
	}

	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "peerbench: %v\n", err)
			return 1
		}
	}
	// A signal ends the commands under way (through ctx), then the cleanup
	// runs as it does at the end; further signals are caught, so nothing
	// interrupts the cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	s := &suite{opt: o}
	err := s.main(ctx)
	cerr := s.cleanup()
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "peerbench: interrupted; %s\n", cleanedUp(cerr))
		return 130
	}
	if err = errors.Join(err, cerr); err != nil {
		fmt.Fprintf(os.Stderr, "peerbench: %v\n", err)
		return 1
	}
	return 0
}

func cleanedUp(err error) string {
	if err != nil {
		return err.Error()
	}
	return "containers, processes and files removed"
}

type suite struct {
	opt    options
	work   string
	short  string // a short temporary directory, for podman's runtime dirs
	images imagetest.Paths

	box     *tool // box's own store (overlay, as box picks it)
	boxFuse *tool // a second store, --storage-driver fuse-overlayfs
	podman  *tool // nil when not installed
	boxes   []*tool
	podmen  []*tool

	machine machine
	benches []*benchmark
	// runtimeDirs are podman XDG_RUNTIME_DIRs whose pause process the
	// cleanup ends.
	runtimeDirs []string
	undo        []func() error // more cleanup, run in reverse
}

func (s *suite) want(id string) bool { return len(s.opt.only) == 0 || s.opt.only[id] }

func (s *suite) main(ctx context.Context) error {
	if os.Geteuid() == 0 {
		return errors.New("run as an unprivileged user: the rootless path is what is measured (bench/run.sh as root runs it as BOX_TEST_USER)")
	}
	var err error
	if s.opt.box, err = exec.LookPath(s.opt.box); err != nil {
		return fmt.Errorf("box binary: %w", err)
	}
	for _, p := range []*string{&s.opt.box, &s.opt.tcpbench, &s.opt.iobench, &s.opt.netbench} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return err
			}
		}
	}
	if s.work, err = os.MkdirTemp("", "box-peerbench-"); err != nil {
		return err
	}
	s.undo = append(s.undo, func() error { return removeTree(s.work) })
	// podman's runtime directories: a short path (see podmanEnv).
	if s.short, err = os.MkdirTemp("", "pb-"); err != nil {
		return err
	}
	s.undo = append(s.undo, func() error { return removeTree(s.short) })
	logf("peerbench: working in %s", s.work)

	// What the machine is doing before we start: other people's load.
	s.machine.busyBefore = cpuBusy(2 * time.Second)
	s.machine.loadBefore = loadavg()
	start := time.Now()

	if s.images, err = imagetest.Busybox(filepath.Join(s.work, "images")); err != nil {
		return err
	}
	if err := s.setupTools(ctx); err != nil {
		return err
	}
	s.machine.describe(ctx, s)

	type bench struct {
		id   string
		make func(context.Context) (*benchmark, error)
	}
	for _, bd := range []bench{
		{"run-none", s.runNone},
		{"run-net", s.runNet},
		{"detached", s.detached},
		{"parallel", s.parallelRuns},
		{"pull", s.pull},
		{"io", s.fileIO},
		{"port", s.port},
		{"build", s.buildBench},
	} {
		if !s.want(bd.id) {
			continue
		}
		b, err := bd.make(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			logf("== %s: could not run: %v", bd.id, err)
			b = &benchmark{id: bd.id, title: bd.id, err: err}
		}
		s.benches = append(s.benches, b)
	}
	s.machine.took = time.Since(start)
	s.machine.busyAfter = cpuBusy(2 * time.Second)
	s.machine.loadAfter = loadavg()
	return s.report()
}

// cleanup removes every container of the suite's stores (they hold
// nothing else), ends podman's pause processes, then runs s.undo; it
// reports what it could not remove.
func (s *suite) cleanup() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, t := range s.boxes {
		if err := removeContainers(ctx, t, nil); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range s.podmen {
		if err := removeContainers(ctx, t, []string{"-t", "0"}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range s.runtimeDirs {
		if err := endPauseProcess(dir); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(s.undo) - 1; i >= 0; i-- {
		if err := s.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeContainers removes every container t lists. A container whose
// start was interrupted may appear only after a first rm -f: look again.
func removeContainers(ctx context.Context, t *tool, rmFlags []string) error {
	var rmErr error
	for try := 0; ; try++ {
		out, err := t.output(ctx, "ps", "-a", "-q")
		ids := strings.Fields(string(out))
		if err == nil && len(ids) == 0 {
			return nil
		}
		if try == 5 {
			return fmt.Errorf("%s still lists containers %q after rm -f: %w", t.name, ids, errors.Join(err, rmErr))
		}
		if len(ids) > 0 {
			_, rmErr = t.output(ctx, append(append([]string{"rm", "-f"}, rmFlags...), ids...)...)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// removeTree removes dir, whose stores hold files of subordinate ids: in
// a user namespace with the user's whole map, so that those are
// removable too.
func removeTree(dir string) error {
	const script = `chmod -R u+rwX "$1" 2>/dev/null; rm -rf "$1"`
	out, err := exec.Command("unshare", "--map-auto", "--map-root-user", "sh", "-c", script, "sh", dir).CombinedOutput()
	if err != nil {
		out, err = exec.Command("sh", "-c", script, "sh", dir).CombinedOutput()
	}
	if _, serr := os.Lstat(dir); serr == nil {
		return fmt.Errorf("remove %s: still there (%v: %s)", dir, err, out)
	}
	return nil
}
