// Command netbench measures TCP throughput through a box container's
// network (make bench; issue #6): box's default port path (-p, served by
// rootlesskit's builtin port driver in box's monitor) side by side with
// slirp4netns's own port handler (--network
// slirp4netns:port_handler=slirp4netns), and podman's when it is
// installed. It prints a table of medians and the ratios default/slirp.
//
// Rows:
//   - host→container through the published port: a client on the host
//     sends, tcpbench in the container receives;
//   - container→host through the published port: a client on the host
//     connects in and tcpbench in the container sends (downloading from a
//     container's server);
//   - container→host outbound: tcpbench in a container connects to a
//     server on the host's 127.0.0.1 as 10.0.2.2
//     (allow_host_loopback=true) and sends. This is slirp4netns's own
//     outbound path whatever the port handler, so both columns measure the
//     same thing: its ratio shows the noise.
//
// Every transfer's receiver reports the bytes it got, and a count that is
// not what was sent fails the benchmark. Run it as an unprivileged user
// with a subordinate id range (make bench does, switching from root to
// BOX_TEST_USER); it uses a store of its own in a temporary directory, and
// talks only to 127.0.0.1 and to the containers' 10.0.2.x.
//
// With -json FILE it also writes the table as JSON (Report), for
// bench/cmd/peerbench, which runs netbench as one part of its suite.
//
// Usage: netbench -box PATH -tcpbench PATH [-duration 3s] [-runs 3] [-json FILE]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/boxcli/box/bench/tcpbench"
	"github.com/boxcli/box/imagetest"
	"github.com/boxcli/box/subid"
)

const (
	image = "box-test/busybox:latest" // imagetest.BusyboxTag
	// probeBytes is the first transfer of each cell: it warms the path
	// up and sizes the timed runs.
	probeBytes = 64 << 20
	minBytes   = 32 << 20
	maxBytes   = 64 << 30
)

func main() {
	os.Exit(run())
}

func run() int {
	boxBin := flag.String("box", "box", "box binary (built with CGO_ENABLED=0 and box's tags)")
	tcpbenchBin := flag.String("tcpbench", "", "static tcpbench binary (bench/cmd/tcpbench), bind-mounted into the containers")
	duration := flag.Duration("duration", 3*time.Second, "target length of one timed transfer")
	runs := flag.Int("runs", 3, "timed transfers per cell; the table shows their median")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	flag.Parse()
	if *tcpbenchBin == "" || flag.NArg() != 0 || *runs < 1 || *duration <= 0 {
		flag.Usage()
		return 2
	}

	// A signal ends the commands and transfers under way (through ctx),
	// then the cleanup runs as it does at the end; further signals are
	// caught, so that nothing interrupts the cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	b := &bench{duration: *duration, runs: *runs, out: os.Stdout, jsonOut: *jsonOut}
	err := b.main(ctx, *boxBin, *tcpbenchBin)
	cerr := b.cleanup()
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "netbench: interrupted; %s\n", cleanedUp(cerr))
		return 130
	}
	if err = errors.Join(err, cerr); err != nil {
		fmt.Fprintf(os.Stderr, "netbench: %v\n", err)
		return 1
	}
	return 0
}

func cleanedUp(err error) string {
	if err != nil {
		return err.Error()
	}
	return "containers and files removed"
}

// engine is a container CLI with box's (and podman's) commands.
type engine struct {
	name   string
	bin    string
	global []string // before the command: podman's --root, ...
	env    []string
}

// command is e's command; ending ctx sends it SIGTERM (box then stops
// what it started, where SIGKILL could leave a container half made).
func (e *engine) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, append(slices.Clone(e.global), args...)...)
	cmd.Env = e.env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	return cmd
}

// output runs a command and returns its stdout; an error carries stderr.
func (e *engine) output(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := e.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %v: %s", e.name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// column is one way of publishing a port: a container serving tcpbench
// on hostPort, and the --network a container uses to reach the host.
type column struct {
	title    string
	engine   *engine
	network  []string // the server container's --network (none: the default)
	outbound string   // the client container's --network
	name     string   // of the server container
	hostPort int
}

type row struct {
	title    string
	note     string
	measure  func(b *bench, ctx context.Context, c *column, n int64) (tcpbench.Result, error)
	samePath bool // every column takes the same path: the ratio is noise
}

var rows = []row{
	{"host→container", "-p, host sends", (*bench).push, false},
	{"container→host", "-p, container sends", (*bench).pull, false},
	{"container→host", "10.0.2.2, container sends", (*bench).outbound, true},
}

type bench struct {
	duration time.Duration
	runs     int
	out      io.Writer
	jsonOut  string // "" or where the Report goes

	work     string // temporary: the stores and the images
	tcpbench string

	hostLn   net.Listener           // the host's server for the outbound row
	received chan tcpbench.Received // what it got, push by push

	engines []*engine      // whose containers the cleanup removes
	undo    []func() error // more cleanup, run in reverse
}

func (b *bench) main(ctx context.Context, boxBin, tcpbenchBin string) error {
	if err := checkHost(); err != nil {
		return err
	}
	var err error
	if boxBin, err = lookPath(boxBin); err != nil {
		return err
	}
	if b.tcpbench, err = filepath.Abs(tcpbenchBin); err != nil {
		return err
	}
	if err := checkStatic(b.tcpbench); err != nil {
		return err
	}
	if b.work, err = os.MkdirTemp("", "box-bench-"); err != nil {
		return err
	}
	b.undo = append(b.undo, func() error { return removeTree(b.work) })

	fmt.Fprintf(b.out, "box network benchmark (#6): TCP throughput, median of %d transfers of about %v each;\n"+
		"every transfer's receiver confirms the byte count; MB/s = 10^6 bytes/s\n", b.runs, b.duration)
	images, err := imagetest.Busybox(filepath.Join(b.work, "images"))
	if err != nil {
		return err
	}

	box := &engine{name: "box", bin: boxBin, env: b.boxEnv()}
	cols := []*column{
		{title: "box (rootlesskit)", engine: box, outbound: "slirp4netns:allow_host_loopback=true"},
		{title: "slirp4netns hostfwd", engine: box, network: []string{"--network", "slirp4netns:port_handler=slirp4netns"},
			outbound: "slirp4netns:port_handler=slirp4netns,allow_host_loopback=true"},
	}
	podman, err := exec.LookPath("podman")
	if err == nil {
		pe := &engine{name: "podman", bin: podman, env: os.Environ(), global: []string{
			"--root", filepath.Join(b.work, "podman", "root"), "--runroot", filepath.Join(b.work, "podman", "run"),
		}}
		cols = append(cols, &column{title: "podman (rootlessport)", engine: pe,
			network: []string{"--network", "slirp4netns"}, outbound: "slirp4netns:allow_host_loopback=true"})
	}

	for i, c := range cols {
		if !slices.Contains(b.engines, c.engine) {
			b.engines = append(b.engines, c.engine)
			if _, err := c.engine.output(ctx, "load", "-i", images.DockerArchive); err != nil {
				return err
			}
		}
		if err := b.start(ctx, c, i); err != nil {
			return err
		}
	}
	if b.hostLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return err
	}
	for _, c := range cols {
		fmt.Fprintf(b.out, "  %-32s %s run --rm --network %s ... /tcpbench send %s BYTES\n",
			c.title+" (outbound):", c.engine.name, c.outbound, b.hostAddr())
	}
	b.received = make(chan tcpbench.Received, 16)
	go func() {
		_ = tcpbench.Serve(b.hostLn, os.Stderr, func(r tcpbench.Received) { b.received <- r })
	}()
	b.undo = append(b.undo, b.hostLn.Close)

	results := make([][]float64, len(rows))
	rep := Report{Runs: b.runs, Duration: b.duration.String()}
	for _, c := range cols {
		rep.Columns = append(rep.Columns, c.title)
	}
	for i, r := range rows {
		jr := ReportRow{Title: r.title, Note: r.note, SamePath: r.samePath}
		for _, c := range cols {
			mbps, rates, err := b.cell(ctx, r, c)
			if err != nil {
				return fmt.Errorf("%s (%s), %s: %w", r.title, r.note, c.title, err)
			}
			results[i] = append(results[i], mbps)
			jr.MBps = append(jr.MBps, mbps)
			jr.Rates = append(jr.Rates, rates)
		}
		rep.Rows = append(rep.Rows, jr)
	}
	b.report(cols, results, podman != "")
	if b.jsonOut != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(b.jsonOut, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Report is what -json writes: the table, and every timed transfer's rate.
type Report struct {
	Columns  []string    `json:"columns"` // "box (rootlesskit)", "slirp4netns hostfwd", maybe "podman (rootlessport)"
	Rows     []ReportRow `json:"rows"`
	Runs     int         `json:"runs"`
	Duration string      `json:"duration"` // the target length of one transfer
}

// ReportRow is one direction: per column, the median and the rates (MB/s).
type ReportRow struct {
	Title    string      `json:"title"`
	Note     string      `json:"note"`
	SamePath bool        `json:"samePath"` // every column takes the same path: the ratio is noise
	MBps     []float64   `json:"mbps"`
	Rates    [][]float64 `json:"rates"`
}

// checkHost refuses what would not measure box's rootless path.
func checkHost() error {
	if os.Geteuid() == 0 {
		return errors.New("run as an unprivileged user: the rootless path is what is measured (make bench as root runs it as BOX_TEST_USER)")
	}
	u, err := user.Current()
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	// Without a range box falls back to a single-ID map: a container
	// still, but not the one users get.
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		var ranges []subid.Range
		data, err := os.ReadFile(f)
		if err == nil {
			ranges, err = subid.Parse(bytes.NewReader(data), u.Username, uid)
		}
		if err == nil && len(ranges) == 0 {
			err = fmt.Errorf("%w for %s", subid.ErrNoRange, u.Username)
		}
		if err != nil {
			return fmt.Errorf("%s: %v; run scripts/test.sh as root once, or sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", f, err, u.Username)
		}
	}
	for _, tool := range []string{"slirp4netns", "newuidmap", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("no %s in PATH; run scripts/test.sh as root once to install what box's tests need", tool)
		}
	}
	return nil
}

func lookPath(bin string) (string, error) {
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("box binary: %w (make bench builds one)", err)
	}
	return filepath.Abs(p)
}

// checkStatic: the containers hold no libc, so a dynamically linked
// tcpbench fails there with a bare "no such file or directory".
func checkStatic(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if bytes.Contains(data, []byte("/lib64/ld-linux")) || bytes.Contains(data, []byte("/lib/ld-linux")) {
		return fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", path)
	}
	return nil
}

// boxEnv gives box a store and runtime directory of its own under work,
// so the benchmark neither sees nor leaves anything in the user's.
func (b *bench) boxEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "XDG_DATA_HOME=") || strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=")
	})
	for _, d := range []string{"data", "run", "config"} {
		_ = os.MkdirAll(filepath.Join(b.work, d), 0o700)
	}
	return append(env,
		"XDG_DATA_HOME="+filepath.Join(b.work, "data"),
		"XDG_RUNTIME_DIR="+filepath.Join(b.work, "run"),
		"XDG_CONFIG_HOME="+filepath.Join(b.work, "config"))
}

// start runs column c's server container, publishing a free host port
// as the same port inside, and waits until a transfer gets through.
func (b *bench) start(ctx context.Context, c *column, i int) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	c.hostPort = port
	c.name = fmt.Sprintf("netbench-%d-%d", os.Getpid(), i)
	args := []string{"run", "-d", "--pull=never", "--name", c.name}
	args = append(args, c.network...)
	args = append(args,
		"-p", fmt.Sprintf("127.0.0.1:%d:%d", port, port),
		"-v", b.tcpbench+":/tcpbench:ro",
		image, "/tcpbench", "serve", fmt.Sprintf(":%d", port))
	fmt.Fprintf(b.out, "  %-32s %s %s\n", c.title+":", c.engine.name, strings.Join(args, " "))
	if _, err := c.engine.output(ctx, args...); err != nil {
		return err
	}
	addr := c.addr()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := tcpbench.Push(pctx, addr, 1)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			logs, _ := c.engine.output(ctx, "logs", c.name)
			return fmt.Errorf("%s: nothing answers on %s after 15s: %v (container log: %q)", c.title, addr, err, strings.TrimSpace(string(logs)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostAddr is the host's server as containers reach it.
func (b *bench) hostAddr() string {
	return fmt.Sprintf("10.0.2.2:%d", b.hostLn.Addr().(*net.TCPAddr).Port)
}

func (c *column) addr() string { return fmt.Sprintf("127.0.0.1:%d", c.hostPort) }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cell measures one row in one column: a probe transfer sizes the timed
// ones to about b.duration, then b.runs of them give the median.
func (b *bench) cell(ctx context.Context, r row, c *column) (float64, []float64, error) {
	probe, err := r.measure(b, ctx, c, probeBytes)
	if err != nil {
		return 0, nil, fmt.Errorf("probe of %d bytes: %w", probeBytes, err)
	}
	n := int64(probe.MBps() * 1e6 * b.duration.Seconds())
	n = min(max(n, minBytes), maxBytes) &^ (1<<20 - 1)
	var rates []float64
	for range b.runs {
		res, err := r.measure(b, ctx, c, n)
		if err != nil {
			return 0, nil, err
		}
		rates = append(rates, res.MBps())
	}
	m := median(rates)
	fmt.Fprintf(b.out, "  %-16s %-27s %-22s %6.0f MiB ×%d: %s MB/s, median %.0f\n",
		r.title, "("+r.note+")", c.title, float64(n)/(1<<20), b.runs, joinRates(rates), m)
	return m, rates, nil
}

// timeout bounds a transfer of n bytes: generous, since it only has to
// catch a path that hangs.
func (b *bench) timeout(n int64) time.Duration {
	return 30*time.Second + 10*b.duration + time.Duration(n/(1<<20))*100*time.Millisecond
}

// push: the host sends into the container's published port.
func (b *bench) push(ctx context.Context, c *column, n int64) (tcpbench.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout(n))
	defer cancel()
	return tcpbench.Push(ctx, c.addr(), n)
}

// pull: the container sends out through its published port.
func (b *bench) pull(ctx context.Context, c *column, n int64) (tcpbench.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout(n))
	defer cancel()
	return tcpbench.Pull(ctx, c.addr(), n)
}

// outbound: a container of c's network connects to the host's server as
// 10.0.2.2 and sends; that server's own count must agree.
func (b *bench) outbound(ctx context.Context, c *column, n int64) (tcpbench.Result, error) {
	var res tcpbench.Result
	ctx, cancel := context.WithTimeout(ctx, b.timeout(n)+30*time.Second)
	defer cancel()
	out, err := c.engine.output(ctx, "run", "--rm", "--pull=never", "--network", c.outbound,
		"-v", b.tcpbench+":/tcpbench:ro", image, "/tcpbench", "send", b.hostAddr(), strconv.FormatInt(n, 10))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("tcpbench's result %q: %w", out, err)
	}
	if err := res.Check(); err != nil {
		return res, err
	}
	select {
	case got := <-b.received:
		if got.Got != n {
			return res, fmt.Errorf("the host's server got %d of %d bytes", got.Got, n)
		}
	case <-time.After(5 * time.Second):
		return res, errors.New("the host's server reported nothing")
	case <-ctx.Done():
		return res, ctx.Err()
	}
	return res, nil
}

func (b *bench) report(cols []*column, results [][]float64, havePodman bool) {
	fmt.Fprintln(b.out)
	tw := tabwriter.NewWriter(b.out, 0, 0, 3, ' ', 0)
	fmt.Fprint(tw, "direction\t")
	for _, c := range cols {
		fmt.Fprintf(tw, "%s\t", c.title)
	}
	fmt.Fprintln(tw, "ratio")
	for i, r := range rows {
		fmt.Fprintf(tw, "%s (%s)\t", r.title, r.note)
		for _, v := range results[i] {
			fmt.Fprintf(tw, "%.0f MB/s\t", v)
		}
		ratio := fmt.Sprintf("%.1fx", results[i][0]/results[i][1])
		if r.samePath {
			ratio += " (same slirp4netns path in both)"
		}
		fmt.Fprintln(tw, ratio)
	}
	tw.Flush()
	fmt.Fprintln(b.out)
	if !havePodman {
		fmt.Fprintln(b.out, "podman: not installed")
	}
	var goal []string
	met := true
	for i, r := range rows {
		if r.samePath {
			continue
		}
		x := results[i][0] / results[i][1]
		goal = append(goal, fmt.Sprintf("%s (%s) %.1fx", r.title, r.note, x))
		met = met && x >= 2
	}
	verdict := "met"
	if !met {
		verdict = "NOT met"
	}
	fmt.Fprintf(b.out, "ratio = box (rootlesskit) / slirp4netns hostfwd; goal (#6): at least 2x through -p: %s: %s\n", strings.Join(goal, ", "), verdict)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func joinRates(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.FormatFloat(x, 'f', 0, 64))
	}
	return strings.Join(s, " ")
}

// cleanup removes every container of the benchmark's stores (they hold
// nothing else), then runs b.undo; it reports what it could not remove.
func (b *bench) cleanup() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, e := range b.engines {
		// A container whose start was interrupted may appear only
		// after a first rm -f: look again.
		var rmErr error
		for try := 0; ; try++ {
			out, err := e.output(ctx, "ps", "-a", "-q")
			ids := strings.Fields(string(out))
			if err == nil && len(ids) == 0 {
				break
			}
			if try == 5 {
				errs = append(errs, fmt.Errorf("%s still lists containers %q after rm -f: %w", e.name, ids, errors.Join(err, rmErr)))
				break
			}
			if len(ids) > 0 {
				_, rmErr = e.output(ctx, append([]string{"rm", "-f"}, ids...)...)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for i := len(b.undo) - 1; i >= 0; i-- {
		if err := b.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeTree removes dir, whose store holds files of subordinate ids: in
// a user namespace with the user's whole map (as box's tests do), so
// that those files are removable.
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
