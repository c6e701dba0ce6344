package stage

import (
	"testing"
	"time"
)

func TestRestartPolicy(t *testing.T) {
	for _, c := range []struct {
		in               string
		code, restarts   int
		stopped, restart bool
	}{
		{"no", 1, 0, false, false},
		{"always", 0, 100, false, true},
		{"always", 1, 0, true, false}, // a stop is never undone
		{"unless-stopped", 0, 3, false, true},
		{"on-failure", 0, 0, false, false},
		{"on-failure", 1, 1000, false, true},
		{"on-failure:2", 1, 1, false, true},
		{"on-failure:2", 1, 2, false, false},
		{"on-failure:2", 137, 0, true, false},
	} {
		p, err := ParseRestart(c.in)
		if err != nil {
			t.Fatalf("ParseRestart(%q): %v", c.in, err)
		}
		if got := p.again(c.code, c.restarts, c.stopped); got != c.restart {
			t.Errorf("%s after exit %d, %d restarts, stopped %v: again = %v", c.in, c.code, c.restarts, c.stopped, got)
		}
	}
	for _, bad := range []string{"sometimes", "always:3", "on-failure:x", "on-failure:-1"} {
		if _, err := ParseRestart(bad); err == nil {
			t.Errorf("ParseRestart(%q) accepted", bad)
		}
	}
}

func TestBackoff(t *testing.T) {
	var p Restart
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	for i, w := range want {
		if got := p.delay(i); got != w {
			t.Errorf("delay(%d) = %v, want %v", i, got, w)
		}
	}
	if got := p.delay(20); got != time.Minute {
		t.Errorf("delay(20) = %v, want the one-minute cap", got)
	}
	// Short runs keep climbing; a run of ten seconds starts it over.
	if got := backoffAfter(5, 9*time.Second); got != 5 {
		t.Errorf("after a 9 s run: step %d, want 5", got)
	}
	if got := backoffAfter(5, backoffReset); got != 0 {
		t.Errorf("after a 10 s run: step %d, want 0", got)
	}
}
