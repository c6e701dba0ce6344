package attach

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// ErrNotServed means nothing serves the container's attach socket: it
// does not run (or its monitor is gone).
var ErrNotServed = errors.New("the container's monitor does not answer")

// ErrHungUp means the monitor went away before the container's end.
var ErrHungUp = errors.New("the container's monitor hung up")

// Conn is a client's attachment to a container.
type Conn struct {
	conn *net.UnixConn
	wmu  sync.Mutex
}

// Dial attaches to the container whose runtime dir is dir.
func Dial(dir string, h Hello) (*Conn, error) {
	var conn *net.UnixConn
	err := viaDir(dir, func(short string) (err error) {
		conn, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: short, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotServed, err)
	}
	c := &Conn{conn: conn}
	p, _ := json.Marshal(h)
	if err := c.send(kindHello, p); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %v", ErrNotServed, err)
	}
	return c, nil
}

func (c *Conn) send(kind byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeFrame(c.conn, kind, p)
}

// Resize tells the container's pty the terminal's new size.
func (c *Conn) Resize(rows, cols uint16) error {
	return c.send(kindResize, resizePayload(rows, cols))
}

// Close hangs up; the container goes on.
func (c *Conn) Close() error { return c.conn.Close() }

// Relay copies stdin (nil: none) to the container and its output to
// stdout and stderr until the container exits, returning its status. It
// returns ErrDetached when stdin does (see DetachReader), and ErrHungUp
// when the monitor goes first. The end of stdin is passed on, and output
// still flows after it.
func (c *Conn) Relay(stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	detached := make(chan struct{})
	if stdin != nil {
		go func() {
			err := c.pump(stdin)
			if errors.Is(err, ErrDetached) {
				close(detached)
				c.conn.Close() // ends the read loop below
			}
		}()
	}
	code, err := c.output(stdout, stderr)
	select {
	case <-detached:
		return 0, ErrDetached
	default:
	}
	return code, err
}

// pump sends stdin until it ends or errs; the end of input is sent on.
func (c *Conn) pump(stdin io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			if werr := c.send(kindStdin, buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return c.send(kindStdinClose, nil)
		}
		if err != nil {
			return err
		}
	}
}

func (c *Conn) output(stdout, stderr io.Writer) (int, error) {
	for {
		kind, p, err := readFrame(c.conn)
		if err != nil {
			return 0, ErrHungUp
		}
		switch kind {
		case kindStdout:
			_, _ = stdout.Write(p)
		case kindStderr:
			_, _ = stderr.Write(p)
		case kindExit:
			if len(p) != 4 {
				return 0, fmt.Errorf("attach: bad exit frame")
			}
			return int(int32(binary.BigEndian.Uint32(p))), nil
		}
	}
}
