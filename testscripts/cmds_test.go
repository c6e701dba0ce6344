package testscripts_test

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// cmdExits runs a command like exec and requires a given exit status:
// exits N cmd [args...].
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits (say which status: exits N cmd)")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits N cmd [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want < 0 || want > 255 {
		ts.Fatalf("exits: status %q is not a number from 0 to 255", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		if want != 0 {
			ts.Fatalf("%s exited 0, want %d", args[1], want)
		}
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ts.Fatalf("%s was killed by %v, want exit status %d", args[1], ws.Signal(), want)
		}
		if got := ee.ExitCode(); got != want {
			ts.Fatalf("%s exited %d, want %d", args[1], got, want)
		}
	default:
		ts.Fatalf("%s: %v", args[1], err)
	}
}

// cmdWaitfor waits until a file exists, or with ! until it is gone:
// [!] waitfor file [timeout].
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: [!] waitfor file [timeout]")
	}
	timeout := 10 * time.Second
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		if err != nil {
			ts.Fatalf("waitfor: %v", err)
		}
		timeout = d
	}
	file := ts.MkAbs(args[0])
	deadline := time.Now().Add(timeout)
	for {
		_, err := os.Lstat(file)
		if exists := err == nil; exists != neg {
			return
		}
		if time.Now().After(deadline) {
			if neg {
				ts.Fatalf("%s still exists after %v", args[0], timeout)
			}
			ts.Fatalf("%s did not appear within %v", args[0], timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdFreeport sets each NAME to a TCP and UDP port on 127.0.0.1 that was
// free a moment ago: freeport NAME...
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport NAME...")
	}
	for _, name := range args {
		for try := 0; ; try++ {
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			ts.Check(err)
			port := l.Addr().(*net.TCPAddr).Port
			u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
			l.Close()
			if err == nil {
				u.Close()
				ts.Setenv(name, strconv.Itoa(port))
				break
			}
			if try == 20 {
				ts.Fatalf("freeport: no port free for both tcp and udp: %v", err)
			}
		}
	}
}

// cmdSignal sends a signal to a pid or to the pid in a file:
// signal -SIG pidfile|pid.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! signal")
	}
	if len(args) != 2 || !strings.HasPrefix(args[0], "-") {
		ts.Fatalf("usage: signal -SIG pidfile|pid")
	}
	name := strings.TrimPrefix(strings.TrimPrefix(args[0], "-"), "SIG")
	sig := unix.SignalNum("SIG" + name)
	if sig == 0 {
		ts.Fatalf("signal: unknown signal %s", args[0])
	}
	target := args[1]
	if _, err := strconv.Atoi(target); err != nil {
		data, err := os.ReadFile(ts.MkAbs(target))
		if err != nil {
			ts.Fatalf("signal: %v", err)
		}
		target = strings.TrimSpace(string(data))
	}
	pid, err := strconv.Atoi(target)
	if err != nil || pid <= 0 {
		ts.Fatalf("signal: %q is not a pid", target)
	}
	if err := unix.Kill(pid, sig); err != nil {
		ts.Fatalf("signal %v to %d: %v", sig, pid, err)
	}
}

// condition answers the conditions this suite adds to testscript's own.
func condition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "subuid":
		return hasSubuid()
	case "cgroup2":
		return delegatedCgroup2(), nil
	case "user-dbus":
		return userBus(), nil
	}
	// env:NAME: the test process's environment sets NAME (the scripts' own
	// environment is made from it: see setup).
	if name, ok := strings.CutPrefix(cond, "env:"); ok {
		return os.Getenv(name) != "", nil
	}
	if name, ok := strings.CutPrefix(cond, "cgroup-controller:"); ok {
		return ownController(name), nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

func hasSubuid() (bool, error) {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		return false, nil
	}
	u, err := user.Current()
	if err != nil {
		return false, fmt.Errorf("look up current user: %w", err)
	}
	f, err := os.Open("/etc/subuid")
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) == 3 && (fields[0] == u.Username || fields[0] == u.Uid) && fields[2] != "0" {
			return true, nil
		}
	}
	return false, sc.Err()
}

// delegatedCgroup2 reports whether this process sits in a unified cgroup2
// hierarchy in a cgroup it may write, the way systemd delegates one.
func delegatedCgroup2() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return unix.Access("/sys/fs/cgroup"+path+"/cgroup.procs", unix.W_OK) == nil
		}
	}
	return false
}

// ownController reports whether this process's cgroup may hand the
// controller name to its children.
func ownController(name string) bool {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			b, err := os.ReadFile("/sys/fs/cgroup" + path + "/cgroup.controllers")
			return err == nil && slices.Contains(strings.Fields(string(b)), name)
		}
	}
	return false
}

func userBus() bool {
	addr, ok := strings.CutPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path=")
	if !ok {
		return false
	}
	fi, err := os.Stat(strings.SplitN(addr, ",", 2)[0])
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// ptyrunMain is the ptyrun command, run as its own process; see the
// package documentation.
func ptyrunMain() {
	os.Exit(ptyrun(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func ptyrun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ptyrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "24x80", "terminal size, ROWSxCOLS")
	wait := fs.String("wait", "", "write the input once the output matches this regexp")
	eot := fs.Bool("eot", false, "send ^D after the input")
	waitRaw := fs.Bool("wait-raw", false, "write the input once the command put the terminal in raw mode")
	raw := fs.Bool("raw", false, "keep \\r\\n in the output")
	timeout := fs.Duration("timeout", 60*time.Second, "kill the command after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: ptyrun [flags] cmd [args...]")
		return 2
	}
	var ws pty.Winsize
	if _, err := fmt.Sscanf(*size, "%dx%d", &ws.Rows, &ws.Cols); err != nil {
		fmt.Fprintf(stderr, "ptyrun: -size %q: want ROWSxCOLS\n", *size)
		return 2
	}
	var waitRE *regexp.Regexp
	if *wait != "" {
		re, err := regexp.Compile(*wait)
		if err != nil {
			fmt.Fprintf(stderr, "ptyrun: -wait: %v\n", err)
			return 2
		}
		waitRE = re
	}
	input, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "ptyrun: read input: %v\n", err)
		return 2
	}

	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	// StartWithSize makes the pty the controlling terminal of a new session
	// and puts it on stdin, stdout and stderr.
	ptm, err := pty.StartWithSize(cmd, &ws)
	if err != nil {
		fmt.Fprintf(stderr, "ptyrun: start %s: %v\n", fs.Arg(0), err)
		return 127
	}
	defer ptm.Close()

	var (
		mu      sync.Mutex
		out     []byte
		changed = make(chan struct{}, 1)
		drained = make(chan struct{})
	)
	go func() {
		defer close(drained)
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			mu.Lock()
			out = append(out, buf[:n]...)
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
			if err != nil {
				return // EIO once the last holder of the terminal is gone
			}
		}
	}()
	go func() {
		if waitRE != nil {
			for range changed {
				mu.Lock()
				ok := waitRE.Match(out)
				mu.Unlock()
				if ok {
					break
				}
			}
		}
		if *waitRaw {
			// Input typed before then would meet the line discipline
			// (^Q is XON, a line is cooked), not the command.
			for {
				tio, err := unix.IoctlGetTermios(int(ptm.Fd()), unix.TCGETS)
				if err != nil || tio.Lflag&unix.ICANON == 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		ptm.Write(input)
		if *eot {
			ptm.Write([]byte{4})
		}
	}()

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := 0
	select {
	case err = <-done:
		status = exitStatus(err, stderr)
	case <-time.After(*timeout):
		// The whole session, so that what cmd started goes too.
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		<-done
		fmt.Fprintf(stderr, "ptyrun: %s still running after %v; killed\n", fs.Arg(0), *timeout)
		status = 124
	}
	// Output still in the pty arrives after the exit; a leftover process
	// holding the terminal must not hang the script, so wait only a while.
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	mu.Lock()
	result := out
	mu.Unlock()
	if !*raw {
		result = []byte(strings.ReplaceAll(string(result), "\r\n", "\n"))
	}
	stdout.Write(result)
	return status
}

func exitStatus(err error, stderr io.Writer) int {
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Fprintf(stderr, "ptyrun: killed by %v\n", ws.Signal())
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintf(stderr, "ptyrun: %v\n", err)
	return 1
}

// cmdRegistry starts a registry on 127.0.0.1 (Debian's docker-registry,
// through registrytest's testregistry) and sets $NAME to its address; it
// stops with the script. registry NAME [-auth user:pass] [-tls]
// [-stall-blobs]: with -tls, $NAME_CERTS is a directory with its CA
// certificate, for --cert-dir; with -stall-blobs, a blob over 1 MiB stops
// after 64 KiB, so a pull from it stays under way until killed.
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: registry NAME [-auth user:pass] [-tls] [-stall-blobs]")
	}
	name := args[0]
	addrFile := ts.MkAbs(name + ".addr")
	if err := os.MkdirAll(ts.MkAbs(name+".data"), 0o700); err != nil {
		ts.Fatalf("registry dir: %v", err)
	}
	cmd := exec.Command(ts.Getenv("BOX_TESTREGISTRY"), append([]string{"-addr-file", addrFile, "-dir", ts.MkAbs(name + ".data")}, args[1:]...)...)
	cmd.Env = []string{"PATH=" + ts.Getenv("PATH"), "HOME=" + ts.Getenv("HOME"), "TMPDIR=" + ts.Getenv("TMPDIR")}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		ts.Fatalf("start testregistry: %v", err)
	}
	ts.Defer(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			ts.Setenv(name, strings.TrimSpace(string(b)))
			if certs, err := os.ReadFile(addrFile + ".certdir"); err == nil {
				ts.Setenv(name+"_CERTS", strings.TrimSpace(string(certs)))
			}
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("testregistry did not start within 15s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
