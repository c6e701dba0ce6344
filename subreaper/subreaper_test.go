package subreaper

import (
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStatState(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want byte
	}{
		{"12 (sleep) Z 1 12 12 0", 'Z'},
		{"12 (a) b) S 1 12", 'S'},
		{"12 (x y) R 1", 'R'},
		{"12 (broken", 0},
		{"12 (x)", 0},
	} {
		if got := statState([]byte(tc.stat)); got != tc.want {
			t.Errorf("statState(%q) = %q, want %q", tc.stat, got, tc.want)
		}
	}
}

func TestPidfdPid(t *testing.T) {
	for _, tc := range []struct {
		name, info string
		pid        int
		ok         bool
	}{
		{"pidfd", "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t4242\nNSpid:\t4242\n", 4242, true},
		{"reaped", "pos:\t0\nflags:\t02000002\nPid:\t-1\nNSpid:\t-1\n", 0, false},
		{"file", "pos:\t0\nflags:\t0100000\nmnt_id:\t25\nino:\t12\n", 0, false},
		{"eventfd", "pos:\t0\neventfd-count:\t0\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, ok := pidfdPid([]byte(tc.info))
			if pid != tc.pid && tc.ok || ok != tc.ok {
				t.Errorf("pidfdPid(%q) = %d, %v, want %d, %v", tc.info, pid, ok, tc.pid, tc.ok)
			}
		})
	}
}

func TestOrphansDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	seen := map[int]time.Time{}
	// First sight: nothing is due, look again after the grace.
	due, next := orphansDue([]int{10, 11, 12}, map[int]bool{11: true}, seen, t0)
	if len(due) != 0 || next != grace {
		t.Fatalf("first sight: due %v next %v, want none and %v", due, next, grace)
	}
	if _, ok := seen[11]; ok {
		t.Errorf("a zombie a pidfd names was remembered: %v", seen)
	}
	// Half the grace later a new one appears; the old ones are not due.
	due, next = orphansDue([]int{10, 11, 12, 13}, map[int]bool{11: true}, seen, t0.Add(grace/2))
	if len(due) != 0 || next != grace/2 {
		t.Fatalf("half the grace later: due %v next %v, want none and %v", due, next, grace/2)
	}
	// After the grace: 10 and 12 are due; 11 is someone's; 13 must wait.
	due, next = orphansDue([]int{10, 11, 12, 13}, map[int]bool{11: true}, seen, t0.Add(grace))
	slices.Sort(due)
	if !slices.Equal(due, []int{10, 12}) || next != grace/2 {
		t.Fatalf("after the grace: due %v next %v, want [10 12] and %v", due, next, grace/2)
	}
	// 13 was reaped by its waiter meanwhile: forgotten, nothing to do.
	due, next = orphansDue(nil, nil, seen, t0.Add(2*grace))
	if len(due) != 0 || next != 0 || len(seen) != 0 {
		t.Fatalf("all gone: due %v next %v seen %v, want nothing", due, next, seen)
	}
}

// orphan makes this process a child subreaper for the test, so that
// grandchildren whose parent exits come here, as they come to box's stage,
// PID 1 of its pid namespace.
func orphan(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
}

// orphans starts n shells that each leave a short-lived background
// process behind, which this (subreaper) process inherits.
func orphans(t *testing.T, n int) {
	t.Helper()
	for range n {
		if out, err := exec.Command("sh", "-c", "sleep 0.01 & exit 0").CombinedOutput(); err != nil {
			t.Fatalf("sh: %v %s", err, out)
		}
	}
}

func waitNoZombies(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		z := zombieChildren()
		if len(z) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("zombie children %v still there after %v", z, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Without the reaper the orphans stay zombies: the test below would
// catch a reaper that does nothing.
func TestOrphansStayWithoutReaper(t *testing.T) {
	orphan(t)
	orphans(t, 3)
	time.Sleep(300 * time.Millisecond)
	z := zombieChildren()
	if len(z) < 3 {
		t.Fatalf("zombie children %v, want the 3 orphans", z)
	}
	for _, pid := range z {
		_, _ = unix.Wait4(pid, nil, unix.WNOHANG, nil)
	}
}

// The reaper takes every orphan, while os/exec still gets the status of
// each child it started, however many run at once: a reaper that took a
// status os/exec waits for would make Wait fail with ECHILD (or report 0).
func TestReapsOrphansNotExecsChildren(t *testing.T) {
	if !pidfdsWork() {
		t.Skip("no pidfds on this kernel: the reaper reaps nothing")
	}
	orphan(t)
	stop := Start()
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				code := (w*50+i)%200 + 1
				// The child exits at once (a zombie before Wait gets to
				// it) and leaves an orphan behind.
				err := exec.Command("sh", "-c", "sleep 0.01 & exit $0", strconv.Itoa(code)).Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != code {
					errs <- errors.Join(errors.New("exit status of sh "+strconv.Itoa(code)), err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitNoZombies(t, 5*time.Second)
}

// A child reaped by pid alone (a raw clone, as containers/storage makes
// for id-mapped mounts) is left to its waiter for the grace period.
func TestGraceForWaitByPid(t *testing.T) {
	if !pidfdsWork() {
		t.Skip("no pidfds on this kernel")
	}
	stop := Start()
	defer stop()
	for range 20 {
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		// Give up os/exec's handle (its pidfd), as a raw fork has none,
		// and wait by pid as such code does, a little late.
		if err := cmd.Process.Release(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatalf("wait4(%d): %v: the reaper took it within the grace", pid, err)
		}
	}
}
