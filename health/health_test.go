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

func TestTimingFloor(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Config
		want [3]time.Duration
	}{
		{"defaults", Config{}, [3]time.Duration{DefaultInterval, DefaultTimeout, DefaultStartInterval}},
		{"negative is the default", Config{Interval: -1, Timeout: -1, StartInterval: -1}, [3]time.Duration{DefaultInterval, DefaultTimeout, DefaultStartInterval}},
		{"1ns is raised", Config{Interval: 1, Timeout: 1, StartInterval: 1}, [3]time.Duration{MinDuration, MinDuration, MinDuration}},
		{"kept", Config{Interval: 2 * time.Millisecond, Timeout: time.Second, StartInterval: time.Minute}, [3]time.Duration{2 * time.Millisecond, time.Second, time.Minute}},
	} {
		i, to, si, _ := c.in.Timing()
		if got := [3]time.Duration{i, to, si}; got != c.want {
			t.Errorf("%s: Timing() = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMergeImage(t *testing.T) {
	img := &Config{Test: []string{"CMD", "true"}, Interval: 1, Timeout: 500 * time.Millisecond, StartInterval: 2 * time.Second, StartPeriod: 1, Retries: 2}
	got, notes := MergeImage(nil, img)
	want := Config{Test: img.Test, Interval: MinFromImage, Timeout: MinFromImage, StartInterval: 2 * time.Second, StartPeriod: 1, Retries: 2}
	if !slices.Equal(got.Test, want.Test) || got.Interval != want.Interval || got.Timeout != want.Timeout || got.StartInterval != want.StartInterval || got.StartPeriod != want.StartPeriod || got.Retries != want.Retries {
		t.Errorf("MergeImage(nil, %+v) = %+v, want %+v", *img, *got, want)
	}
	if img.Interval != 1 {
		t.Errorf("MergeImage changed the image's config: %+v", *img)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "interval of 1ns is below 1s") || !strings.Contains(notes[0], "--health-interval") || !strings.Contains(notes[1], "timeout of 500ms") {
		t.Errorf("MergeImage notes = %q, want the interval and the timeout named", notes)
	}
	// The user's own flags win, down to MinDuration, and are not noted.
	got, notes = MergeImage(&Config{Interval: 5 * time.Millisecond, Retries: 4}, img)
	if got.Interval != 5*time.Millisecond || got.Timeout != MinFromImage || got.Retries != 4 || len(notes) != 1 || !strings.Contains(notes[0], "timeout") {
		t.Errorf("MergeImage(--health-interval 5ms) = %+v, %q; want the flag's interval, the raised timeout, one note", *got, notes)
	}
	if got, notes := MergeImage(&Config{Test: []string{"NONE"}}, img); got.Enabled() || notes != nil {
		t.Errorf("MergeImage(--no-healthcheck) = %+v, %q; want it off, no notes", *got, notes)
	}
	if got, notes := MergeImage(nil, &Config{Test: []string{"NONE"}, Interval: 1}); got.Interval != 1 || notes != nil {
		t.Errorf("MergeImage of a disabled check = %+v, %q; want it untouched", *got, notes)
	}
	if got, _ := MergeImage(nil, nil); got != nil {
		t.Errorf("MergeImage(nil, nil) = %+v", got)
	}
}
