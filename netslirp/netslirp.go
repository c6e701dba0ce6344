// Package netslirp gives a network namespace user-mode networking with
// slirp4netns: a tap0 device at 10.0.2.100 whose traffic slirp4netns
// replays with ordinary sockets of the calling user on the host, and
// optional host port forwards through its API socket.
//
// Start it from a process that already holds CAP_SYS_ADMIN over the
// namespace's owning user namespace (box's stage, root in its own user
// namespace), and keep the *Slirp for the namespace's life: slirp4netns
// exits when its owner does, even on SIGKILL. Do not use it for a
// namespace that needs no outside network (--network=none), or for one
// the caller cannot enter.
package netslirp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Binary is the program's name on PATH.
const Binary = "slirp4netns"

// ErrNotInstalled means slirp4netns is not on PATH.
var ErrNotInstalled = errors.New("slirp4netns not installed")

// Options configure slirp4netns. The zero value is box's default.
type Options struct {
	MTU               int    // 0 means DefaultMTU
	AllowHostLoopback bool   // let the container reach the host's 127.0.0.1 as the gateway
	CIDR              string // "" means DefaultCIDR
	EnableIPv6        bool
	APISocket         string // path of the API socket; AddHostFwd needs it
	MACAddress        string // tap0's; "" lets the kernel pick
}

// Slirp is a running slirp4netns attached to one network namespace.
type Slirp struct {
	cmd *exec.Cmd
	// exitW is the write end of slirp4netns's exit fd: closing it stops
	// slirp4netns. A bare fd, not an *os.File, whose finalizer would stop
	// slirp4netns when a caller drops the *Slirp without Close.
	exitW  int
	addrs  Addresses
	api    string   // the socket's address, through apiDir
	apiDir *os.File // the directory it is in
	stderr *tail

	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // cmd.Wait's result, set before exited closes

	closeOnce sync.Once
	closeErr  error
}

// Start attaches slirp4netns to the network namespace at netnsPath (such
// as /proc/PID/ns/net) and returns once tap0 is configured and, with
// Options.APISocket, the API socket answers. ctx bounds the start only.
func Start(ctx context.Context, netnsPath string, o Options) (*Slirp, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	addrs, err := Addrs(o.CIDR)
	if err != nil {
		return nil, err
	}
	help, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s --help: %w: %s", bin, err, bytes.TrimSpace(help))
	}
	// The API socket is bound relative to slirp4netns's working directory
	// and reached through an open descriptor of it: a socket address holds
	// 108 bytes, less than a container's runtime dir may need.
	var apiDir *os.File
	if o.APISocket != "" {
		if apiDir, err = os.Open(filepath.Dir(o.APISocket)); err != nil {
			return nil, fmt.Errorf("slirp4netns API socket: %w", err)
		}
		o.APISocket = filepath.Base(o.APISocket)
	}
	argv, err := args(o, parseHelp(string(help)), netnsPath)
	if err != nil {
		closeFile(apiDir)
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		closeFile(apiDir)
		return nil, fmt.Errorf("slirp4netns ready pipe: %w", err)
	}
	defer readyR.Close()
	var exitFDs [2]int
	if err := unix.Pipe2(exitFDs[:], unix.O_CLOEXEC); err != nil {
		readyW.Close()
		closeFile(apiDir)
		return nil, fmt.Errorf("slirp4netns exit pipe: %w", err)
	}
	exitR, exitW := os.NewFile(uintptr(exitFDs[0]), "slirp4netns-exit"), exitFDs[1]
	s := &Slirp{
		// Not CommandContext: ctx bounds the start, not slirp4netns's life.
		cmd:    exec.Command(bin, argv...),
		exitW:  exitW,
		addrs:  addrs,
		apiDir: apiDir,
		stderr: &tail{max: 4 << 10},
		exited: make(chan struct{}),
	}
	s.cmd.Stderr = s.stderr
	if apiDir != nil {
		s.cmd.Dir = apiDir.Name()
		s.api = fmt.Sprintf("/proc/self/fd/%d/%s", apiDir.Fd(), o.APISocket)
	}
	// Only the write end of ready and the read end of exit go to the
	// child; exitW stays here, close-on-exec, so that when this process
	// dies, however it dies, slirp4netns sees the hangup and exits.
	s.cmd.ExtraFiles = []*os.File{readyW, exitR}
	err = s.cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		unix.Close(exitW)
		closeFile(apiDir)
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, readyR); err != nil {
		s.cmd.Process.Kill()
		<-s.exited
		unix.Close(exitW)
		closeFile(apiDir)
		return nil, fmt.Errorf("slirp4netns on %s: %w%s", netnsPath, err, s.stderr.suffix())
	}
	return s, nil
}

// waitReady waits for slirp4netns's byte on the ready pipe, then for its
// API socket: old versions wrote that byte from their child process,
// before the parent had bound the socket (1.2.0 binds it, sandboxes
// itself and loads its seccomp filter first).
func (s *Slirp) waitReady(ctx context.Context, readyR *os.File) error {
	ready := make(chan error, 1)
	go func() {
		// A byte, or EOF when slirp4netns ends without one.
		_, err := readyR.Read(make([]byte, 1))
		ready <- err
	}()
	select {
	case err := <-ready:
		if err == nil {
			break
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("closed its ready pipe without a word: %w", ctx.Err())
		}
	case <-s.exited:
		return fmt.Errorf("exited before it was ready: %v", s.waitErr)
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.api == "" {
		return nil
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		// A whole request and its answer, so that slirp4netns is done with
		// this connection before the next: it listens with a backlog of 0.
		err := s.call(request{Execute: "list_hostfwd"}, nil)
		if err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-s.exited:
			return fmt.Errorf("exited before its API socket answered: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("API socket %s: %w (%v)", s.api, ctx.Err(), err)
		}
	}
}

// Addrs returns the addresses of the network slirp4netns provides.
func (s *Slirp) Addrs() Addresses { return s.addrs }

// AddHostFwd makes slirp4netns listen on hostAddr:hostPort ("" is
// 0.0.0.0) and forward to guestAddr:guestPort in the namespace ("" is the
// guest address). proto is "tcp" or "udp"; slirp4netns forwards IPv4 only.
// It returns the forward's id for RemoveHostFwd.
func (s *Slirp) AddHostFwd(proto, hostAddr string, hostPort int, guestAddr string, guestPort int) (int, error) {
	what := fmt.Sprintf("slirp4netns add_hostfwd %s/%s -> %s", net.JoinHostPort(hostAddr, strconv.Itoa(hostPort)), proto,
		net.JoinHostPort(guestAddr, strconv.Itoa(guestPort)))
	var ret struct {
		ID *int `json:"id"`
	}
	err := s.call(request{Execute: "add_hostfwd", Arguments: hostFwd{
		Proto: proto, HostAddr: hostAddr, HostPort: hostPort, GuestAddr: guestAddr, GuestPort: guestPort,
	}}, &ret)
	if err == nil && ret.ID == nil {
		err = errors.New("no id in the answer")
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return *ret.ID, nil
}

// RemoveHostFwd removes a forward AddHostFwd made.
func (s *Slirp) RemoveHostFwd(id int) error {
	if err := s.call(request{Execute: "remove_hostfwd", Arguments: map[string]int{"id": id}}, nil); err != nil {
		return fmt.Errorf("slirp4netns remove_hostfwd %d: %w", id, err)
	}
	return nil
}

type request struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
}

type hostFwd struct {
	Proto     string `json:"proto"`
	HostAddr  string `json:"host_addr"`
	HostPort  int    `json:"host_port"`
	GuestAddr string `json:"guest_addr"`
	GuestPort int    `json:"guest_port"`
}

// call sends req to the API socket and decodes the answer's "return" into
// ret (if not nil). slirp4netns reads a request with one read(2) and
// answers on the same connection, then closes it.
func (s *Slirp) call(req request, ret any) error {
	if s.api == "" {
		return errors.New("started without an API socket")
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var c net.Conn
	for range 100 {
		c, err = net.DialTimeout("unix", s.api, 5*time.Second)
		// EAGAIN: slirp4netns has not accepted the last connection yet.
		if !errors.Is(err, syscall.EAGAIN) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		return err
	}
	c.(*net.UnixConn).CloseWrite()
	b, err = io.ReadAll(c)
	if err != nil {
		return err
	}
	var rep struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("answer %q: %w", b, err)
	}
	if rep.Error != nil {
		return errors.New(rep.Error.Desc)
	}
	if ret != nil && rep.Return != nil {
		return json.Unmarshal(rep.Return, ret)
	}
	return nil
}

// Close stops slirp4netns and waits for it. It reports an error if
// slirp4netns had already ended on its own.
func (s *Slirp) Close() error {
	s.closeOnce.Do(func() {
		var early, killed bool
		select {
		case <-s.exited:
			early = true
		default:
		}
		unix.Close(s.exitW) // slirp4netns polls its exit fd and leaves on hangup
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			killed = true
		}
		if s.api != "" {
			os.Remove(s.api)
			s.apiDir.Close()
		}
		switch {
		case early:
			s.closeErr = fmt.Errorf("slirp4netns had ended on its own: %v%s", s.waitErr, s.stderr.suffix())
		case killed:
			s.closeErr = errors.New("slirp4netns did not leave within 5s of its exit fd closing; killed")
		case s.waitErr != nil:
			s.closeErr = fmt.Errorf("slirp4netns: %v%s", s.waitErr, s.stderr.suffix())
		}
	})
	return s.closeErr
}

// tail keeps the last max bytes written to it: slirp4netns logs every API
// request on stderr for as long as it runs, and only its last words matter.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// suffix is ": " and the log on one line, or "" when it is empty.
func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return ": " + strings.Join(lines, "; ")
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}
