package containerlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	w, err := Create(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	w.now = func() time.Time { tick++; return base.Add(time.Duration(tick) * time.Second) }
	out, errw := w.Stream("stdout"), w.Stream("stderr")
	out.Write([]byte("one\ntw"))
	errw.Write([]byte("oops\n"))
	out.Write([]byte("o\nthree"))
	Flush(out)
	w.Close()

	all, off, err := Read(p, Filter{Tail: -1})
	if err != nil || len(all) != 4 {
		t.Fatalf("Read = %v, %v", all, err)
	}
	want := []Entry{{"one\n", "stdout", time.Time{}}, {"oops\n", "stderr", time.Time{}}, {"two\n", "stdout", time.Time{}}, {"three", "stdout", time.Time{}}}
	for i, e := range all {
		if e.Log != want[i].Log || e.Stream != want[i].Stream {
			t.Errorf("entry %d = %q/%s, want %q/%s", i, e.Log, e.Stream, want[i].Log, want[i].Stream)
		}
	}
	if tail, _, _ := Read(p, Filter{Tail: 1}); len(tail) != 1 || tail[0].Log != "three" {
		t.Errorf("Tail 1 = %v", tail)
	}
	if since, _, _ := Read(p, Filter{Tail: -1, Since: base.Add(3 * time.Second)}); len(since) != 2 {
		t.Errorf("Since = %v, want the last 2", since)
	}
	if until, _, _ := Read(p, Filter{Tail: -1, Until: base.Add(2 * time.Second)}); len(until) != 2 {
		t.Errorf("Until = %v, want the first 2", until)
	}
	if more, off2, _ := ReadFrom(p, off, Filter{Tail: -1}); len(more) != 0 || off2 != off {
		t.Errorf("ReadFrom(end) = %v, %d; want nothing", more, off2)
	}
}

func TestRotate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	w, err := Create(p, 200)
	if err != nil {
		t.Fatal(err)
	}
	out := w.Stream("stdout")
	for i := 0; i < 20; i++ {
		out.Write([]byte("a line of output\n"))
	}
	w.Close()
	all, _, err := Read(p, Filter{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Two files of at most 200 bytes each hold the newest lines only.
	if len(all) == 0 || len(all) >= 20 {
		t.Errorf("after rotation Read gives %d entries, want some but fewer than 20", len(all))
	}
	for _, f := range []string{p, p + ".1"} {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 200 {
			t.Errorf("%s: %v, size over the cap", f, err)
		}
	}
}
