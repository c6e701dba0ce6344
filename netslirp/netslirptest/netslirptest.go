// Package netslirptest sets the stage for networking tests as an
// unprivileged user: Main re-executes the test binary as root of a user
// namespace of its own that keeps the host's network namespace, as box's
// stage runs, and StartNetns makes container-like network namespaces
// owned by it, each with TCP and UDP echo servers.
//
// It is for tests only. Tests talk to 127.0.0.1 and to the namespaces
// they made; nothing here reaches other hosts.
package netslirptest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	roleEnv   = "_BOX_NETTEST_ROLE"
	usernsEnv = "_BOX_NETTEST_USERNS"
	echoRole  = "echo"
)

// EchoPort is where a namespace's echo servers listen, on 0.0.0.0, for
// both TCP and UDP.
const EchoPort = 8080

// Main is TestMain for packages that use StartNetns. It runs the role the
// environment names (the echo servers, or one of roles, which gets the
// arguments it was started with), or re-executes the test binary in a new
// user namespace, or, in there, runs the tests.
func Main(m *testing.M, roles map[string]func(args []string) int) {
	if role := os.Getenv(roleEnv); role != "" {
		if role == echoRole {
			os.Exit(echoMain())
		}
		run, ok := roles[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "netslirptest: unknown role %q\n", role)
			os.Exit(2)
		}
		os.Exit(run(os.Args[1:]))
	}
	if os.Getenv(usernsEnv) == "" {
		os.Exit(enterUserns())
	}
	os.Exit(m.Run())
}

// Command runs the test binary again in role, one of the roles given to
// Main, with args.
func Command(role string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	return cmd
}

// enterUserns runs the test binary again as root of a new user namespace
// that maps only the caller: enough to own network namespaces, and what
// any user can have without newuidmap.
func enterUserns() int {
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), usernsEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "netslirptest: enter a user namespace: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if ee.ExitCode() < 0 {
			fmt.Fprintf(os.Stderr, "netslirptest: tests in the user namespace: %v\n", err)
			return 1
		}
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "netslirptest: tests in the user namespace: %v\n", err)
		return 1
	}
	return 0
}

// Netns is a process alone in a network namespace owned by the test's user
// namespace, with lo up and the echo servers on EchoPort.
type Netns struct {
	Pid  int
	Path string // /proc/PID/ns/net
}

// StartNetns starts a Netns; it ends with the test.
func StartNetns(t testing.TB) *Netns {
	t.Helper()
	return startNetns(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET})
}

// StartNestedNetns starts a Netns whose network namespace belongs to a
// user namespace nested in the test's, as a keep-id container's does.
func StartNestedNetns(t testing.TB) *Netns {
	t.Helper()
	return startNetns(t, &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	})
}

func startNetns(t testing.TB, attr *syscall.SysProcAttr) *Netns {
	t.Helper()
	cmd := Command(echoRole)
	cmd.Stderr = os.Stderr
	// No Pdeathsig: it fires when the thread that forked the child exits,
	// and In (like box's port forwarder) ends threads. The servers leave
	// when their stdin, held by the test, ends.
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process in a new network namespace: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // the servers leave on EOF
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("echo servers in a new network namespace: %q, %v", line, err)
	}
	return &Netns{Pid: cmd.Process.Pid, Path: fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)}
}

// echoMain is the echo role: lo up, TCP and UDP echo on EchoPort, until
// stdin ends.
func echoMain() int {
	if err := loUp(); err != nil {
		fmt.Fprintf(os.Stderr, "echo: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", EchoPort))
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo: %v\n", err)
		return 1
	}
	pc, err := net.ListenPacket("udp", fmt.Sprintf("0.0.0.0:%d", EchoPort))
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo: %v\n", err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// In runs fn on a thread that has joined the network namespace at path.
// The thread is thrown away afterwards: it could not come back, since the
// host's namespace belongs to a user namespace where the test is nobody.
func In(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// EchoTCP sends n random bytes to the echo server behind addr and checks
// that exactly those bytes come back.
func EchoTCP(t testing.TB, addr string, n int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	data := make([]byte, n)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	h := sha256.New()
	got, err := io.Copy(h, c)
	if err != nil {
		t.Fatalf("read the echo from %s: %v", addr, err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write to %s: %v", addr, err)
	}
	if want := sha256.Sum256(data); got != int64(n) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("echo through %s: %d bytes, sha256 %x; want %d bytes, %x", addr, got, h.Sum(nil), n, want)
	}
}

// EchoUDP sends a datagram to the echo server behind addr and checks the
// reply. It tries a few times: UDP may drop the first datagrams while a
// forwarder sets up its flow.
func EchoUDP(t testing.TB, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatalf("dial udp %s: %v", addr, err)
	}
	defer c.Close()
	msg := make([]byte, 1200)
	rand.Read(msg)
	buf := make([]byte, 2048)
	var lastErr error
	for range 10 {
		if _, err := c.Write(msg); err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			lastErr = err
			continue
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("udp echo through %s: got %d different bytes", addr, n)
		}
		return
	}
	t.Fatalf("udp echo through %s: no reply: %v", addr, lastErr)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Children returns the pids of the live processes whose parent is ppid and
// whose command name is comm.
func Children(ppid int, comm string) []int {
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 || s[open+1:close] != comm || f[0] == "Z" || f[1] != strconv.Itoa(ppid) {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
		pids = append(pids, pid)
	}
	return pids
}
