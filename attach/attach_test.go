package attach

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseDetachKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		bad  bool
	}{
		{in: "ctrl-p,ctrl-q", want: []byte{16, 17}},
		{in: "", want: nil},
		{in: "a,b", want: []byte("ab")},
		{in: "ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", want: []byte{0, 27, 28, 29, 30, 31}},
		{in: "ctrl-a,x", want: []byte{1, 'x'}},
		{in: "ctrl-A", bad: true},
		{in: "ctrl-", bad: true},
		{in: "ctrl-pp", bad: true},
		{in: "ab", bad: true},
		{in: "ctrl-p,", bad: true},
	} {
		got, err := ParseDetachKeys(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseDetachKeys(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestDetachReader(t *testing.T) {
	keys := []byte{16, 17} // ctrl-p ctrl-q
	for _, tc := range []struct {
		name, in, want string
		keys           []byte
		detached       bool
	}{
		{name: "plain", in: "hello", want: "hello"},
		{name: "detach", in: "ab\x10\x11cd", want: "ab", detached: true},
		{name: "detach first", in: "\x10\x11", want: "", detached: true},
		{name: "half then other", in: "a\x10b", want: "a\x10b"},
		{name: "half at end", in: "a\x10", want: "a\x10"},
		{name: "double first key", in: "\x10\x10\x11x", want: "\x10", detached: true},
		{name: "overlap", in: "aaab", keys: []byte("aab"), want: "a", detached: true},
		{name: "no keys", in: "\x10\x11", keys: []byte{}, want: "\x10\x11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := keys
			if tc.keys != nil {
				k = tc.keys
			}
			// One byte a read: a match must survive being split.
			r := NewDetachReader(iotest.OneByteReader(strings.NewReader(tc.in)), k)
			got, err := io.ReadAll(r)
			if string(got) != tc.want {
				t.Errorf("read %q from %q, want %q", got, tc.in, tc.want)
			}
			if errors.Is(err, ErrDetached) != tc.detached {
				t.Errorf("err = %v, want detached=%v", err, tc.detached)
			}
		})
	}
}

// fakeInput records what clients send the container.
type fakeInput struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
	size   [2]uint16
}

func (f *fakeInput) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}
func (f *fakeInput) CloseInput() { f.mu.Lock(); f.closed = true; f.mu.Unlock() }
func (f *fakeInput) Resize(r, c uint16) {
	f.mu.Lock()
	f.size = [2]uint16{r, c}
	f.mu.Unlock()
}

func (f *fakeInput) state() (string, bool, [2]uint16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.String(), f.closed, f.size
}

// longDir is deeper than a socket address can name, as runtime dirs under
// a test's work dir are.
func longDir(t *testing.T) string {
	d := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAttachRoundTrip(t *testing.T) {
	dir := longDir(t)
	s, err := Listen(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := &fakeInput{}
	s.SetInput(in)

	c, err := Dial(dir, Hello{Stdin: true, Stdout: true, Stderr: true, Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-s.Attached():
	case <-time.After(5 * time.Second):
		t.Fatal("the server never saw the client")
	}
	var out, errOut bytes.Buffer
	done := make(chan struct{})
	var code int
	var rerr error
	go func() {
		code, rerr = c.Relay(strings.NewReader("input"), &out, &errOut)
		close(done)
	}()
	// Input and its end arrive; then output, then the exit status.
	waitFor(t, func() bool { got, closed, _ := in.state(); return got == "input" && closed })
	if _, _, size := in.state(); size != [2]uint16{30, 100} {
		t.Errorf("size = %v, want [30 100]", size)
	}
	_, _ = s.Output("stdout").Write([]byte("to stdout"))
	_, _ = s.Output("stderr").Write([]byte("to stderr"))
	s.Exited(7)
	<-done
	if rerr != nil || code != 7 {
		t.Errorf("Relay = %d, %v; want 7, nil", code, rerr)
	}
	if out.String() != "to stdout" || errOut.String() != "to stderr" {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

func TestAttachDetach(t *testing.T) {
	dir := longDir(t)
	s, err := Listen(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := &fakeInput{}
	s.SetInput(in)
	c, err := Dial(dir, Hello{Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	stdin := NewDetachReader(strings.NewReader("ls\n\x10\x11after"), []byte{16, 17})
	code, err := c.Relay(stdin, io.Discard, io.Discard)
	if !errors.Is(err, ErrDetached) || code != 0 {
		t.Fatalf("Relay = %d, %v; want ErrDetached", code, err)
	}
	waitFor(t, func() bool { got, _, _ := in.state(); return got == "ls\n" })
	if got, closed, _ := in.state(); closed || got != "ls\n" {
		t.Errorf("container got %q (closed %v), want \"ls\\n\" and stdin still open", got, closed)
	}
	// Another client can attach after the first left.
	c2, err := Dial(dir, Hello{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan int)
	go func() { code, _ := c2.Relay(nil, &out, io.Discard); done <- code }()
	// Only the second client (the one without stdin) is attached now.
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.clients {
			if c.hello.Stdin {
				return false
			}
		}
		return len(s.clients) == 1
	})
	_, _ = s.Output("stdout").Write([]byte("again"))
	s.Exited(0)
	if code := <-done; code != 0 || out.String() != "again" {
		t.Errorf("second client: %d, %q", code, out.String())
	}
}

func TestDialNothing(t *testing.T) {
	if _, err := Dial(t.TempDir(), Hello{}); !errors.Is(err, ErrNotServed) {
		t.Errorf("Dial of an empty dir = %v, want ErrNotServed", err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("timed out")
}

// TestInputOfAClientThatLeft: a client that sends its input and hangs up
// at once (printf x | box attach) still has that input delivered, however
// the output to it fails meanwhile: a failed write must not close the
// read side with the input unread.
func TestInputOfAClientThatLeft(t *testing.T) {
	for i := range 100 {
		dir := t.TempDir()
		s, err := Listen(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		in := &fakeInput{}
		s.SetInput(in)
		stop := make(chan struct{})
		talked := make(chan struct{})
		go func() {
			// Output to every client, as a busy container makes.
			defer close(talked)
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = s.Output("stdout").Write([]byte("out\n"))
				}
			}
		}()
		c, err := Dial(dir, Hello{Stdin: true, Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.send(kindStdin, []byte("two\n")); err != nil {
			t.Fatal(err)
		}
		c.Close()
		waitFor(t, func() bool { got, _, _ := in.state(); return got == "two\n" })
		close(stop)
		<-talked
		s.Close()
		if got, _, _ := in.state(); got != "two\n" {
			t.Fatalf("iteration %d: the container got %q, want \"two\\n\"", i, got)
		}
	}
}
