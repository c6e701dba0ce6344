package tcpbench

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		op         string
		n          int64
		ok         bool
	}{
		{"push", "push 5\n", "push", 5, true},
		{"pull", "pull 0\n", "pull", 0, true},
		{"no newline", "pull 7", "pull", 7, true},
		{"big", "push 68719476736\n", "push", 64 << 30, true},
		{"negative", "push -1\n", "", 0, false},
		{"unknown op", "put 5\n", "", 0, false},
		{"no count", "push\n", "", 0, false},
		{"garbage count", "push 5x\n", "", 0, false},
		{"empty", "\n", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, n, err := parseRequest(tc.line)
			if (err == nil) != tc.ok || op != tc.op || n != tc.n {
				t.Errorf("parseRequest(%q) = %q, %d, %v; want %q, %d, ok %v", tc.line, op, n, err, tc.op, tc.n, tc.ok)
			}
		})
	}
}

// serve starts Serve on a loopback port and returns its address and the
// counts it reports.
func serve(t *testing.T) (string, <-chan Received) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Received, 8)
	done := make(chan error, 1)
	go func() { done <- Serve(ln, io.Discard, func(r Received) { got <- r }) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), got
}

func TestTransfers(t *testing.T) {
	addr, received := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Around bufSize, where a short last write or read would show.
	for _, n := range []int64{0, 1, bufSize - 1, bufSize, bufSize + 1, 3*bufSize + 12345} {
		r, err := Push(ctx, addr, n)
		if err != nil || r.Sent != n || r.Got != n {
			t.Errorf("Push(%d) = %+v, %v; want sent and got %d", n, r, err, n)
		}
		if rec := <-received; rec.Want != n || rec.Got != n {
			t.Errorf("after Push(%d) the server reported %+v", n, rec)
		}
		r, err = Pull(ctx, addr, n)
		if err != nil || r.Sent != n || r.Got != n {
			t.Errorf("Pull(%d) = %+v, %v; want sent and got %d", n, r, err, n)
		}
	}
}

// A path that loses bytes must be an error, never a fast result.
func TestShortStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A server that reads the request, sends 10 of the bytes asked for
	// and hangs up; to a push it answers a short count.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 64)
			k, _ := c.Read(buf)
			if strings.HasPrefix(string(buf[:k]), "pull") {
				_, _ = c.Write(make([]byte, 10))
			} else {
				// Read all of "push 100\n" and its bytes first: closing
				// with unread data would reset the connection.
				_, _ = io.CopyN(io.Discard, c, int64(len("push 100\n")+100-k))
				_, _ = io.WriteString(c, "got 10\n")
			}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := Pull(ctx, ln.Addr().String(), 100); err == nil || r.Got != 10 {
		t.Errorf("Pull(100) from a server that sends 10 = %+v, %v; want got 10 and an error", r, err)
	}
	if r, err := Push(ctx, ln.Addr().String(), 100); err == nil || r.Got != 10 {
		t.Errorf("Push(100) to a server that counts 10 = %+v, %v; want got 10 and an error", r, err)
	}
}

// Ending the context ends a transfer that would otherwise hang.
func TestCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(10 * time.Second) // never answers
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Pull(ctx, ln.Addr().String(), 100)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Pull from a silent server with a 200ms context: %v after %v; want an error at once", err, time.Since(start))
	}
	if err != nil && !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Pull's error %q does not say the context ended", err)
	}
}
