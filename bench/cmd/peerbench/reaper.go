package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reaperEnv marks the suite process, the reaper's child.
const reaperEnv = "_PEERBENCH_SUITE"

// reaper runs the suite as its child and reaps every process that is
// orphaned below it (the kernel hands orphans to the nearest child
// subreaper): conmon, slirp4netns, box's monitors, as soon as they exit.
// An exited process that nobody reaps is a zombie, which kill(pid, 0)
// still finds, so a tool that waits for a process to be gone would wait
// for PID 1 to reap it; on this machine PID 1 is not an init that does so
// promptly. Signals go on to the suite, which cleans up and exits; the
// reaper then exits with its status.
func reaper() int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "peerbench: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "peerbench: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), reaperEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "peerbench: %v\n", err)
		return 1
	}
	child := cmd.Process.Pid
	go func() {
		for sig := range sigs {
			_ = syscall.Kill(child, sig.(syscall.Signal))
		}
	}()
	// cmd.Wait is never called: wait4(-1) below reaps the suite too.
	status := -1
	for status < 0 {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "peerbench: wait: %v\n", err)
			return 1
		}
		if pid == child {
			switch {
			case ws.Exited():
				status = ws.ExitStatus()
			case ws.Signaled():
				status = 128 + int(ws.Signal())
			}
		}
	}
	// Orphans the suite left (it removes what it started, so there
	// should be none) are reaped for a moment; any still running then
	// go to PID 1 when the reaper exits.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil && !errors.Is(err, unix.EINTR) {
			break // ECHILD: none left
		}
		if pid <= 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return status
}
