package stage

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/boxcli/box/containerlog"
	"github.com/boxcli/box/sandbox"
)

// foregroundIO is the stdio of a container run in the foreground without
// a terminal (box run without -d or -t): the CLI's, which this stage
// shares. The container gets it as it is where it can, and through pipes
// this stage relays where it must:
//   - a stream the CLI has on a terminal: without -t the container never
//     gets the user's terminal, which would let it change the terminal's
//     modes for good (stty -F /proc/self/fd/1) and read what the user
//     types, and which makes programs behave as for a person (colour,
//     paging, prompts), where Docker and Podman give pipes;
//   - stdout and stderr of a container that is not --rm, to keep its log
//     (box logs, as Docker's); a --rm container's could never be read.
//
// Anything else (a file, a pipe) is handed over, with nothing in between:
// box run --rm's usual path costs no copy.
type foregroundIO struct {
	stdio  sandbox.Stdio
	log    *containerlog.Writer
	theirs []*os.File // the container's ends, closed here once it has them
	copies sync.WaitGroup
}

// newForegroundIO sets up the container's stdio; logPath "" keeps no log.
// interactive: the CLI passed its stdin on (-i); else stdin is /dev/null.
func newForegroundIO(logPath string, logMax int64, interactive bool) (*foregroundIO, error) {
	f := &foregroundIO{stdio: sandbox.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}}
	if logPath != "" {
		w, err := containerlog.Create(logPath, logMax)
		if err != nil {
			return nil, err
		}
		f.log = w
	}
	if interactive && term.IsTerminal(int(os.Stdin.Fd())) {
		r, w, err := os.Pipe()
		if err != nil {
			f.close()
			return nil, err
		}
		f.stdio.Stdin, f.theirs = r, append(f.theirs, r)
		// Not waited for: a read of the terminal ends only with the
		// user's next line, or this process. The end of input (^D) is
		// the end of the container's stdin.
		go func() {
			_, _ = io.Copy(w, os.Stdin)
			w.Close()
		}()
	}
	// stdout and stderr, each relayed or handed over. Relayed ones go
	// through one goroutine that reads stdout first whenever both have
	// something, so that "echo out; echo err >&2" shows in that order; and
	// where no log tells them apart and both are the same file (one
	// terminal), through one pipe, which keeps the order exactly.
	var streams []*relayed
	for _, st := range []struct {
		fd     int
		stream string
		set    *io.Writer
	}{{1, "stdout", &f.stdio.Stdout}, {2, "stderr", &f.stdio.Stderr}} {
		if f.log == nil && !term.IsTerminal(st.fd) {
			continue
		}
		if st.fd == 2 && f.log == nil && len(streams) == 1 && sameFile(1, 2) {
			f.stdio.Stderr = f.stdio.Stdout
			continue
		}
		rs, err := f.relay(st.fd, st.stream)
		if err != nil {
			for _, s := range streams {
				s.ours.Close()
				s.out.Close()
			}
			f.close()
			return nil, err
		}
		*st.set = rs.theirs
		streams = append(streams, rs)
	}
	if len(streams) > 0 {
		f.copies.Add(1)
		go func() {
			defer f.copies.Done()
			relayStreams(streams)
		}()
	}
	return f, nil
}

// relayed is one stream the container writes to a pipe and this stage
// copies on: ours is the pipe's end to read, theirs the container's.
type relayed struct {
	ours, theirs *os.File
	out          *os.File
	log          io.Writer
}

// relay makes the pipe for the stage's fd: the container writes to it, and
// relayStreams copies that to the fd and the log.
func (f *foregroundIO) relay(fd int, stream string) (*relayed, error) {
	// A copy of the fd: a write to a broken pipe on fds 1 and 2 makes the
	// Go runtime end the process with SIGPIPE, on others it is EPIPE.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		unix.Close(dup)
		return nil, err
	}
	f.theirs = append(f.theirs, w)
	rs := &relayed{ours: r, theirs: w, out: os.NewFile(uintptr(dup), stream)}
	if f.log != nil {
		rs.log = f.log.Stream(stream)
	}
	return rs, nil
}

// relayStreams copies each stream to its fd and the log until they all
// end, stdout first where both have something. A reader of the fd that
// gives up (box run ... | head -1) ends that stream's copy and closes its
// pipe: the container's next write there fails with SIGPIPE or EPIPE, as
// it would have had it written to that reader itself.
func relayStreams(streams []*relayed) {
	buf := make([]byte, 32<<10)
	fds := make([]unix.PollFd, len(streams))
	for i, s := range streams {
		fds[i] = unix.PollFd{Fd: int32(s.ours.Fd()), Events: unix.POLLIN} // Fd: blocking reads from here
	}
	open := len(streams)
	end := func(i int) {
		s := streams[i]
		if s.log != nil {
			_ = containerlog.Flush(s.log)
		}
		s.ours.Close()
		s.out.Close()
		fds[i].Fd, open = -1, open-1 // poll skips a negative fd
	}
	for open > 0 {
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			for i := range streams {
				if fds[i].Fd >= 0 {
					end(i)
				}
			}
			return
		}
		for i, s := range streams {
			if fds[i].Fd < 0 || fds[i].Revents == 0 {
				continue
			}
			n, err := unix.Read(int(fds[i].Fd), buf)
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			if n <= 0 {
				end(i)
				continue
			}
			if s.log != nil {
				_, _ = s.log.Write(buf[:n])
			}
			if _, err := s.out.Write(buf[:n]); err != nil {
				end(i)
			}
		}
	}
}

// sameFile says fds a and b are the same file (one terminal, or 2>&1).
func sameFile(a, b int) bool {
	var sa, sb unix.Stat_t
	return unix.Fstat(a, &sa) == nil && unix.Fstat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// started closes this stage's copies of the container's ends, once the
// container holds them: its output ends when the container's processes
// are gone.
func (f *foregroundIO) started() {
	for _, t := range f.theirs {
		t.Close()
	}
	f.theirs = nil
}

// drained waits until the container's last output is relayed and logged.
func (f *foregroundIO) drained() { f.copies.Wait() }

// close releases everything; after a failed start it also ends the copies.
func (f *foregroundIO) close() {
	f.started()
	f.copies.Wait()
	if f.log != nil {
		f.log.Close()
	}
}
