package portfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/msg"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/parent"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/testsuite"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/netslirp/netslirptest"
)

func TestMain(m *testing.M) {
	switch {
	case filepath.Base(os.Args[0]) == "nc":
		os.Exit(ncMain(os.Args[1:]))
	case os.Getenv("rootlesskit-port-testsuite.mode") != "":
		// rootlesskit's port driver suite runs the child half in a
		// process of its own; this is it.
		testsuite.Main(m, func() port.ChildDriver { return &childDriver{} })
		os.Exit(0)
	}
	netslirptest.Main(m, nil)
}

// ncMain stands in for OpenBSD's nc -l [-u] PORT, which rootlesskit's
// suite runs in the namespace and Debian does not install by default: it
// writes what it receives to stdout.
func ncMain(args []string) int {
	udp, portArg := false, ""
	for _, a := range args {
		switch a {
		case "-u":
			udp = true
		case "-l":
		default:
			portArg = a
		}
	}
	if udp {
		pc, err := net.ListenPacket("udp", ":"+portArg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nc:", err)
			return 1
		}
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return 1
			}
			os.Stdout.Write(buf[:n])
		}
	}
	ln, err := net.Listen("tcp", ":"+portArg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nc:", err)
		return 1
	}
	c, err := ln.Accept()
	if err != nil {
		return 1
	}
	io.Copy(os.Stdout, c)
	return 0
}

// TestRootlessKitSuite runs rootlesskit's own port driver suite on its
// parent half with box's child half.
func TestRootlessKitSuite(t *testing.T) {
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "nc")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	d, err := parent.NewDriver(io.Discard, t.TempDir(), false, "")
	if err != nil {
		t.Fatal(err)
	}
	testsuite.Run(t, func() port.ParentDriver { return d })
}

func needSlirp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(netslirp.Binary); err != nil {
		t.Skipf("needs slirp4netns (apt-get install slirp4netns): %v", err)
	}
}

// setup makes a container-like network namespace with echo servers on
// netslirptest.EchoPort and slirp4netns attached.
func setup(t *testing.T) (*netslirptest.Netns, *netslirp.Slirp) {
	t.Helper()
	needSlirp(t)
	ns := netslirptest.StartNetns(t)
	// The host's loopback is open to the namespace only so that the
	// slirp4netns driver can answer UDP clients on 127.0.0.1 (see
	// netslirp's TestHostFwdUDP).
	sl, err := netslirp.Start(context.Background(), ns.Path, netslirp.Options{
		APISocket:         filepath.Join(t.TempDir(), "slirp.sock"),
		AllowHostLoopback: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	return ns, sl
}

var drivers = []Driver{RootlessKit, Slirp4netns}

func start(t *testing.T, ns *netslirptest.Netns, sl *netslirp.Slirp, d Driver, specs []Spec) (*Forwarder, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := Start(ctx, ns.Path, d, specs, WithSlirp(sl))
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}

// free reports whether nothing listens on the spec's host side: it can
// be bound, and for TCP, nothing answers there.
func free(t *testing.T, s Spec) error {
	t.Helper()
	addr := net.JoinHostPort(s.HostIP, fmt.Sprint(s.HostPort))
	if s.Proto == "tcp" {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("%s/tcp accepts connections", addr)
		}
	}
	if _, err := bind(s); err != nil {
		return fmt.Errorf("%s/%s cannot be bound: %v", addr, s.Proto, err)
	}
	return nil
}

// TestForward publishes TCP and UDP, fixed and random host ports, with
// each driver, moves data through them byte for byte, and checks that
// Close leaves nothing listening.
func TestForward(t *testing.T) {
	ns, sl := setup(t)
	for _, d := range drivers {
		t.Run(string(d), func(t *testing.T) {
			fixed := netslirptest.FreePort(t)
			specs := []Spec{
				{HostIP: "127.0.0.1", ContainerPort: netslirptest.EchoPort, Proto: "tcp"},
				{HostIP: "127.0.0.1", HostPort: fixed, ContainerPort: netslirptest.EchoPort, Proto: "tcp"},
				{HostIP: "127.0.0.1", ContainerPort: netslirptest.EchoPort, Proto: "udp"},
			}
			f, err := start(t, ns, sl, d, specs)
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			ports := f.Ports()
			if len(ports) != len(specs) {
				t.Fatalf("Ports() = %v, want %d", ports, len(specs))
			}
			for i, p := range ports {
				want := specs[i]
				want.HostPort = p.HostPort
				if p != want || p.HostPort == 0 || (specs[i].HostPort != 0 && p.HostPort != specs[i].HostPort) {
					t.Errorf("Ports()[%d] = %+v, want %+v with a real host port", i, p, specs[i])
				}
			}
			for _, p := range ports {
				addr := net.JoinHostPort(p.HostIP, fmt.Sprint(p.HostPort))
				if p.Proto == "tcp" {
					netslirptest.EchoTCP(t, addr, 4<<20)
				} else {
					netslirptest.EchoUDP(t, addr)
				}
			}
			if err := f.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			for _, p := range ports {
				if err := free(t, p); err != nil {
					t.Errorf("after Close: %v", err)
				}
			}
		})
	}
}

// TestAllAddresses publishes with no host IP, which means 0.0.0.0 only,
// as Docker binds it.
func TestAllAddresses(t *testing.T) {
	ns, sl := setup(t)
	for _, d := range drivers {
		t.Run(string(d), func(t *testing.T) {
			f, err := start(t, ns, sl, d, []Spec{{ContainerPort: netslirptest.EchoPort, Proto: "tcp"}})
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			p := f.Ports()[0]
			if p.HostIP != "0.0.0.0" {
				t.Errorf("Ports()[0].HostIP = %q, want 0.0.0.0", p.HostIP)
			}
			netslirptest.EchoTCP(t, fmt.Sprintf("127.0.0.1:%d", p.HostPort), 64<<10)
			// Not IPv6 too: the same port is still free on ::1.
			if ln, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", p.HostPort)); err == nil {
				ln.Close()
			} else if !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.EAFNOSUPPORT) {
				t.Errorf("[::1]:%d is taken too: %v", p.HostPort, err)
			}
		})
	}
}

// TestCloseCutsConnections: the RootlessKit driver ends connections in
// flight at Close.
func TestCloseCutsConnections(t *testing.T) {
	ns, sl := setup(t)
	f, err := start(t, ns, sl, RootlessKit, []Spec{{HostIP: "127.0.0.1", ContainerPort: netslirptest.EchoPort, Proto: "tcp"}})
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", f.Ports()[0].HostPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("echo before Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read after Close = %d, %v; want the connection ended", n, err)
	}
}

// TestErrors: a privileged port and a port in use are reported as such,
// naming the address, and whatever was published before is withdrawn.
func TestErrors(t *testing.T) {
	ns, sl := setup(t)
	unpriv := unprivilegedPortStart()
	busyTCP, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyTCP.Close()
	busyUDP, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	tcpPort, udpPort := busyTCP.Addr().(*net.TCPAddr).Port, busyUDP.LocalAddr().(*net.UDPAddr).Port

	tests := []struct {
		name    string
		bad     Spec
		want    error
		wantMsg []string
	}{
		{"privileged", Spec{HostIP: "127.0.0.1", HostPort: 80, ContainerPort: 80, Proto: "tcp"}, ErrPrivilegedPort,
			[]string{"127.0.0.1:80/tcp", "net.ipv4.ip_unprivileged_port_start"}},
		{"privileged udp", Spec{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Proto: "udp"}, ErrPrivilegedPort,
			[]string{"127.0.0.1:53/udp", "net.ipv4.ip_unprivileged_port_start"}},
		{"in use", Spec{HostIP: "127.0.0.1", HostPort: tcpPort, ContainerPort: 80, Proto: "tcp"}, ErrPortInUse,
			[]string{fmt.Sprintf("127.0.0.1:%d/tcp", tcpPort)}},
		{"in use udp", Spec{HostIP: "127.0.0.1", HostPort: udpPort, ContainerPort: 53, Proto: "udp"}, ErrPortInUse,
			[]string{fmt.Sprintf("127.0.0.1:%d/udp", udpPort)}},
	}
	for _, d := range drivers {
		for _, tc := range tests {
			t.Run(string(d)+"/"+tc.name, func(t *testing.T) {
				if tc.want == ErrPrivilegedPort && tc.bad.HostPort >= unpriv {
					t.Skipf("net.ipv4.ip_unprivileged_port_start is %d here: port %d is not privileged", unpriv, tc.bad.HostPort)
				}
				good := Spec{HostIP: "127.0.0.1", HostPort: netslirptest.FreePort(t), ContainerPort: netslirptest.EchoPort, Proto: "tcp"}
				_, err := start(t, ns, sl, d, []Spec{good, tc.bad})
				if !errors.Is(err, tc.want) {
					t.Fatalf("Start(%v, %v) = %v, want %v", good, tc.bad, err, tc.want)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("Start(%v) = %q, want %q in it", tc.bad, err, m)
					}
				}
				if err := free(t, good); err != nil {
					t.Errorf("after the failed Start: %v", err)
				}
			})
		}
	}
}

func TestStartErrors(t *testing.T) {
	ns, sl := setup(t)
	ok := Spec{HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"}
	tests := []struct {
		name   string
		driver Driver
		ns     string
		specs  []Spec
		opts   []Option
		want   string
	}{
		{"unknown driver", "pasta", ns.Path, []Spec{ok}, nil, `"pasta"`},
		{"slirp4netns without slirp", Slirp4netns, ns.Path, []Spec{ok}, nil, "WithSlirp"},
		{"slirp4netns with IPv6", Slirp4netns, ns.Path, []Spec{{HostIP: "::1", ContainerPort: 80, Proto: "tcp"}}, []Option{WithSlirp(sl)}, "IPv4 only"},
		{"no namespace", RootlessKit, "/nonexistent/ns/net", []Spec{ok}, nil, "/nonexistent/ns/net"},
		{"not a namespace", RootlessKit, "/proc/self/ns/user", []Spec{ok}, nil, "enter network namespace"},
		{"bad proto", RootlessKit, ns.Path, []Spec{{ContainerPort: 80, Proto: "sctp"}}, nil, "tcp or udp"},
		{"bad port", RootlessKit, ns.Path, []Spec{{ContainerPort: 0, Proto: "tcp"}}, nil, "out of range"},
		{"bad host IP", RootlessKit, ns.Path, []Spec{{HostIP: "localhost", ContainerPort: 80, Proto: "tcp"}}, nil, "bad host IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := Start(context.Background(), tc.ns, tc.driver, tc.specs, append(tc.opts, WithStateDir(dir))...)
			if err == nil {
				f.Close()
				t.Fatalf("Start = nil, want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, want %q in it", err, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("left in the state directory: %v", left)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	s := func(port int) Spec { return Spec{HostIP: "127.0.0.1", HostPort: port, Proto: "tcp"} }
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "listen", Net: "tcp4", Err: os.NewSyscallError("bind", errno)}
	}
	tests := []struct {
		err  error
		spec Spec
		is   error
		msg  string
	}{
		{opErr(syscall.EADDRINUSE), s(8080), ErrPortInUse, "publish 127.0.0.1:8080/tcp: port is already in use"},
		{opErr(syscall.EACCES), s(80), ErrPrivilegedPort, "publish 127.0.0.1:80/tcp: port is privileged (below net.ipv4.ip_unprivileged_port_start=1024)"},
		{fmt.Errorf("cannot expose privileged port 80: %w", opErr(syscall.EACCES)), s(80), ErrPrivilegedPort, "net.ipv4.ip_unprivileged_port_start=1024"},
		{opErr(syscall.EACCES), s(2000), syscall.EACCES, "publish 127.0.0.1:2000/tcp: listen tcp4: bind: permission denied"},
		{errors.New("boom"), s(8080), nil, "publish 127.0.0.1:8080/tcp: boom"},
	}
	for _, tc := range tests {
		got := classify(tc.err, tc.spec, 1024)
		if (tc.is != nil && !errors.Is(got, tc.is)) || !strings.Contains(got.Error(), tc.msg) {
			t.Errorf("classify(%v, %v) = %v, want %v and %q", tc.err, tc.spec, got, tc.is, tc.msg)
		}
	}
}

func TestNetwork(t *testing.T) {
	for _, tc := range []struct{ ip, proto, want string }{
		{"0.0.0.0", "tcp", "tcp4"},
		{"127.0.0.1", "udp", "udp4"},
		{"::1", "tcp", "tcp6"},
		{"::", "udp", "udp6"},
	} {
		if got := network(Spec{HostIP: tc.ip, Proto: tc.proto}); got != tc.want {
			t.Errorf("network(%s, %s) = %s, want %s", tc.ip, tc.proto, got, tc.want)
		}
	}
}

// TestChildConnect opens sockets as the child half does, here in the
// test's own namespace: IPv4, IPv6, and a refused port.
func TestChildConnect(t *testing.T) {
	d := &childDriver{}
	for _, network := range []string{"tcp4", "tcp6", "udp4"} {
		host := "127.0.0.1"
		if network == "tcp6" {
			host = "::1"
		}
		var port int
		if strings.HasPrefix(network, "udp") {
			pc, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			port = pc.LocalAddr().(*net.UDPAddr).Port
		} else {
			ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
			if err != nil {
				if network == "tcp6" {
					t.Logf("no IPv6 loopback here: %v", err)
					continue
				}
				t.Fatal(err)
			}
			defer ln.Close()
			port = ln.Addr().(*net.TCPAddr).Port
		}
		fd, err := d.connect(msg.Request{Proto: network, IP: host, Port: port})
		if err != nil {
			t.Errorf("connect(%s %s:%d) = %v", network, host, port, err)
			continue
		}
		sa, err := unix.Getpeername(fd)
		unix.Close(fd)
		if err != nil {
			t.Errorf("connect(%s %s:%d) gave an unconnected socket: %v", network, host, port, err)
		} else if got := sockaddrPort(sa); got != port {
			t.Errorf("connect(%s %s:%d) connected to port %d", network, host, port, got)
		}
	}
	refused := netslirptest.FreePort(t)
	if fd, err := d.connect(msg.Request{Proto: "tcp", IP: "127.0.0.1", Port: refused}); !errors.Is(err, syscall.ECONNREFUSED) {
		unix.Close(fd)
		t.Errorf("connect to a closed port = %v, want ECONNREFUSED", err)
	}
	if _, err := d.connect(msg.Request{Proto: "sctp", Port: 80}); err == nil {
		t.Error("connect(sctp) = nil, want an error")
	}
}

func sockaddrPort(sa unix.Sockaddr) int {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port
	case *unix.SockaddrInet6:
		return sa.Port
	}
	return 0
}
