package stage

import (
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/containerlog"
	"github.com/boxcli/box/sandbox"
)

// LogFile is a container's log, in its record directory.
const LogFile = "container.log"

// monitorLog carries a detached container's output into its log: through
// pipes, or through the pty the container sends when it has a terminal.
type monitorLog struct {
	w       *containerlog.Writer
	tty     bool
	outR    *os.File
	outW    *os.File
	errR    *os.File
	errW    *os.File
	console *os.File // our end of the console socket
	remote  *os.File // the container's end
	copies  sync.WaitGroup
}

func newMonitorLog(dir string, tty bool) (*monitorLog, error) {
	w, err := containerlog.Create(filepath.Join(dir, LogFile))
	if err != nil {
		return nil, err
	}
	m := &monitorLog{w: w, tty: tty}
	if err := m.renew(); err != nil {
		w.Close()
		return nil, err
	}
	return m, nil
}

// renew makes fresh pipes (or a console socket) for the container's next
// start: the previous ones closed when its output ended.
func (m *monitorLog) renew() (err error) {
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
	m.errR, m.errW, err = os.Pipe()
	return err
}

// stdio is what the container gets: no stdin (nobody is attached) and the
// log's pipes or the console socket.
func (m *monitorLog) stdio() sandbox.Stdio {
	if m.tty {
		return sandbox.Stdio{Console: m.remote}
	}
	return sandbox.Stdio{Stdout: m.outW, Stderr: m.errW}
}

// started closes the container's ends, which it now holds, and starts
// copying its output into the log.
func (m *monitorLog) started() {
	if m.tty {
		m.remote.Close()
		pty, err := sandbox.ReceiveConsole(m.console)
		m.console.Close()
		if err != nil {
			return
		}
		m.copy(pty, "stdout")
		return
	}
	m.outW.Close()
	m.errW.Close()
	m.copy(m.outR, "stdout")
	m.copy(m.errR, "stderr")
}

func (m *monitorLog) copy(r *os.File, stream string) {
	m.copies.Add(1)
	go func() {
		defer m.copies.Done()
		defer r.Close()
		w := m.w.Stream(stream)
		// A pty ends in EIO once the last process holding it is gone.
		_, _ = io.Copy(w, r)
		_ = containerlog.Flush(w)
	}()
}

// drain waits until the container's last output is in the log.
func (m *monitorLog) drain() { m.copies.Wait() }

func (m *monitorLog) close() { m.w.Close() }
