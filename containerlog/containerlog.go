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

// DefaultMaxSize caps a log file; past it the file becomes PATH.1 (the
// previous PATH.1 goes) and a new one starts, so a chatty container keeps
// at most twice this on disk.
const DefaultMaxSize = 16 << 20

// Writer appends entries to a log file.
type Writer struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
	max  int64
	now  func() time.Time
}

// Create opens path for appending (0600), rotating at max bytes
// (DefaultMaxSize if 0).
func Create(path string, max int64) (*Writer, error) {
	if max <= 0 {
		max = DefaultMaxSize
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &Writer{path: path, f: f, size: fi.Size(), max: max, now: time.Now}, nil
}

// rotate moves the full file aside; called with mu held.
func (w *Writer) rotate() error {
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return err
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	w.f.Close()
	w.f, w.size = f, 0
	return nil
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
	if w.size > 0 && w.size+int64(len(b))+1 > w.max {
		if err := w.rotate(); err != nil {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	n, err := w.f.Write(append(b, '\n'))
	w.size += int64(n)
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

// Read returns the entries of the log at path (after those of its rotated
// predecessor PATH.1) that pass f, and the offset in path to follow from.
func Read(path string, f Filter) ([]Entry, int64, error) {
	old, err := readAll(path+".1", f)
	if err != nil {
		return nil, 0, err
	}
	entries, off, err := readAllOff(path, f)
	if err != nil {
		return nil, 0, err
	}
	entries = append(old, entries...)
	if f.Tail >= 0 && len(entries) > f.Tail {
		entries = entries[len(entries)-f.Tail:]
	}
	return entries, off, nil
}

func readAll(path string, f Filter) ([]Entry, error) {
	entries, _, err := readAllOff(path, f)
	return entries, err
}

func readAllOff(path string, f Filter) ([]Entry, int64, error) {
	file, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer file.Close()
	return scan(file, 0, f)
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
	if fi, err := file.Stat(); err == nil && fi.Size() < off {
		off = 0 // rotated since the last read: follow the new file
	}
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
