// Package subreaper reaps the orphans a Go process inherits as PID 1 of a
// pid namespace (box's stage) or as a child subreaper, without taking the
// exit status of a child that os/exec or anyone else in the process waits
// for.
//
// A zombie that nobody reaps is not only a slot in the process table: one
// that lives in a pid namespace whose init has exited keeps that namespace
// from dying, and so keeps the init's own wait from returning. The kernel
// hands such orphans to the parent's namespace's init, here box's stage,
// when for instance nsenter (a healthcheck, box exec) dies before the
// child it forked into the container.
//
// The usual reaper, wait4(-1) on SIGCHLD, would steal statuses from
// os/exec. Since Go 1.23, os.StartProcess holds a pidfd for every child it
// starts until Wait reaps it, and /proc/self/fdinfo names that pidfd's
// process. So a zombie child that no pidfd of this process names is one
// that nobody here will ever wait for. A short grace period also spares
// code that forks with a raw clone and reaps with wait4(pid) at once
// (containers/storage does for id-mapped mounts).
//
// Do not use it where pidfds do not work (Linux before 5.4, or a seccomp
// filter that refuses them): os/exec then waits by pid alone, and Start
// reaps nothing.
package subreaper

import (
	"bytes"
	"os"
	"os/signal"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// grace is how long a zombie nobody holds a pidfd of is left to a waiter
// that reaps by pid alone.
const grace = 100 * time.Millisecond

// Start reaps, until stop is called, every zombie child of this process
// that is not waited for. It needs /proc to belong to this process's pid
// namespace.
func Start() (stop func()) {
	if !pidfdsWork() {
		return func() {}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		defer signal.Stop(sigs)
		seen := map[int]time.Time{}
		for {
			var recheck <-chan time.Time
			if next := reap(seen, time.Now()); next > 0 {
				recheck = time.After(next)
			}
			select {
			case <-sigs:
			case <-recheck:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// pidfdsWork says whether this kernel gives pidfds, and so whether os/exec
// holds one for each child it waits for.
func pidfdsWork() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// reap reaps the zombie children that no pidfd names and that were first
// seen at least grace ago, remembering the others in seen. It returns how
// soon to look again (0: only on the next SIGCHLD).
func reap(seen map[int]time.Time, now time.Time) time.Duration {
	zombies := zombieChildren()
	if len(zombies) == 0 {
		clear(seen)
		return 0
	}
	due, next := orphansDue(zombies, pidfdTargets(), seen, now)
	for _, pid := range due {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG|unix.WALL, nil)
	}
	return next
}

// orphansDue decides, from the zombie children and the pids this process
// holds pidfds of, which zombies to reap now and how soon to look again.
// seen keeps when each unwaited zombie was first seen; it is updated.
func orphansDue(zombies []int, waited map[int]bool, seen map[int]time.Time, now time.Time) (due []int, next time.Duration) {
	current := map[int]bool{}
	for _, pid := range zombies {
		if waited[pid] {
			continue
		}
		current[pid] = true
		first, ok := seen[pid]
		if !ok {
			seen[pid], first = now, now
		}
		if left := grace - now.Sub(first); left > 0 {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		due = append(due, pid)
		delete(seen, pid)
	}
	for pid := range seen {
		if !current[pid] {
			delete(seen, pid) // reaped meanwhile by whoever waited for it
		}
	}
	return due, next
}

// zombieChildren lists this process's children (those of every thread:
// an orphan goes to whichever thread of the reaper lives) that have exited
// and wait to be reaped.
func zombieChildren() []int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	var zombies []int
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			pid, err := strconv.Atoi(string(f))
			if err != nil {
				continue
			}
			if stat, err := os.ReadFile("/proc/" + string(f) + "/stat"); err == nil && statState(stat) == 'Z' {
				zombies = append(zombies, pid)
			}
		}
	}
	return zombies
}

// statState is the state letter of a /proc/PID/stat: the field after the
// command name, which may hold spaces and ')' itself.
func statState(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// pidfdTargets are the processes this process holds pidfds of: the
// children os/exec waits for, among others.
func pidfdTargets() map[int]bool {
	fds, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		return nil
	}
	pids := map[int]bool{}
	for _, fd := range fds {
		b, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue
		}
		if pid, ok := pidfdPid(b); ok {
			pids[pid] = true
		}
	}
	return pids
}

// pidfdPid reads the "Pid:" line that only a pidfd's fdinfo has.
func pidfdPid(fdinfo []byte) (int, bool) {
	for _, line := range bytes.Split(fdinfo, []byte("\n")) {
		v, ok := bytes.CutPrefix(line, []byte("Pid:"))
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		return pid, err == nil && pid > 0
	}
	return 0, false
}
