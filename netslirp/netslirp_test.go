package netslirp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/netslirp/netslirptest"
)

const ownerRole = "slirp-owner"

func TestMain(m *testing.M) {
	netslirptest.Main(m, map[string]func([]string) int{ownerRole: ownerMain})
}

// ownerMain starts slirp4netns on the namespace args[0] and waits to be
// killed, as a stage would.
func ownerMain(args []string) int {
	s, err := netslirp.Start(context.Background(), args[0], netslirp.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = s // never closed: slirp4netns must go when this process is killed
	fmt.Println("ready")
	select {}
}

func needSlirp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(netslirp.Binary); err != nil {
		t.Skipf("needs slirp4netns (apt-get install slirp4netns): %v", err)
	}
}

func start(t *testing.T, nsPath string, o netslirp.Options) *netslirp.Slirp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := netslirp.Start(ctx, nsPath, o)
	if err != nil {
		t.Fatalf("Start(%s) = %v", nsPath, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tap0 returns tap0's IPv4 address with its prefix and its MTU, as seen in
// the namespace at path.
func tap0(t *testing.T, path string) (addr string, mtu int, err error) {
	t.Helper()
	err = netslirptest.In(path, func() error {
		ifc, err := net.InterfaceByName("tap0")
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				addr = ipn.String()
			}
		}
		mtu = ifc.MTU
		return nil
	})
	return addr, mtu, err
}

func noSlirpLeft(t *testing.T) {
	t.Helper()
	if pids := netslirptest.Children(os.Getpid(), netslirp.Binary); len(pids) > 0 {
		t.Errorf("slirp4netns processes %v still run", pids)
	}
}

// TestStart attaches slirp4netns and forwards host ports into the namespace
// through its API, TCP and UDP, and leaves nothing behind.
func TestStart(t *testing.T) {
	needSlirp(t)
	for _, nested := range []bool{false, true} {
		t.Run(map[bool]string{false: "own userns", true: "nested userns"}[nested], func(t *testing.T) {
			var ns *netslirptest.Netns
			if nested {
				ns = netslirptest.StartNestedNetns(t)
			} else {
				ns = netslirptest.StartNetns(t)
			}
			// Deeper than a socket address can name, as container runtime
			// dirs may be.
			dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			api := filepath.Join(dir, "slirp.sock")
			s, err := netslirp.Start(context.Background(), ns.Path, netslirp.Options{APISocket: api})
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			defer s.Close()
			if addr, mtu, err := tap0(t, ns.Path); err != nil || addr != "10.0.2.100/24" || mtu != netslirp.DefaultMTU {
				t.Fatalf("tap0 = %s mtu %d, %v; want 10.0.2.100/24 mtu %d", addr, mtu, err, netslirp.DefaultMTU)
			}
			if g := s.Addrs().Guest.String(); g != netslirp.GuestAddr {
				t.Errorf("Addrs().Guest = %s, want %s", g, netslirp.GuestAddr)
			}

			hp := netslirptest.FreePort(t)
			id, err := s.AddHostFwd("tcp", "127.0.0.1", hp, netslirp.GuestAddr, netslirptest.EchoPort)
			if err != nil {
				t.Fatalf("AddHostFwd(tcp) = %v", err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", hp)
			netslirptest.EchoTCP(t, addr, 1<<20)

			if err := s.RemoveHostFwd(id); err != nil {
				t.Fatalf("RemoveHostFwd(%d) = %v", id, err)
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				t.Errorf("%s still accepts after RemoveHostFwd", addr)
			}
			if err := s.RemoveHostFwd(id); err == nil {
				t.Errorf("RemoveHostFwd(%d) twice = nil, want an error", id)
			}

			if err := s.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			noSlirpLeft(t)
			if _, err := os.Stat(api); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("API socket after Close: %v", err)
			}
			if _, _, err := tap0(t, ns.Path); err == nil {
				t.Errorf("tap0 still exists after Close")
			}
		})
	}
}

// TestHostFwdUDP forwards a UDP port. The namespace may reach the host's
// loopback here: slirp4netns answers a UDP client on 127.0.0.1 from the
// gateway address, which --disable-host-loopback refuses (TCP is not
// affected: its host side is a connected socket).
func TestHostFwdUDP(t *testing.T) {
	needSlirp(t)
	ns := netslirptest.StartNetns(t)
	s := start(t, ns.Path, netslirp.Options{AllowHostLoopback: true, APISocket: filepath.Join(t.TempDir(), "slirp.sock")})
	up := netslirptest.FreePort(t)
	if _, err := s.AddHostFwd("udp", "127.0.0.1", up, "", netslirptest.EchoPort); err != nil {
		t.Fatalf("AddHostFwd(udp) = %v", err)
	}
	netslirptest.EchoUDP(t, fmt.Sprintf("127.0.0.1:%d", up))
}

// TestOptions checks the CIDR and the host loopback switch from inside
// the namespace: the gateway is the host's 127.0.0.1 only when allowed.
func TestOptions(t *testing.T) {
	needSlirp(t)
	host, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	go func() {
		for {
			c, err := host.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	hostPort := host.Addr().(*net.TCPAddr).Port
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowHostLoopback=%v", allow), func(t *testing.T) {
			ns := netslirptest.StartNetns(t)
			o := netslirp.Options{CIDR: "10.0.3.0/24", MTU: 1500, AllowHostLoopback: allow}
			s := start(t, ns.Path, o)
			if addr, mtu, err := tap0(t, ns.Path); err != nil || addr != "10.0.3.100/24" || mtu != 1500 {
				t.Fatalf("tap0 = %s mtu %d, %v; want 10.0.3.100/24 mtu 1500", addr, mtu, err)
			}
			gw := net.JoinHostPort(s.Addrs().Gateway.String(), fmt.Sprint(hostPort))
			var reply string
			err := netslirptest.In(ns.Path, func() error {
				c, err := net.DialTimeout("tcp", gw, 3*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(3 * time.Second))
				reply, err = bufio.NewReader(c).ReadString('\n')
				return err
			})
			switch {
			case allow && (err != nil || reply != "host\n"):
				t.Errorf("from the namespace, %s = %q, %v; want the host's 127.0.0.1", gw, reply, err)
			case !allow && err == nil:
				t.Errorf("from the namespace, %s reached the host's 127.0.0.1 (%q)", gw, reply)
			}
		})
	}
}

// TestStartFails reports slirp4netns's own words and leaves nothing behind.
func TestStartFails(t *testing.T) {
	needSlirp(t)
	_, err := netslirp.Start(context.Background(), "/nonexistent/ns/net", netslirp.Options{})
	if err == nil {
		t.Fatal("Start(/nonexistent/ns/net) = nil, want an error")
	}
	// slirp4netns's own words, from its stderr.
	if !strings.Contains(err.Error(), "existing path expected when --netns-type=path") {
		t.Errorf("Start(/nonexistent/ns/net) = %v, want slirp4netns's stderr in it", err)
	}
	noSlirpLeft(t)

	if _, err := netslirp.Start(context.Background(), "/proc/self/ns/net", netslirp.Options{MTU: 70000}); err == nil || !strings.Contains(err.Error(), "mtu 70000") {
		t.Errorf("Start(MTU 70000) = %v, want an mtu error", err)
	}
	noSlirpLeft(t)
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := netslirp.Start(context.Background(), "/proc/self/ns/net", netslirp.Options{})
	if !errors.Is(err, netslirp.ErrNotInstalled) {
		t.Errorf("Start without slirp4netns on PATH = %v, want ErrNotInstalled", err)
	}
}

func TestAddHostFwdWithoutAPISocket(t *testing.T) {
	needSlirp(t)
	ns := netslirptest.StartNetns(t)
	s := start(t, ns.Path, netslirp.Options{})
	if _, err := s.AddHostFwd("tcp", "127.0.0.1", netslirptest.FreePort(t), "", 80); err == nil {
		t.Error("AddHostFwd without an API socket = nil, want an error")
	}
}

// TestOwnerKilled kills slirp4netns's owner with SIGKILL, as happens to a
// stage, and expects slirp4netns to notice and leave on its own.
func TestOwnerKilled(t *testing.T) {
	needSlirp(t)
	ns := netslirptest.StartNetns(t)
	// Orphans come to this process, so that slirp4netns can be reaped here.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	owner := netslirptest.Command(ownerRole, ns.Path)
	owner.Stderr = os.Stderr
	out, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		owner.Process.Kill()
		owner.Wait()
		t.Fatalf("owner: %q, %v", line, err)
	}
	pids := netslirptest.Children(owner.Process.Pid, netslirp.Binary)
	if len(pids) != 1 {
		t.Fatalf("slirp4netns children of the owner: %v, want one", pids)
	}
	if err := owner.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	owner.Wait()

	deadline := time.Now().Add(5 * time.Second)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(pids[0], &ws, unix.WNOHANG, nil)
		if err != nil {
			t.Fatalf("wait for slirp4netns (pid %d): %v", pids[0], err)
		}
		if pid == pids[0] {
			t.Logf("slirp4netns left by itself: %v", describe(ws))
			break
		}
		if time.Now().After(deadline) {
			unix.Kill(pids[0], unix.SIGKILL)
			unix.Wait4(pids[0], &ws, 0, nil)
			t.Fatalf("slirp4netns (pid %d) still runs 5s after its owner was killed", pids[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := tap0(t, ns.Path); err == nil {
		t.Errorf("tap0 still exists after slirp4netns left")
	}
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
