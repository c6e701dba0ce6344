// Package tcpbench is the wire protocol of box's network benchmark
// (bench/cmd/netbench): a server that receives or sends as many bytes as a
// client asks for, and clients that time one transfer. The receiver always
// reports how many bytes it got, so a transfer that lost or invented data
// is an error, not a fast result.
//
// A client opens one connection per transfer and writes one request line:
//
//	push N\n  the client sends N bytes; the server counts what arrives
//	          and answers "got M\n" once it has N (or the stream ended)
//	pull N\n  the server sends N bytes and closes; the client counts
//	          what arrives until EOF
//
// It measures plain TCP throughput between two sockets and nothing else;
// it is not a general benchmark tool (no parallel streams, no latency).
package tcpbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// bufSize is each read and write: large enough that the system calls,
// not the loop, are what a fast path costs.
const bufSize = 1 << 20

// payload is what a sender writes, over and over: random, so that nothing
// on the path can shortcut zero pages or compress it.
var payload = func() []byte {
	b := make([]byte, bufSize)
	r := rand.NewChaCha8([32]byte{'b', 'o', 'x'})
	_, _ = r.Read(b)
	return b
}()

// Result is one timed transfer.
type Result struct {
	Op      string  `json:"op"`      // "push" (client sent) or "pull" (client received)
	Sent    int64   `json:"sent"`    // bytes the sender wrote
	Got     int64   `json:"got"`     // bytes the receiver reports it received
	Seconds float64 `json:"seconds"` // from the request to the receiver's last byte
}

// MBps is the throughput in MB/s (10^6 bytes a second) of what the
// receiver got.
func (r Result) MBps() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Got) / r.Seconds / 1e6
}

// Check returns an error unless the receiver got exactly what was sent.
func (r Result) Check() error {
	if r.Got != r.Sent {
		return fmt.Errorf("%s: sent %d bytes, the receiver got %d", r.Op, r.Sent, r.Got)
	}
	return nil
}

// Received is what Serve reports after each push: the bytes a client
// asked to send and the bytes that arrived.
type Received struct {
	Want, Got int64
	From      net.Addr
}

// Serve answers push and pull requests on ln until it is closed. For each
// push it calls onPush (if not nil) with what arrived, so that a caller
// in the server's process can confirm the count independently of the
// client. Errors on single connections go to log.
func Serve(ln net.Listener, log io.Writer, onPush func(Received)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			if err := serveConn(c, onPush); err != nil {
				fmt.Fprintf(log, "tcpbench: %s: %v\n", c.RemoteAddr(), err)
			}
		}()
	}
}

func serveConn(c net.Conn, onPush func(Received)) error {
	br := bufio.NewReaderSize(c, 4096)
	line, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	op, n, err := parseRequest(line)
	if err != nil {
		return err
	}
	switch op {
	case "push":
		got, rerr := discard(br, n)
		if onPush != nil {
			onPush(Received{Want: n, Got: got, From: c.RemoteAddr()})
		}
		// Answer even a short stream: the client then sees the
		// shortfall as a count, not as a hang-up.
		if _, err := fmt.Fprintf(c, "got %d\n", got); err != nil {
			return fmt.Errorf("answer push: %w", err)
		}
		return rerr
	case "pull":
		if err := write(c, n); err != nil {
			return fmt.Errorf("send %d bytes: %w", n, err)
		}
		return nil
	}
	return fmt.Errorf("unknown request %q", op)
}

// parseRequest reads "push N\n" or "pull N\n".
func parseRequest(line string) (op string, n int64, err error) {
	op, num, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	if ok {
		n, err = strconv.ParseInt(num, 10, 64)
	}
	if !ok || err != nil || n < 0 || (op != "push" && op != "pull") {
		return "", 0, fmt.Errorf("bad request %q: want push N or pull N", line)
	}
	return op, n, nil
}

// Push connects to addr, sends n bytes and waits for the server's count.
func Push(ctx context.Context, addr string, n int64) (Result, error) {
	r := Result{Op: "push", Sent: -1, Got: -1}
	err := withConn(ctx, addr, func(c net.Conn) error {
		start := time.Now()
		if _, err := fmt.Fprintf(c, "push %d\n", n); err != nil {
			return fmt.Errorf("send request: %w", err)
		}
		if err := write(c, n); err != nil {
			return fmt.Errorf("send %d bytes: %w", n, err)
		}
		r.Sent = n
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return fmt.Errorf("read the server's count (none: the path dropped the connection, or no server): %w", err)
		}
		r.Seconds = time.Since(start).Seconds()
		if _, err := fmt.Sscanf(line, "got %d\n", &r.Got); err != nil {
			return fmt.Errorf("bad answer %q", line)
		}
		return r.Check()
	})
	return r, err
}

// Pull connects to addr, asks for n bytes and counts them until the
// server closes.
func Pull(ctx context.Context, addr string, n int64) (Result, error) {
	r := Result{Op: "pull", Sent: n, Got: -1}
	err := withConn(ctx, addr, func(c net.Conn) error {
		start := time.Now()
		if _, err := fmt.Fprintf(c, "pull %d\n", n); err != nil {
			return fmt.Errorf("send request: %w", err)
		}
		got, err := discard(c, -1)
		r.Seconds = time.Since(start).Seconds()
		r.Got = got
		if err != nil {
			return fmt.Errorf("receive: %w (after %d bytes)", err, got)
		}
		return r.Check()
	})
	return r, err
}

// withConn runs f on a connection to addr, which ending ctx closes: f
// then fails with ctx's error.
func withConn(ctx context.Context, addr string, f func(net.Conn) error) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := f(c); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
		return err
	}
	return nil
}

// discard reads and counts until EOF, or until n bytes if n >= 0.
func discard(r io.Reader, n int64) (int64, error) {
	buf := make([]byte, bufSize)
	var got int64
	for n < 0 || got < n {
		p := buf
		if n >= 0 && n-got < int64(len(p)) {
			p = p[:n-got]
		}
		k, err := r.Read(p)
		got += int64(k)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// write sends n bytes of payload.
func write(w io.Writer, n int64) error {
	for n > 0 {
		p := payload
		if n < int64(len(p)) {
			p = p[:n]
		}
		k, err := w.Write(p)
		n -= int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}
