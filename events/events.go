// Package events keeps box's event log: one JSON object per line, appended
// by every box process (the CLI, the stage, a container's monitor) with
// O_APPEND, so lines from concurrent writers never interleave. It is what
// `box events` reads: a daemon's event stream, without a daemon.
package events

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Event is one thing that happened, with Docker's field names.
type Event struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"Type"`   // container, image
	Action     string            `json:"Action"` // create, start, die, stop, kill, rm, pull, ...
	ID         string            `json:"id"`
	Attributes map[string]string `json:"Attributes,omitempty"` // name, image, exitCode, signal
}

// HealthStatus is the status a health_status event reports, as podman's
// events --format '{{.HealthStatus}}' reads it.
func (e Event) HealthStatus() string { return e.Attributes["health_status"] }

// Log is an event file.
type Log struct{ path string }

// Open names the event file; it need not exist.
func Open(path string) *Log { return &Log{path: path} }

// Path is the file's name.
func (l *Log) Path() string { return l.path }

// Append writes e (its Time set now if zero). A line is written with one
// write(2) on an O_APPEND file, which the kernel keeps whole.
func (l *Log) Append(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open event log: %w", err)
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// ReadFrom returns the events after byte offset off and the offset after
// the last whole line.
func (l *Log) ReadFrom(off int64) ([]Event, int64, error) {
	f, err := os.Open(l.path)
	if os.IsNotExist(err) {
		return nil, off, nil
	}
	if err != nil {
		return nil, off, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, off, err
	}
	var out []Event
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return out, off, nil
		}
		if err != nil {
			return out, off, err
		}
		off += int64(len(line))
		var e Event
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
}
