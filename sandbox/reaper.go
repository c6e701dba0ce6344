package sandbox

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwarded are the signals the --init passes on to the command: what
// Docker documents, plus the timer and continue signals shells rely on.
func forwarded() []os.Signal {
	return []os.Signal{
		syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGALRM,
	}
}

// reap is --init: start the command as PID 2, pass signals on, reap every
// orphan that the namespace hands to PID 1, and leave with the command's
// status when it ends (the kernel then kills what is left).
func reap(path string, args, env []string, tty bool, errPipe *os.File, fail func(string, error) int) int {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, append(forwarded(), syscall.SIGCHLD)...)
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		// In its own process group, and in the foreground of the
		// terminal, so a Ctrl-C from the tty reaches it once, not twice.
		Sys: &syscall.SysProcAttr{Setpgid: true, Foreground: tty, Ctty: 0},
	}
	// Keep the container's processes away from this box process and its
	// /proc/1/exe (CVE-2019-5736 class), from before the first of them
	// exists; the command's own exec makes it dumpable again.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	pid, err := syscall.ForkExec(path, args, attr)
	if err != nil {
		return fail(execKind(err), fmt.Errorf("exec %q: %w", args[0], err))
	}
	errPipe.Close()
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			_ = syscall.Kill(pid, sig.(syscall.Signal))
			continue
		}
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || wpid <= 0 {
				break
			}
			if wpid != pid {
				continue
			}
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
	return 0
}
