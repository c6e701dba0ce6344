package events

import (
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestAppendRead(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "events"))
	if evs, off, err := l.ReadFrom(0); err != nil || len(evs) != 0 || off != 0 {
		t.Fatalf("ReadFrom on no file = %v, %d, %v", evs, off, err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := l.Append(Event{Type: "container", Action: "start", ID: strconv.Itoa(i)}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	evs, off, err := l.ReadFrom(0)
	if err != nil || len(evs) != 50 {
		t.Fatalf("ReadFrom = %d events, %v; want 50 whole lines", len(evs), err)
	}
	if evs[0].Time.IsZero() {
		t.Error("Append left Time zero")
	}
	l.Append(Event{Type: "image", Action: "pull", ID: "x"})
	more, _, err := l.ReadFrom(off)
	if err != nil || len(more) != 1 || more[0].Action != "pull" {
		t.Errorf("ReadFrom(off) = %v, %v; want the one new event", more, err)
	}
}
