package stage

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/userns"
)

// Options are what the CLI hands the stage besides the request.
type Options struct {
	Maps           userns.Maps
	Stdin          io.Reader // nil: /dev/null
	Stdout, Stderr io.Writer
	Console        *os.File // the container end of the console socket, for -t
	// Detach starts the stage in a session of its own that outlives the
	// CLI: it stays on as a detached container's monitor.
	Detach bool
	// Join starts the stage in another user namespace, to start the
	// container in a network namespace it owns; Maps are then unused.
	Join *Join
	// Cgroup makes the container's cgroup with the stage in it, once the
	// stage exists and before it reads its request; nil: none.
	Cgroup func(pid int) (string, error)
	// Progress receives pull progress sent as replies (see
	// Request.ProgressReplies).
	Progress io.Writer
	// Started is called when the container of a foreground run runs.
	Started func()
}

// Session is a running stage seen from the CLI.
type Session struct {
	cmd      *exec.Cmd
	replies  *os.File
	detach   bool
	progress io.Writer
	started  func()
}

// Start re-executes box as the stage in new user, mount and pid
// namespaces and sends it req.
func Start(req Request, opt Options) (*Session, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find box executable: %w", err)
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer reqR.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		reqW.Close()
		return nil, err
	}
	defer repW.Close()

	// fds 3, 4, 5 (the console, for -t) and 6 (a network namespace to
	// join), in that order: see the fd constants in main.go.
	files := []*os.File{reqR, repW}
	if opt.Console != nil || opt.Join != nil {
		console := opt.Console
		if console == nil {
			if console, err = os.Open(os.DevNull); err != nil {
				reqW.Close()
				repR.Close()
				return nil, err
			}
			defer console.Close()
		}
		files = append(files, console)
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{"box-stage"}
	cmd.Env = append(os.Environ(), roles.Env+"="+roles.Stage)
	if opt.Join != nil {
		// nsenter enters the owner's user namespace (as root there) and
		// runs box as StageJoin, which makes the stage's own namespaces.
		nsenter, lerr := exec.LookPath("nsenter")
		if lerr != nil {
			reqW.Close()
			repR.Close()
			return nil, fmt.Errorf("joining another network namespace needs util-linux nsenter: %w", lerr)
		}
		cmd = exec.Command(nsenter, "--user=/proc/self/fd/7", "--", exe)
		cmd.Env = append(os.Environ(), roles.Env+"="+roles.StageJoin)
		files = append(files, opt.Join.NetNS, opt.Join.UserNS)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opt.Stdin, opt.Stdout, opt.Stderr
	cmd.ExtraFiles = files
	// The stage, and with it the container, must not outlive a CLI killed
	// with SIGKILL: a foreground container belongs to its terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if opt.Detach {
		// Away from the CLI's terminal and its death.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if opt.Join != nil {
		err = cmd.Start()
	} else {
		err = userns.Start(cmd, opt.Maps)
	}
	if err != nil {
		reqW.Close()
		repR.Close()
		return nil, err
	}
	req.HostPID = cmd.Process.Pid
	// Making a systemd scope is a D-Bus round trip of ~15 ms: the stage
	// meanwhile starts up and opens the image store, and waits for the
	// cgroup only before it creates anything. A joining stage forks the
	// real one at once, which must start in the cgroup: it waits here.
	follows := opt.Cgroup != nil && opt.Join == nil
	if opt.Cgroup != nil && !follows {
		if req.Cgroup, err = opt.Cgroup(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			reqW.Close()
			repR.Close()
			return nil, err
		}
	}
	req.CgroupFollows = follows
	enc := json.NewEncoder(reqW)
	err = enc.Encode(req)
	if err == nil && follows {
		path, cgErr := opt.Cgroup(cmd.Process.Pid)
		msg := CgroupMsg{Path: path}
		if cgErr != nil {
			msg.Error = cgErr.Error()
		}
		// A stage that failed already has said why on the reply pipe.
		_ = enc.Encode(msg)
		if cgErr != nil {
			// The stage gives up before it creates anything, with this
			// error; the CLI's own copy of it is the one to report. But a
			// stage that failed first (no such image) may be why the
			// cgroup could not be made (no such process): its error then.
			reqW.Close()
			repW.Close() // this end too, or the replies never end
			_, serr := (&Session{cmd: cmd, replies: repR}).Wait(nil)
			if serr != nil && serr.Error() != cgErr.Error() && !errors.Is(serr, ErrStageDied) {
				return nil, serr
			}
			return nil, cgErr
		}
	}
	reqW.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		repR.Close()
		return nil, fmt.Errorf("send request to stage: %w", err)
	}
	return &Session{cmd: cmd, replies: repR, detach: opt.Detach, progress: opt.Progress, started: opt.Started}, nil
}

// Signal forwards sig to the stage, which passes it on to the container.
func (s *Session) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Pid is the stage's host pid.
func (s *Session) Pid() int { return s.cmd.Process.Pid }

// ExitError carries the container's exit status to the CLI.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("container exited with status %d", e.Code) }

// ErrStageDied means the stage ended without a final reply.
var ErrStageDied = errors.New("box's namespace helper ended without an answer")

// Wait reads replies until the final one, calling warn for each warning,
// then waits for the stage to exit. It returns the result of the op, an
// *ExitError for a container's status, or the stage's error.
func (s *Session) Wait(warn func(string)) (json.RawMessage, error) {
	defer s.replies.Close()
	var final *Reply
	sc := bufio.NewScanner(s.replies)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var r Reply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue
		}
		if r.Warning != "" {
			if warn != nil {
				warn(r.Warning)
			}
			continue
		}
		if r.Started {
			if s.started != nil {
				s.started()
			}
			continue
		}
		if r.Progress != "" {
			if s.progress != nil {
				_, _ = io.WriteString(s.progress, r.Progress)
			}
			continue
		}
		final = &r
	}
	if s.detach && final != nil && final.Result != nil {
		// The stage lives on as the container's monitor.
		_ = s.cmd.Process.Release()
		return final.Result, nil
	}
	werr := s.cmd.Wait()
	switch {
	case final == nil && werr != nil:
		return nil, fmt.Errorf("%w: %v", ErrStageDied, werr)
	case final == nil:
		return nil, ErrStageDied
	case final.Error != nil:
		return nil, final.Error
	case final.Exit != nil:
		return nil, &ExitError{Code: *final.Exit}
	}
	return final.Result, nil
}

// Do runs one request to completion and decodes its result into out.
func Do(req Request, opt Options, warn func(string), out any) error {
	s, err := Start(req, opt)
	if err != nil {
		return err
	}
	raw, err := s.Wait(warn)
	if err != nil {
		return err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decode stage result: %w", err)
		}
	}
	return nil
}
