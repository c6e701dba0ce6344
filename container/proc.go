package container

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// diedCode is what a record reports for a process that vanished without
// writing its status: 128+SIGKILL, the usual cause.
const diedCode = 137

// ProcStartTime returns the start time of process pid, in clock ticks since
// boot (field 22 of /proc/PID/stat). Together with the pid it names one
// process: a pid is reused, a (pid, start) pair is not until reboot.
func ProcStartTime(pid int) (uint64, error) {
	_, start, err := readStat(pid)
	return start, err
}

// Alive reports whether the process pid that started at start still runs.
// A zombie counts as dead: it will never write its state. A start of 0
// means it was not recorded, and only the pid is checked.
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	state, got, err := readStat(pid)
	if err != nil {
		return false
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || got == start
}

func readStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	state, start, err = parseStat(b)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return state, start, nil
}

// parseStat returns the state (field 3) and start time (field 22) from the
// contents of /proc/PID/stat. Field 2, the command name in parentheses, may
// hold spaces and ')' itself, so fields are counted from the last ')'.
func parseStat(b []byte) (state byte, start uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("no ')' after the command name")
	}
	// After ") " come fields 3, 4, ...: field 22 is the 20th.
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("%d fields after the command name, want at least 20", len(fields))
	}
	if len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("state %q is not one letter", fields[0])
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("start time: %w", err)
	}
	return fields[0][0], start, nil
}

// Observed is st as readers should see it, given a liveness check (Alive,
// or a fake in tests) of its monitor. A record that says a box process is
// running (Running, or Created with a MonitorPid, between create and start)
// is only true while that process lives; once it is gone, killed or lost
// in a reboot, nobody is left to record the exit. Observed then reports
// Exited, code 137 unless one was recorded, the error "box process died",
// and no pids, since they may already belong to other processes.
// FinishedAt stays unknown (zero).
//
// Get and List return this view without rewriting the file; whoever acts on
// the container can record it with Update under the container's lock.
func Observed(st State, alive func(pid int, start uint64) bool) State {
	if st.Status != Running && (st.Status != Created || st.MonitorPid == 0) {
		return st
	}
	if st.MonitorPid > 0 && alive(st.MonitorPid, st.MonitorStart) {
		return st
	}
	st.Status = Exited
	if st.ExitCode == 0 {
		st.ExitCode = diedCode
	}
	if st.Error == "" {
		st.Error = "box process died"
	}
	st.Pid, st.MonitorPid, st.MonitorStart, st.Ports = 0, 0, 0, nil
	return st
}

// SelfStartTime is the calling process's start time. Unlike
// ProcStartTime(os.Getpid()) it is right in a process whose /proc belongs
// to another pid namespace than its own.
func SelfStartTime() (uint64, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	_, start, err := parseStat(b)
	return start, err
}

// InitPid is the host pid of a running container's PID 1: the recorded
// one, once checked to still be the monitor's child in a pid namespace of
// its own (the container may have ended since, and its pid gone to
// another process), else the one found from the monitor (a record
// written before pids were recorded).
func InitPid(st State) (int, error) {
	if st.Pid > 0 && st.MonitorPid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.Pid)); err == nil {
			if ppid, err := parsePPid(b); err == nil && ppid == st.MonitorPid && ownPidNS(st.Pid, st.MonitorPid) {
				return st.Pid, nil
			}
		}
	}
	if st.MonitorPid <= 0 {
		return 0, fmt.Errorf("find the container's init: it does not run")
	}
	return InitOf(st.MonitorPid)
}

// ownPidNS says process pid is in another pid namespace than keeper.
func ownPidNS(pid, keeper int) bool {
	own, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", keeper))
	theirs, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return err1 == nil && err2 == nil && own != theirs
}

// InitOf finds a running container's PID 1 from its keeper (the stage):
// the keeper's child that lives in a pid namespace of its own. The keeper's
// other children (fuse-overlayfs daemons, helpers) share its namespace.
func InitOf(keeper int) (int, error) {
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", keeper))
	if err != nil {
		return 0, fmt.Errorf("find the container's init: %w", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if ppid, err := parsePPid(b); err != nil || ppid != keeper {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns != own {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("find the container's init: no child of %d in a pid namespace of its own", keeper)
}

// parsePPid takes field 4 of /proc/PID/stat.
func parsePPid(b []byte) (int, error) { return statField(b, 4) }

// parseSession takes field 6 of /proc/PID/stat.
func parseSession(b []byte) (int, error) { return statField(b, 6) }

// statField takes numeric field n (n > 2) of /proc/PID/stat, counted
// from the last ')' as parseStat does.
func statField(b []byte, n int) (int, error) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < n-2 {
		return 0, fmt.Errorf("malformed stat line")
	}
	return strconv.Atoi(f[n-3])
}

// InSession lists the processes of session sid, as this process's /proc
// numbers them: what a command that made itself a session (box exec,
// healthchecks) still has running, whatever process groups it made.
func InSession(sid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if s, err := parseSession(b); err == nil && s == sid {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// ChildOf returns a child of pid (the command nsenter forked).
func ChildOf(pid int) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if ppid, err := parsePPid(b); err == nil && ppid == pid {
				return child, nil
			}
		}
	}
	return 0, fmt.Errorf("no child of %d", pid)
}

// Threads counts process pid's threads (0 if it is gone).
func Threads(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}
