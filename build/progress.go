package build

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/boxcli/box/dockerfile"
)

// tailSize is how much of a step's output -q keeps, to show if it fails.
const tailSize = 32 << 10

// Progress prints a build as it goes, in buildah's plain form:
//
//	[1/2] STEP 2/5: RUN make
//	...the command's output...
//	--> 1.2s
//	[1/2] STEP 3/5: COPY . /app
//	--> CACHED
//
// With several stages, which may run at once, each line of output says
// its stage. Quiet progress prints nothing but the output of a step that
// fails.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	stages map[*dockerfile.Stage]int // position among the built stages, from 1
	total  int
}

// NewProgress writes to w (the user's stderr); quiet keeps it silent.
func NewProgress(w io.Writer, quiet bool, plan *dockerfile.Plan) *Progress {
	p := &Progress{w: w, quiet: quiet, stages: map[*dockerfile.Stage]int{}, total: len(plan.Stages)}
	for i, st := range plan.Stages {
		p.stages[st] = i + 1
	}
	return p
}

func (p *Progress) printf(format string, args ...any) {
	if p == nil || p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// Printf prints a line of the build's own (the commit, the tags).
func (p *Progress) Printf(format string, args ...any) { p.printf(format, args...) }

func (p *Progress) prefix(st *dockerfile.Stage) string {
	if p.total <= 1 {
		return ""
	}
	return fmt.Sprintf("[%d/%d] ", p.stages[st], p.total)
}

// step says that step i of total in st begins.
func (p *Progress) step(st *dockerfile.Stage, i, total int, text string) {
	p.printf("%sSTEP %d/%d: %s\n", p.prefix(st), i, total, text)
}

// done says how a step ended.
func (p *Progress) done(st *dockerfile.Stage, cached bool, took time.Duration) {
	if cached {
		p.printf("%s--> CACHED\n", p.prefix(st))
		return
	}
	p.printf("%s--> %s\n", p.prefix(st), took.Round(time.Millisecond))
}

// output is where a step's command writes: whole lines, each with the
// stage's name when several stages are built; or, quiet, a tail kept to
// show if the step fails.
func (p *Progress) output(st *dockerfile.Stage) *lineWriter {
	lw := &lineWriter{p: p}
	if p != nil && p.total > 1 {
		lw.prefix = "[" + st.DisplayName() + "] "
	}
	return lw
}

// failed shows a quiet build's failing step's output.
func (p *Progress) failed(lw *lineWriter) {
	if p == nil || !p.quiet || lw.tail.Len() == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(lw.tail.Bytes())
}

// lineWriter passes a command's output on line by line.
type lineWriter struct {
	p      *Progress
	prefix string
	mu     sync.Mutex
	buf    []byte
	tail   bytes.Buffer
}

func (lw *lineWriter) Write(b []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.buf = append(lw.buf, b...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		lw.emit(lw.buf[:i+1])
		lw.buf = lw.buf[i+1:]
	}
	// A long line without an end goes out in pieces.
	if len(lw.buf) > 64<<10 {
		lw.emit(lw.buf)
		lw.buf = nil
	}
	return len(b), nil
}

func (lw *lineWriter) emit(line []byte) {
	if lw.p == nil {
		return
	}
	if lw.p.quiet {
		lw.tail.Write(line)
		if over := lw.tail.Len() - tailSize; over > 0 {
			lw.tail.Next(over)
		}
		return
	}
	lw.p.mu.Lock()
	defer lw.p.mu.Unlock()
	io.WriteString(lw.p.w, lw.prefix)
	lw.p.w.Write(line)
}

// Close passes on what is left of the last line.
func (lw *lineWriter) Close() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.buf) > 0 {
		lw.emit(append(lw.buf, '\n'))
		lw.buf = nil
	}
	return nil
}
