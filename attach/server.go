package attach

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SocketName is the attach socket's name in a container's runtime dir.
const SocketName = "attach.sock"

// Input is where attached clients' input goes: the container's pty or
// its stdin pipe. It changes when a restart policy starts the container
// again.
type Input interface {
	io.Writer
	// CloseInput ends the container's stdin (a client's end of input, when
	// the container was created to take stdin once).
	CloseInput()
	Resize(rows, cols uint16)
}

// Server is the monitor's side: it fans the container's output out to
// every attached client and passes their input on.
type Server struct {
	ln          *net.UnixListener
	path        string
	mu          sync.Mutex
	clients     map[*client]struct{}
	input       Input
	once        bool // a client's end of input ends the container's stdin
	attached    chan struct{}
	firstSet    sync.Once
	unlisten    sync.Once
	unlistenErr error
}

// client is one attached connection; out is drained by its own writer so
// a slow client never stalls the container or the log.
type client struct {
	conn  *net.UnixConn
	hello Hello
	out   chan []byte // whole frames; closed to hang up after the last
	gone  chan struct{}
}

// clientQueue is how many frames a client may fall behind before the
// monitor gives up on it.
const clientQueue = 1024

// Listen serves the socket at dir/SocketName. stdinOnce: one client's end
// of input closes the container's stdin (created with -i, attached by
// start -ai), as Docker's StdinOnce.
func Listen(dir string, stdinOnce bool) (*Server, error) {
	path := filepath.Join(dir, SocketName)
	_ = os.Remove(path)
	var ln *net.UnixListener
	err := viaDir(dir, func(short string) (err error) {
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: short, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false) // the short name means nothing later
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{ln: ln, path: path, clients: map[*client]struct{}{}, once: stdinOnce, attached: make(chan struct{})}
	go s.accept()
	return s, nil
}

// viaDir calls fn with a name for dir/SocketName short enough for a
// socket address (108 bytes): runtime dirs under a long $XDG_RUNTIME_DIR
// or a test's work dir do not fit otherwise.
func viaDir(dir string, fn func(string) error) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), SocketName))
}

// Attached is closed once the first client has said hello.
func (s *Server) Attached() <-chan struct{} { return s.attached }

// SetInput points clients' input at the container's current stdin; nil
// drops it (no stdin, or between restarts).
func (s *Server) SetInput(in Input) {
	s.mu.Lock()
	s.input = in
	s.mu.Unlock()
}

func (s *Server) accept() {
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			return // closed
		}
		go s.serve(conn)
	}
}

func (s *Server) serve(conn *net.UnixConn) {
	kind, p, err := readFrame(conn)
	var h Hello
	if err == nil && kind == kindHello {
		err = json.Unmarshal(p, &h)
	} else if err == nil {
		err = fmt.Errorf("attach: expected hello, got frame kind %d", kind)
	}
	if err != nil {
		conn.Close()
		return
	}
	c := &client{conn: conn, hello: h, out: make(chan []byte, clientQueue), gone: make(chan struct{})}
	s.mu.Lock()
	if s.clients == nil { // closed meanwhile
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.clients[c] = struct{}{}
	if h.Rows > 0 && h.Cols > 0 && s.input != nil {
		s.input.Resize(uint16(h.Rows), uint16(h.Cols))
	}
	s.mu.Unlock()
	s.firstSet.Do(func() { close(s.attached) })
	go c.write()
	s.readInput(c)
	s.drop(c)
	<-c.gone
	conn.Close()
}

// write sends c's queued frames until the queue closes, then shuts the
// writing half: the client sees the end of the output. The reading half is
// readInput's, which closes the connection: a client that stopped
// listening (printf x | box attach hangs up at once), or fell too far
// behind, may still have input in the socket for the container. After a
// failed write the rest of the queue is dropped.
func (c *client) write() {
	defer close(c.gone)
	defer func() { _ = c.conn.CloseWrite() }()
	failed := false
	for f := range c.out {
		if failed {
			continue
		}
		if _, err := c.conn.Write(f); err != nil {
			failed = true
			_ = c.conn.CloseWrite()
		}
	}
}

// readInput passes c's input on until it hangs up.
func (s *Server) readInput(c *client) {
	for {
		kind, p, err := readFrame(c.conn)
		if err != nil {
			return
		}
		s.mu.Lock()
		in := s.input
		s.mu.Unlock()
		if in == nil {
			continue
		}
		switch kind {
		case kindStdin:
			if c.hello.Stdin {
				_, _ = in.Write(p)
			}
		case kindStdinClose:
			if c.hello.Stdin && s.once {
				in.CloseInput()
			}
		case kindResize:
			if len(p) == 4 {
				in.Resize(binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]))
			}
		}
	}
}

// drop forgets c; its writer hangs up once the queue is sent.
func (s *Server) drop(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c]; ok {
		delete(s.clients, c)
		close(c.out)
	}
}

// Output is a writer for one of the container's streams ("stdout",
// "stderr") that copies to every client attached to it. It never blocks
// on a client and never fails.
func (s *Server) Output(stream string) io.Writer {
	kind := kindStdout
	if stream == "stderr" {
		kind = kindStderr
	}
	return outputWriter{s, kind}
}

type outputWriter struct {
	s    *Server
	kind byte
}

func (w outputWriter) Write(p []byte) (int, error) {
	for chunk := p; len(chunk) > 0; {
		n := min(len(chunk), maxFrame)
		w.s.broadcast(w.kind, chunk[:n])
		chunk = chunk[n:]
	}
	return len(p), nil
}

func (s *Server) broadcast(kind byte, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f []byte
	for c := range s.clients {
		if (kind == kindStdout && !c.hello.Stdout) || (kind == kindStderr && !c.hello.Stderr) {
			continue
		}
		if f == nil {
			f = encodeFrame(kind, p)
		}
		select {
		case c.out <- f:
		default:
			// Too far behind: better to lose this client than to stall
			// the container, whose output the log keeps anyway.
			delete(s.clients, c)
			close(c.out)
		}
	}
}

// Exited tells every client the container ended with code and hangs up on
// them once their output is sent. Clients that attach later (a restart
// policy started it again) see the next run.
func (s *Server) Exited(code int) {
	s.mu.Lock()
	clients := s.clients
	s.clients = map[*client]struct{}{}
	for c := range clients {
		select {
		case c.out <- encodeFrame(kindExit, exitPayload(code)):
		default:
		}
		close(c.out)
	}
	s.mu.Unlock()
	for c := range clients {
		// A client that stopped reading must not keep the monitor.
		_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		<-c.gone
		// Input for a container that ended goes nowhere: hang up.
		c.conn.Close()
	}
}

// Unlisten stops taking clients and removes the socket, once, leaving
// those attached: another server (the container's next monitor) may bind
// the same path right after.
func (s *Server) Unlisten() error {
	s.unlisten.Do(func() {
		s.unlistenErr = s.ln.Close()
		_ = os.Remove(s.path)
	})
	return s.unlistenErr
}

// Close stops serving, removes the socket (unless Unlisten did) and hangs
// up on the clients.
func (s *Server) Close() error {
	err := s.Unlisten()
	s.mu.Lock()
	for c := range s.clients {
		close(c.out)
		c.conn.Close() // ends its readInput too
	}
	s.clients = nil
	s.mu.Unlock()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
