// Package containerlog writes and reads a container's log: one JSON object
// per line, {"log","stream","time"}, Docker's json-file format, so stdout
// and stderr stay apart and every line keeps its time.
//
// A Writer is used by the one process that owns the container's output
// (the stage acting as its monitor); readers may run at any time.
package containerlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Entry is one chunk of output.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Writer appends entries to a log file.
type Writer struct {
	mu  sync.Mutex
	f   *os.File
	now func() time.Time
}

// Create opens path for appending (0600).
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &Writer{f: f, now: time.Now}, nil
}

// Stream returns an io.Writer that logs everything written to it as
// stream ("stdout" or "stderr"), one entry per line.
func (w *Writer) Stream(stream string) io.Writer {
	return &lineWriter{w: w, stream: stream}
}

func (w *Writer) write(stream, line string) error {
	b, err := json.Marshal(Entry{Log: line, Stream: stream, Time: w.now().UTC()})
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.f.Write(append(b, '\n'))
	return err
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// lineWriter cuts a byte stream into lines; a partial line waits for its
// end, so interleaved stdout and stderr stay readable.
type lineWriter struct {
	w       *Writer
	stream  string
	partial []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := indexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if err := l.w.write(l.stream, string(l.partial[:i+1])); err != nil {
			return 0, err
		}
		l.partial = l.partial[i+1:]
	}
	// A runaway line without newline is flushed in pieces.
	if len(l.partial) >= 16<<10 {
		if err := l.w.write(l.stream, string(l.partial)); err != nil {
			return 0, err
		}
		l.partial = l.partial[:0]
	}
	return len(p), nil
}

// Flush writes a trailing partial line, at the end of the stream.
func Flush(w io.Writer) error {
	if l, ok := w.(*lineWriter); ok && len(l.partial) > 0 {
		err := l.w.write(l.stream, string(l.partial))
		l.partial = l.partial[:0]
		return err
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Filter selects entries for box logs.
type Filter struct {
	Since, Until time.Time // zero: no bound
	Tail         int       // <0: all
}

// Read returns the entries of the log at path that pass f.
func Read(path string, f Filter) ([]Entry, int64, error) {
	file, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer file.Close()
	entries, off, err := scan(file, 0, f)
	if err != nil {
		return nil, 0, err
	}
	if f.Tail >= 0 && len(entries) > f.Tail {
		entries = entries[len(entries)-f.Tail:]
	}
	return entries, off, nil
}

// ReadFrom returns the entries after byte offset off and the new offset;
// a trailing line still being written is left for the next call.
func ReadFrom(path string, off int64, f Filter) ([]Entry, int64, error) {
	file, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, off, nil
	}
	if err != nil {
		return nil, off, err
	}
	defer file.Close()
	if _, err := file.Seek(off, io.SeekStart); err != nil {
		return nil, off, err
	}
	return scan(file, off, f)
}

func scan(r io.Reader, off int64, f Filter) ([]Entry, int64, error) {
	br := bufio.NewReader(r)
	var out []Entry
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, off, nil // an unfinished line waits for its end
		}
		if err != nil {
			return out, off, err
		}
		off += int64(len(line))
		var e Entry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		if !f.Since.IsZero() && e.Time.Before(f.Since) || !f.Until.IsZero() && e.Time.After(f.Until) {
			continue
		}
		out = append(out, e)
	}
}
