package stage

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/attach"
	"github.com/boxcli/box/containerlog"
	"github.com/boxcli/box/sandbox"
)

// LogFile is a container's log, in its record directory.
const LogFile = "container.log"

// attachWait bounds how long a container started for an attach (start
// -a) holds its output back waiting for the client: long enough for a
// slow machine, short enough that a client killed meanwhile costs little.
const attachWait = 10 * time.Second

// monitorIO is a detached container's stdio, owned by its monitor: the
// output goes to the log and to attached clients, their input to the
// container's stdin (-i), through pipes or the pty the container sends
// when it has a terminal.
type monitorIO struct {
	w           *containerlog.Writer
	srv         *attach.Server
	tty         bool
	interactive bool
	// holdOutput: a client attaches right after the start (start -a) and
	// must not miss the first output.
	holdOutput bool

	outR, outW *os.File
	errR, errW *os.File
	inR, inW   *os.File
	console    *os.File // our end of the console socket
	remote     *os.File // the container's end
	copies     sync.WaitGroup
}

type monitorIOOptions struct {
	recordDir, runDir      string
	tty, interactive, once bool
	holdOutput             bool
	logMaxSize             int64
}

func newMonitorIO(o monitorIOOptions) (*monitorIO, error) {
	w, err := containerlog.Create(filepath.Join(o.recordDir, LogFile), o.logMaxSize)
	if err != nil {
		return nil, err
	}
	srv, err := attach.Listen(o.runDir, o.once)
	if err != nil {
		w.Close()
		return nil, err
	}
	m := &monitorIO{w: w, srv: srv, tty: o.tty, interactive: o.interactive, holdOutput: o.holdOutput}
	if err := m.renew(); err != nil {
		m.close()
		return nil, err
	}
	return m, nil
}

// renew makes fresh pipes (or a console socket) for the container's next
// start: the previous ones closed when its output ended.
func (m *monitorIO) renew() (err error) {
	if m.tty {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		m.console, m.remote = os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-remote")
		return nil
	}
	if m.outR, m.outW, err = os.Pipe(); err != nil {
		return err
	}
	if m.errR, m.errW, err = os.Pipe(); err != nil {
		return err
	}
	if m.interactive {
		m.inR, m.inW, err = os.Pipe()
	}
	return err
}

// stdio is what the container gets: the console socket, or pipes (stdin
// only with -i: nobody types into the others).
func (m *monitorIO) stdio() sandbox.Stdio {
	if m.tty {
		return sandbox.Stdio{Console: m.remote}
	}
	s := sandbox.Stdio{Stdout: m.outW, Stderr: m.errW}
	if m.inR != nil {
		s.Stdin = m.inR
	}
	return s
}

// started closes the container's ends, which it now holds, and starts
// copying its output and clients' input.
func (m *monitorIO) started() {
	if m.tty {
		m.remote.Close()
		pty, err := sandbox.ReceiveConsole(m.console)
		m.console.Close()
		if err != nil {
			return
		}
		m.srv.SetInput(ptyInput{pty: pty, interactive: m.interactive})
		m.copy(pty, "stdout")
		return
	}
	m.outW.Close()
	m.errW.Close()
	if m.inR != nil {
		m.inR.Close()
		m.srv.SetInput(pipeInput{m.inW})
	}
	m.copy(m.outR, "stdout")
	m.copy(m.errR, "stderr")
}

func (m *monitorIO) copy(r *os.File, stream string) {
	m.copies.Add(1)
	go func() {
		defer m.copies.Done()
		defer r.Close()
		if m.holdOutput {
			select {
			case <-m.srv.Attached():
			case <-time.After(attachWait):
			}
		}
		w := m.w.Stream(stream)
		// A pty ends in EIO once the last process holding it is gone.
		_, _ = io.Copy(io.MultiWriter(w, m.srv.Output(stream)), r)
		_ = containerlog.Flush(w)
	}()
}

// drained waits until the container's last output is in the log and
// queued for its clients, and takes their input away.
func (m *monitorIO) drained() {
	m.copies.Wait()
	m.srv.SetInput(nil)
	if m.inW != nil {
		m.inW.Close()
		m.inW = nil
	}
}

// ended tells the clients how the container ended, and hangs up on them.
// The monitor says it once the record says so too: a client that returns
// (start -a) and starts the container again at once must find it stopped.
func (m *monitorIO) ended(code int) {
	m.srv.Exited(code)
	// Whoever attaches to a restarted container was not there at the start.
	m.holdOutput = false
}

// unlisten stops taking clients and removes the attach socket before the
// record says the container ended: the next monitor binds its own there.
// The clients attached stay, to be told the end.
func (m *monitorIO) unlisten() { _ = m.srv.Unlisten() }

func (m *monitorIO) close() {
	m.srv.Close()
	m.w.Close()
}

// ptyInput is a terminal container's input: keys go to the pty (with -i),
// and clients' terminal sizes always do.
type ptyInput struct {
	pty         *os.File
	interactive bool
}

func (p ptyInput) Write(b []byte) (int, error) {
	if !p.interactive {
		return len(b), nil
	}
	return p.pty.Write(b)
}

// CloseInput does nothing: a terminal's input has no end, only ^D.
func (p ptyInput) CloseInput() {}

func (p ptyInput) Resize(rows, cols uint16) {
	_ = unix.IoctlSetWinsize(int(p.pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// pipeInput is the stdin pipe of a container run with -i and no terminal.
type pipeInput struct{ w *os.File }

func (p pipeInput) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipeInput) CloseInput()                 { _ = p.w.Close() }
func (p pipeInput) Resize(uint16, uint16)       {}
