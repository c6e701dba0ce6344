package container

import (
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// fields 4..21 are filler; field 22 (start time) is set per case
	filler := "1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0"
	tests := []struct {
		name      string
		in        string
		wantState byte
		wantStart uint64
		wantErr   bool
	}{
		{name: "plain", in: "1234 (sleep) S " + filler + " 98765 1000 100\n", wantState: 'S', wantStart: 98765},
		{name: "spaces and parens in comm", in: "1234 (we ird) (x) R " + filler + " 42 1000", wantState: 'R', wantStart: 42},
		{name: "comm is ')'", in: "7 ()) Z " + filler + " 5", wantState: 'Z', wantStart: 5},
		{name: "comm with digits and spaces", in: "7 (a 1 2 3 4 5) S " + filler + " 9", wantState: 'S', wantStart: 9},
		{name: "large start", in: "7 (x) S " + filler + " 18446744073709551615", wantState: 'S', wantStart: 1<<64 - 1},
		{name: "empty", in: "", wantErr: true},
		{name: "no paren", in: "no paren at all " + filler + " 5", wantErr: true},
		{name: "too short", in: "1 (x) S 1", wantErr: true},
		{name: "start not a number", in: "1 (x) S " + filler + " abc", wantErr: true},
		{name: "state not a letter", in: "1 (x) SS " + filler + " 5", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state, start, err := parseStat([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseStat(%q) = %c, %d, nil, want an error", tc.in, state, start)
				}
				return
			}
			if err != nil || state != tc.wantState || start != tc.wantStart {
				t.Fatalf("parseStat(%q) = %c, %d, %v, want %c, %d", tc.in, state, start, err, tc.wantState, tc.wantStart)
			}
		})
	}
}

func TestObserved(t *testing.T) {
	dead := func(int, uint64) bool { return false }
	alive := func(int, uint64) bool { return true }
	died := func(code int) State {
		return State{Status: Exited, ExitCode: code, Error: "box process died"}
	}
	tests := []struct {
		name  string
		in    State
		alive func(int, uint64) bool
		want  State
	}{
		{name: "running and alive", in: State{Status: Running, Pid: 7, MonitorPid: 5, MonitorStart: 9}, alive: alive, want: State{Status: Running, Pid: 7, MonitorPid: 5, MonitorStart: 9}},
		{name: "running and dead", in: State{Status: Running, Pid: 7, MonitorPid: 5, MonitorStart: 9}, alive: dead, want: died(137)},
		{name: "running without pid", in: State{Status: Running}, alive: alive, want: died(137)},
		{name: "only the init's pid is no monitor", in: State{Status: Running, Pid: 7}, alive: alive, want: died(137)},
		{name: "dead keeps a recorded code", in: State{Status: Running, MonitorPid: 5, ExitCode: 3}, alive: dead, want: died(3)},
		{name: "dead keeps a recorded error", in: State{Status: Running, MonitorPid: 5, Error: "oom"}, alive: dead, want: State{Status: Exited, ExitCode: 137, Error: "oom"}},
		{name: "created with pid and dead", in: State{Status: Created, MonitorPid: 5}, alive: dead, want: died(137)},
		{name: "created with pid and alive", in: State{Status: Created, MonitorPid: 5}, alive: alive, want: State{Status: Created, MonitorPid: 5}},
		{name: "created without pid", in: State{Status: Created}, alive: dead, want: State{Status: Created}},
		{name: "exited stays", in: State{Status: Exited, ExitCode: 0}, alive: dead, want: State{Status: Exited}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Observed(tc.in, tc.alive); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Observed(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// A state written before the container's PID 1 had a field of its own
// named the monitor "pid"; the container that box started runs on.
func TestStateLegacyMonitorPid(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     State
	}{
		{"before", `{"status":"running","pid":40,"pidStart":77,"exitCode":0}`, State{Status: Running, MonitorPid: 40, MonitorStart: 77}},
		{"after", `{"status":"running","pid":41,"monitorPid":40,"monitorStart":77,"exitCode":0}`, State{Status: Running, Pid: 41, MonitorPid: 40, MonitorStart: 77}},
		{"exited", `{"status":"exited","exitCode":3}`, State{Status: Exited, ExitCode: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got State
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Unmarshal(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			b, err := json.Marshal(got)
			if err != nil || strings.Contains(string(b), "pidStart") {
				t.Fatalf("Marshal(%+v) = %s, %v; want the new fields only", got, b, err)
			}
		})
	}
}

// InitPid takes the recorded pid only while it is the monitor's child
// in a pid namespace of its own: a pid that went to another process is
// not the container's.
func TestInitPidChecksTheRecord(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// sleep is this test's child in this pid namespace: not a container's.
	st := State{Status: Running, Pid: cmd.Process.Pid, MonitorPid: os.Getpid()}
	if pid, err := InitPid(st); err == nil {
		t.Errorf("InitPid(%+v) = %d, want an error: the child shares the pid namespace", st, pid)
	}
	if pid, err := InitPid(State{Status: Exited}); err == nil {
		t.Errorf("InitPid of an exited container = %d, want an error", pid)
	}
}

func TestAliveRealProcess(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	start, err := ProcStartTime(pid)
	if err != nil || start == 0 {
		t.Fatalf("ProcStartTime(%d) = %d, %v, want a start time", pid, start, err)
	}
	if !Alive(pid, start) {
		t.Fatalf("Alive(%d, %d) = false for a running sleep", pid, start)
	}
	if !Alive(pid, 0) {
		t.Errorf("Alive(%d, 0) = false, want true: an unrecorded start checks the pid only", pid)
	}
	if Alive(pid, start+1) {
		t.Errorf("Alive(%d, %d) = true, want false: another start time is another process", pid, start+1)
	}

	// A zombie is dead for our purpose: it will never record its exit.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { s, _, err := readStat(pid); return err == nil && s == 'Z' })
	if Alive(pid, start) {
		t.Errorf("Alive(%d, %d) = true for a zombie", pid, start)
	}
	cmd.Wait()
	if Alive(pid, start) {
		t.Errorf("Alive(%d, %d) = true after the process was reaped", pid, start)
	}
	if _, err := ProcStartTime(pid); err == nil {
		t.Errorf("ProcStartTime(%d) of a reaped process = nil error", pid)
	}
	for _, pid := range []int{0, -1} {
		if Alive(pid, 0) {
			t.Errorf("Alive(%d, 0) = true", pid)
		}
	}
}

// A record whose box process was killed reads back as exited through Get
// and List, while the file keeps saying running.
func TestGetReportsDeadProcess(t *testing.T) {
	s := open(t)
	c := create(t, s, Config{Name: "victim"})
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	start, err := ProcStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(c.Config.ID, func(st *State) error {
		st.Status, st.MonitorPid, st.MonitorStart = Running, cmd.Process.Pid, start
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("victim"); err != nil || got.State.Status != Running || got.State.MonitorPid != cmd.Process.Pid {
		t.Fatalf("Get(victim) while alive = %+v, %v, want running with pid %d", got, err, cmd.Process.Pid)
	}

	cmd.Process.Kill()
	cmd.Wait()
	got, err := s.Get("victim")
	if err != nil {
		t.Fatal(err)
	}
	if want := died137(); !reflect.DeepEqual(got.State, want) {
		t.Errorf("Get(victim) after kill: State = %+v, want %+v", got.State, want)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0].State, died137()) {
		t.Errorf("List after kill = %v, %v, want one exited record", list, err)
	}
	raw := readFile(t, s, c.Config.ID, stateFile)
	if !strings.Contains(raw, `"running"`) {
		t.Errorf("Get rewrote state.json: %s", raw)
	}
}

func died137() State { return State{Status: Exited, ExitCode: 137, Error: "box process died"} }

func TestParseSession(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  bool
	}{
		{"1234 (sh) S 1 1234 1230 0 -1", 1230, false},
		{"7 (a ) b) S 1 7 8 0", 8, false},
		{"7 (x) S 1 7", 0, true},
		{"no paren", 0, true},
	} {
		got, err := parseSession([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseSession(%q) = %d, %v, want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// InSession finds a session's processes in every process group of it, as
// a shell with job control makes (a healthcheck's, say).
func TestInSession(t *testing.T) {
	// bash puts each job in a process group of its own under set -m,
	// even without a terminal.
	cmd := exec.Command("bash", "-c", "set -m; sleep 60 & sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sid := cmd.Process.Pid
	defer func() {
		for _, pid := range InSession(sid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := InSession(sid)
		groups := map[int]bool{}
		for _, pid := range pids {
			if g, err := syscall.Getpgid(pid); err == nil {
				groups[g] = true
			}
		}
		if len(pids) == 3 && len(groups) == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("InSession(%d) = %v in %d process groups, want the shell and its two jobs, each its own group", sid, pids, len(groups))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
