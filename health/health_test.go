package health

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseTest(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "curl -f http://localhost/", want: []string{"CMD-SHELL", "curl -f http://localhost/"}},
		{in: `["CMD", "curl", "-f"]`, want: []string{"CMD", "curl", "-f"}},
		{in: `["CMD-SHELL", "exit 0"]`, want: []string{"CMD-SHELL", "exit 0"}},
		{in: `["NONE"]`, want: []string{"NONE"}},
		{in: `["curl", "-f"]`, want: []string{"CMD", "curl", "-f"}},
		{in: `["CMD"]`, err: "CMD needs a command"},
		{in: `["CMD-SHELL", "a", "b"]`, err: "CMD-SHELL needs a command"},
		{in: `[1, 2]`, err: "non-empty array of strings"},
		{in: `[]`, err: "non-empty array of strings"},
		{in: "  ", err: "it is empty"},
	} {
		got, err := ParseTest(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseTest(%q) = %q, %v; want error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseTest(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestCommand(t *testing.T) {
	if got, _ := Command([]string{"CMD-SHELL", "test -e /x"}); !slices.Equal(got, []string{"/bin/sh", "-c", "test -e /x"}) {
		t.Errorf("CMD-SHELL runs %q", got)
	}
	if got, _ := Command([]string{"CMD", "true", "x"}); !slices.Equal(got, []string{"true", "x"}) {
		t.Errorf("CMD runs %q", got)
	}
	for _, bad := range [][]string{nil, {"NONE"}, {"CMD"}, {"RUN", "x"}} {
		if _, err := Command(bad); err == nil {
			t.Errorf("Command(%q) ran", bad)
		}
	}
}

func TestRecord(t *testing.T) {
	ok := Result{ExitCode: 0}
	bad := Result{ExitCode: 1, Output: strings.Repeat("x", MaxOutput+10)}
	var s State
	s.Reset()
	// In the start period, failures before the first success do not count.
	for range 5 {
		if s.Record(bad, 2, true) || s.Status != Starting || s.FailingStreak != 0 {
			t.Fatalf("start-period failure counted: %+v", s)
		}
	}
	if len(s.Log) != MaxLog || len(s.Log[0].Output) != MaxOutput {
		t.Fatalf("log not capped: %d entries, %d bytes", len(s.Log), len(s.Log[0].Output))
	}
	if !s.Record(ok, 2, true) || s.Status != Healthy {
		t.Fatalf("success did not make it healthy: %+v", s.Status)
	}
	// Once healthy, failures count even in the start period.
	if s.Record(bad, 2, true) || s.Status != Healthy || s.FailingStreak != 1 {
		t.Fatalf("first failure: %s %d", s.Status, s.FailingStreak)
	}
	if !s.Record(bad, 2, false) || s.Status != Unhealthy || s.FailingStreak != 2 {
		t.Fatalf("second failure: %s %d", s.Status, s.FailingStreak)
	}
	if !s.Record(ok, 2, false) || s.Status != Healthy || s.FailingStreak != 0 {
		t.Fatalf("recovery: %s %d", s.Status, s.FailingStreak)
	}
	s.Reset()
	if s.Status != Starting || len(s.Log) != MaxLog {
		t.Fatalf("Reset lost the log or kept the status: %+v", s.Status)
	}
}

func TestMerge(t *testing.T) {
	img := &Config{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 5}
	got := Merge(&Config{Retries: 2, Timeout: time.Minute}, img)
	if !slices.Equal(got.Test, img.Test) || got.Interval != time.Second || got.Retries != 2 || got.Timeout != time.Minute {
		t.Errorf("Merge = %+v", got)
	}
	if got := Merge(&Config{Test: []string{"NONE"}}, img); got.Enabled() || got.Interval != 0 {
		t.Errorf("--no-healthcheck merged into %+v", got)
	}
	if Merge(nil, img) != img || Merge(nil, nil).Enabled() {
		t.Error("Merge with nothing given")
	}
	interval, timeout, start, retries := (&Config{}).Timing()
	if interval != DefaultInterval || timeout != DefaultTimeout || start != DefaultStartInterval || retries != DefaultRetries {
		t.Errorf("defaults: %v %v %v %d", interval, timeout, start, retries)
	}
}

func TestParseOnFailure(t *testing.T) {
	for in, want := range map[string]string{"": ActionNone, "none": ActionNone, "kill": ActionKill, "restart": ActionRestart, "stop": ActionStop} {
		if got, err := ParseOnFailure(in); err != nil || got != want {
			t.Errorf("ParseOnFailure(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseOnFailure("reboot"); err == nil {
		t.Error("reboot accepted")
	}
}
