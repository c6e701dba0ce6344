// Package portfwd publishes a container's ports on the host (-p, -P): it
// listens on the host's addresses and carries each connection or datagram
// into the container's network namespace.
//
// Two drivers do it. RootlessKit (the default) is rootlesskit's builtin
// port driver, both halves in this process: the parent half listens on the
// host, the child half opens sockets inside the namespace and hands them
// over. Slirp4netns asks a running slirp4netns (package netslirp) to listen;
// it forwards IPv4 only, and cannot answer UDP clients on the host's
// loopback unless the container may reach the host's loopback.
//
// Use it from the process that created the container's network namespace
// or owns its user namespace (box's stage): the child half needs
// CAP_SYS_ADMIN over the namespace. It is not for --network=host, where
// the container's ports are the host's already.
package portfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	opaquekeys "github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/opaque"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin/parent"

	"github.com/boxcli/box/netslirp"
)

// Driver names a way to forward ports.
type Driver string

const (
	RootlessKit Driver = "rootlesskit" // rootlesskit's builtin driver, in process; the default
	Slirp4netns Driver = "slirp4netns" // slirp4netns's own forwarding, through its API socket
)

var (
	// ErrPrivilegedPort means the host port is below
	// net.ipv4.ip_unprivileged_port_start, which a user namespace's root
	// cannot bind on the host.
	ErrPrivilegedPort = errors.New("port is privileged")
	// ErrPortInUse means something else listens on the host address.
	ErrPortInUse = errors.New("port is already in use")
)

// Option adjusts Start.
type Option func(*config)

type config struct {
	slirp    *netslirp.Slirp
	stateDir string
	log      io.Writer
}

// WithSlirp is the slirp4netns the Slirp4netns driver uses; it must have
// been started with an API socket.
func WithSlirp(s *netslirp.Slirp) Option { return func(c *config) { c.slirp = s } }

// WithStateDir is where the RootlessKit driver makes the socket between its
// two halves (default: a new directory in os.TempDir()). It must exist;
// anyone who can reach the socket can open connections in the container.
func WithStateDir(dir string) Option { return func(c *config) { c.stateDir = dir } }

// WithLog receives the drivers' messages about single connections that
// failed (default: none).
func WithLog(w io.Writer) Option { return func(c *config) { c.log = w } }

// Forwarder publishes ports until Close.
type Forwarder struct {
	ports       []Spec
	undo        []func() error // in the order done; Close runs them backwards
	unprivStart int            // net.ipv4.ip_unprivileged_port_start
}

// Start publishes specs, which forward into the network namespace at
// netnsPath (such as /proc/PID/ns/net of the container's init; the
// Slirp4netns driver does not need it, slirp4netns is attached already),
// with driver ("" is RootlessKit). On error nothing is left listening.
// ctx bounds the start.
func Start(ctx context.Context, netnsPath string, driver Driver, specs []Spec, opts ...Option) (_ *Forwarder, err error) {
	c := config{log: io.Discard}
	for _, o := range opts {
		o(&c)
	}
	f := &Forwarder{unprivStart: unprivilegedPortStart()}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	var add func(Spec) (func() error, error)
	switch driver {
	case RootlessKit, "":
		pd, stop, err := startBuiltin(ctx, netnsPath, c)
		if err != nil {
			return nil, err
		}
		f.undo = append(f.undo, stop)
		add = func(s Spec) (func() error, error) { return addBuiltin(ctx, pd, s) }
	case Slirp4netns:
		if c.slirp == nil {
			return nil, errors.New("port driver slirp4netns: no slirp4netns (WithSlirp)")
		}
		add = func(s Spec) (func() error, error) { return addSlirp(c.slirp, s) }
	default:
		return nil, fmt.Errorf("port driver %q: want %s or %s", driver, RootlessKit, Slirp4netns)
	}
	for _, s := range specs {
		if err := f.publish(s, add); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// publish adds one spec. For a random host port the kernel picks a free
// one, which the driver then binds: another process may take it in
// between, so a port found in use is picked again, a few times.
func (f *Forwarder) publish(s Spec, add func(Spec) (func() error, error)) error {
	if s.Proto != "tcp" && s.Proto != "udp" {
		return fmt.Errorf("publish %s: protocol must be tcp or udp", s)
	}
	if s.ContainerPort < 1 || s.ContainerPort > 65535 || s.HostPort < 0 || s.HostPort > 65535 {
		return fmt.Errorf("publish %s: port out of range 1-65535", s)
	}
	if s.HostIP == "" {
		s.HostIP = "0.0.0.0"
	}
	if a, err := netip.ParseAddr(s.HostIP); err != nil || a.Zone() != "" {
		return fmt.Errorf("publish %s: bad host IP %q", s, s.HostIP)
	}
	for try := 0; ; try++ {
		p := s
		if s.HostPort == 0 {
			port, err := bind(p)
			if err != nil {
				return classify(err, p, f.unprivStart)
			}
			p.HostPort = port
		}
		undo, err := add(p)
		if err == nil {
			f.ports = append(f.ports, p)
			f.undo = append(f.undo, undo)
			return nil
		}
		err = classify(err, p, f.unprivStart)
		if s.HostPort != 0 || !errors.Is(err, ErrPortInUse) || try == 9 {
			return err
		}
	}
}

// Ports returns what is published, with random host ports resolved and
// an empty host IP as 0.0.0.0.
func (f *Forwarder) Ports() []Spec {
	return append([]Spec(nil), f.ports...)
}

// Close stops forwarding and waits until nothing listens any more. The
// RootlessKit driver also cuts the connections in flight; slirp4netns
// keeps them until it ends.
//
// Close after the container's processes have ended: the RootlessKit driver
// ends a thread here, and a child that this process started with
// Pdeathsig dies with the thread that forked it, which may be that one.
func (f *Forwarder) Close() error {
	var errs []error
	for i := len(f.undo) - 1; i >= 0; i-- {
		errs = append(errs, f.undo[i]())
	}
	f.undo, f.ports = nil, nil
	return errors.Join(errs...)
}

// hostAddr is the spec's host side as address:port/proto.
func hostAddr(s Spec) string {
	return net.JoinHostPort(s.HostIP, strconv.Itoa(s.HostPort)) + "/" + s.Proto
}

// network is Go's network name for the spec's host side: tcp4 or udp4
// for IPv4 so that 0.0.0.0 stays IPv4 only, as Docker binds it.
func network(s Spec) string {
	if strings.Contains(s.HostIP, ":") {
		return s.Proto + "6"
	}
	return s.Proto + "4"
}

// bind binds the spec's host side and lets go at once, returning the
// port: for HostPort 0 the one the kernel chose, else to learn why a
// driver that does not tell (slirp4netns) could not bind it.
func bind(s Spec) (int, error) {
	addr := net.JoinHostPort(s.HostIP, strconv.Itoa(s.HostPort))
	if s.Proto == "udp" {
		c, err := net.ListenPacket(network(s), addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	ln, err := net.Listen(network(s), addr)
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// classify turns a bind error into ErrPortInUse or ErrPrivilegedPort
// where it is one, naming the address in every case.
func classify(err error, s Spec, unprivStart int) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("publish %s: %w", hostAddr(s), ErrPortInUse)
	case (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) && s.HostPort < unprivStart:
		return fmt.Errorf("publish %s: %w (below net.ipv4.ip_unprivileged_port_start=%d)", hostAddr(s), ErrPrivilegedPort, unprivStart)
	}
	return fmt.Errorf("publish %s: %w", hostAddr(s), err)
}

// unprivilegedPortStart reads net.ipv4.ip_unprivileged_port_start; 1024,
// the kernel's default, if it cannot.
func unprivilegedPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}

// addBuiltin publishes s with rootlesskit's builtin parent driver, which
// binds the host side itself.
func addBuiltin(ctx context.Context, pd port.ParentDriver, s Spec) (func() error, error) {
	st, err := pd.AddPort(ctx, port.Spec{
		Proto:      network(s),
		ParentIP:   s.HostIP,
		ParentPort: s.HostPort,
		// Inside the container: reaches servers on 0.0.0.0 and on
		// 127.0.0.1 alike (rootlesskit's default too).
		ChildIP:   "127.0.0.1",
		ChildPort: s.ContainerPort,
	})
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := pd.RemovePort(context.Background(), st.ID); err != nil {
			return fmt.Errorf("unpublish %s: %w", hostAddr(s), err)
		}
		return nil
	}, nil
}

// addSlirp publishes s through slirp4netns, which listens itself.
// slirp4netns only says that it failed, so a probe bind comes first to
// tell a port in use or a privileged one from other failures.
func addSlirp(sl *netslirp.Slirp, s Spec) (func() error, error) {
	if strings.Contains(s.HostIP, ":") {
		return nil, fmt.Errorf("publish %s: slirp4netns forwards IPv4 only; use the %s port driver", hostAddr(s), RootlessKit)
	}
	if _, err := bind(s); err != nil {
		return nil, err
	}
	id, err := sl.AddHostFwd(s.Proto, s.HostIP, s.HostPort, sl.Addrs().Guest.String(), s.ContainerPort)
	if err != nil {
		if _, berr := bind(s); berr != nil {
			return nil, berr // taken between the probe and slirp4netns
		}
		return nil, err
	}
	return func() error { return sl.RemoveHostFwd(id) }, nil
}

// startBuiltin runs both halves of rootlesskit's builtin driver: its
// parent, and box's child (see childDriver), joined by a socket in the
// state directory. stop ends both; remove each port first.
func startBuiltin(ctx context.Context, netnsPath string, c config) (pd port.ParentDriver, stop func() error, err error) {
	dir, own := c.stateDir, false
	if dir == "" {
		// 0700: whoever reaches the socket can open connections in the
		// container's network namespace.
		if dir, err = os.MkdirTemp("", "box-portfwd-"); err != nil {
			return nil, nil, fmt.Errorf("port driver state directory: %w", err)
		}
		own = true
	}
	removeDir := func() {
		if own {
			os.RemoveAll(dir)
			return
		}
		opaque := map[string]string{} // the parent's names, if it got that far
		if pd != nil {
			opaque = pd.OpaqueForChild()
		}
		os.Remove(opaque[opaquekeys.SocketPath])
		os.Remove(opaque[opaquekeys.ChildReadyPipePath])
	}
	pd, err = parent.NewDriver(c.log, dir, false, "")
	if err != nil {
		removeDir()
		return nil, nil, fmt.Errorf("port driver: %w", err)
	}
	cd, err := newChildDriver(netnsPath)
	if err != nil {
		removeDir()
		return nil, nil, err
	}
	opaque := pd.OpaqueForChild()
	quit := make(chan struct{})
	childDone, parentDone := make(chan error, 1), make(chan error, 1)
	go func() { childDone <- cd.RunChildDriver(opaque, quit, netnsPath) }()
	// Buffered: RunParentDriver signals once and must not block there if
	// Start has given up.
	initComplete := make(chan struct{}, 1)
	go func() { parentDone <- pd.RunParentDriver(initComplete, quit, nil) }()

	stop = func() error {
		close(quit)
		// The parent may still wait for a writer on the child's ready
		// pipe: one that comes and goes releases it.
		if fifo, err := os.OpenFile(opaque[opaquekeys.ChildReadyPipePath], os.O_RDWR, 0); err == nil {
			fifo.Close()
		}
		err := <-childDone
		<-parentDone
		cd.close()
		removeDir()
		if err != nil {
			return fmt.Errorf("port driver child: %w", err)
		}
		return nil
	}
	select {
	case <-initComplete:
		return pd, stop, nil
	case err = <-childDone:
		childDone <- err // for stop
		err = fmt.Errorf("child: %v", err)
	case err = <-parentDone:
		parentDone <- err
		err = fmt.Errorf("parent: %v", err)
	case <-ctx.Done():
		err = ctx.Err()
	}
	stop()
	return nil, nil, fmt.Errorf("start port driver: %w", err)
}
