package portfwd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/lowlevelmsgutil"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/msg"
	opaquekeys "github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/opaque"
	"golang.org/x/sys/unix"
)

// childDriver is the child half of rootlesskit's builtin port driver
// (port.ChildDriver), speaking its protocol, but opening sockets in the
// container's namespace differently. rootlesskit's own child enters the
// namespace for each connection with containernetworking's
// ns.WithNetNSPath, which throws the OS thread away when it cannot setns
// back, as happens here: the host's network namespace belongs to a user
// namespace where the stage has no capabilities. A thread that exits
// sends PR_SET_PDEATHSIG to the children it forked, such as a container
// init. So here one thread, locked in the namespace for the Forwarder's
// life, does nothing but make sockets, which then connect from anywhere.
type childDriver struct {
	sockets *nsSockets // nil: the current network namespace
}

func newChildDriver(netnsPath string) (*childDriver, error) {
	if netnsPath == "" {
		return &childDriver{}, nil
	}
	s, err := startNSSockets(netnsPath)
	if err != nil {
		return nil, err
	}
	return &childDriver{sockets: s}, nil
}

func (d *childDriver) close() {
	if d.sockets != nil {
		d.sockets.close()
	}
}

// RunChildDriver serves the parent half until quit is closed. The
// namespace is the one given to newChildDriver.
func (d *childDriver) RunChildDriver(opaque map[string]string, quit <-chan struct{}, _ string) error {
	socketPath, readyPath := opaque[opaquekeys.SocketPath], opaque[opaquekeys.ChildReadyPipePath]
	if socketPath == "" || readyPath == "" {
		return errors.New("no socket or ready pipe from the parent")
	}
	// The parent reads the ready pipe to its end, then connects.
	ready, err := os.OpenFile(readyPath, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socketPath, Net: "unix"})
	ready.Close()
	if err != nil {
		return err
	}
	// quit may be closed or sent on once (rootlesskit's suite sends).
	stopped := make(chan struct{})
	go func() {
		<-quit
		close(stopped)
		ln.Close()
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			select {
			case <-stopped:
				return nil
			default:
				return err
			}
		}
		go d.serve(c)
	}
}

// serve answers one request of the parent: init, or connect, which it
// answers with a connected socket's descriptor.
func (d *childDriver) serve(c *net.UnixConn) {
	defer c.Close()
	var req msg.Request
	if _, err := lowlevelmsgutil.UnmarshalFromReader(c, &req); err != nil {
		return
	}
	switch req.Type {
	case msg.RequestTypeInit:
		lowlevelmsgutil.MarshalToWriter(c, &msg.Reply{})
	case msg.RequestTypeConnect:
		fd, err := d.connect(req)
		if err != nil {
			// The parent expects a descriptor; without one it drops
			// the connection it was carrying.
			lowlevelmsgutil.MarshalToWriter(c, &msg.Reply{Error: err.Error()})
			return
		}
		defer unix.Close(fd)
		c.WriteMsgUnix([]byte("dummy"), unix.UnixRights(fd), nil)
	default:
		lowlevelmsgutil.MarshalToWriter(c, &msg.Reply{Error: fmt.Sprintf("unknown request type %q", req.Type)})
	}
}

// connect opens a socket in the namespace connected to req.IP:req.Port.
func (d *childDriver) connect(req msg.Request) (int, error) {
	ip := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if req.IP != "" {
		var err error
		if ip, err = netip.ParseAddr(req.IP); err != nil {
			return -1, err
		}
	}
	var sotype int
	switch strings.TrimRight(req.Proto, "46") {
	case "tcp":
		sotype = unix.SOCK_STREAM
	case "udp":
		sotype = unix.SOCK_DGRAM
	default:
		return -1, fmt.Errorf("unknown proto %q", req.Proto)
	}
	ip = ip.Unmap()
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip.Is4() {
		sa = &unix.SockaddrInet4{Port: req.Port, Addr: ip.As4()}
	} else {
		sa, family = &unix.SockaddrInet6{Port: req.Port, Addr: ip.As16()}, unix.AF_INET6
	}
	// Non-blocking, so that the connect can be bounded (for a namespace
	// that drops packets) without a blocking connect(2) and EINTR from Go's
	// own signals.
	fd, err := d.socket(family, sotype|unix.SOCK_NONBLOCK)
	if err != nil {
		return -1, err
	}
	if err = unix.Connect(fd, sa); err == unix.EINPROGRESS {
		err = waitConnected(fd, 10*time.Second)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %s in the container: %w", net.JoinHostPort(ip.String(), strconv.Itoa(req.Port)), err)
	}
	return fd, nil
}

// waitConnected waits for a non-blocking connect on fd to end.
func waitConnected(fd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return unix.ETIMEDOUT
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return unix.ETIMEDOUT
		}
		soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if soErr != 0 {
			return unix.Errno(soErr)
		}
		return nil
	}
}

func (d *childDriver) socket(family, sotype int) (int, error) {
	if d.sockets == nil {
		return unix.Socket(family, sotype|unix.SOCK_CLOEXEC, 0)
	}
	return d.sockets.socket(family, sotype)
}

// nsSockets makes sockets in a network namespace from one OS thread that
// joined it. A socket stays in the namespace it was made in, wherever it
// is used afterwards.
type nsSockets struct {
	reqs chan sockReq
	done chan struct{}
}

type sockReq struct {
	family, sotype int
	reply          chan sockReply
}

type sockReply struct {
	fd  int
	err error
}

func startNSSockets(netnsPath string) (*nsSockets, error) {
	f, err := os.Open(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	s := &nsSockets{reqs: make(chan sockReq), done: make(chan struct{})}
	joined := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			runtime.UnlockOSThread() // still in the namespace it had
			joined <- fmt.Errorf("enter network namespace %s: %w", netnsPath, err)
			return
		}
		joined <- nil
		// Never unlocked: the thread cannot come back, and ends with
		// this goroutine at close.
		for {
			select {
			case r := <-s.reqs:
				fd, err := unix.Socket(r.family, r.sotype|unix.SOCK_CLOEXEC, 0)
				r.reply <- sockReply{fd, err}
			case <-s.done:
				return
			}
		}
	}()
	if err := <-joined; err != nil {
		return nil, err
	}
	return s, nil
}

func (s *nsSockets) socket(family, sotype int) (int, error) {
	r := sockReq{family: family, sotype: sotype, reply: make(chan sockReply, 1)}
	select {
	case s.reqs <- r:
	case <-s.done:
		return -1, errors.New("port forwarder closed")
	}
	rep := <-r.reply
	return rep.fd, rep.err
}

func (s *nsSockets) close() { close(s.done) }
