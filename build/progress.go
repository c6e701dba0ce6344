package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
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
// fails. On a terminal (NewTTYProgress) each step is one line once done,
// and the steps running show the last lines of their output below,
// redrawn in place.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	stages map[*dockerfile.Stage]int // position among the built stages, from 1
	total  int
	tty    *ttyView
}

// NewProgress writes to w (the user's stderr); quiet keeps it silent.
func NewProgress(w io.Writer, quiet bool, plan *dockerfile.Plan) *Progress {
	p := &Progress{w: w, quiet: quiet, stages: map[*dockerfile.Stage]int{}, total: len(plan.Stages)}
	for i, st := range plan.Stages {
		p.stages[st] = i + 1
	}
	return p
}

// NewTTYProgress is progress for a terminal width columns wide.
func NewTTYProgress(w io.Writer, width int, plan *dockerfile.Plan) *Progress {
	p := NewProgress(w, false, plan)
	p.tty = newTTYView(w, width)
	p.tty.mu = &p.mu
	return p
}

// Close stops redrawing and leaves the last steps on screen.
func (p *Progress) Close() {
	if p != nil && p.tty != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.tty.close()
	}
}

func (p *Progress) printf(format string, args ...any) {
	if p == nil || p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty != nil {
		p.tty.permanent(fmt.Sprintf(format, args...))
		return
	}
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
	line := fmt.Sprintf("%sSTEP %d/%d: %s", p.prefix(st), i, total, text)
	if p != nil && p.tty != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.tty.begin(st, line, i == 1)
		return
	}
	p.printf("%s\n", line)
}

// done says how a step ended.
func (p *Progress) done(st *dockerfile.Stage, cached bool, took time.Duration) {
	result := took.Round(time.Millisecond).String()
	if cached {
		result = "CACHED"
	}
	if p != nil && p.tty != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.tty.end(st, result)
		return
	}
	p.printf("%s--> %s\n", p.prefix(st), result)
}

// output is where a step's command writes: whole lines, each with the
// stage's name when several stages are built; or, quiet, a tail kept to
// show if the step fails.
func (p *Progress) output(st *dockerfile.Stage) *lineWriter {
	lw := &lineWriter{p: p, st: st}
	if p != nil && p.total > 1 {
		lw.prefix = "[" + st.DisplayName() + "] "
	}
	return lw
}

// stepFailed leaves a failed step's line on a terminal.
func (p *Progress) stepFailed(st *dockerfile.Stage) {
	if p != nil && p.tty != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.tty.end(st, "ERROR")
	}
}

// failed shows the output of a failing step that was not all shown (a
// quiet build's, a terminal's).
func (p *Progress) failed(lw *lineWriter) {
	if p == nil || (!p.quiet && p.tty == nil) || lw.tail.Len() == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty != nil {
		p.tty.permanent(lw.tail.String())
		return
	}
	p.w.Write(lw.tail.Bytes())
}

// lineWriter passes a command's output on line by line.
type lineWriter struct {
	p      *Progress
	st     *dockerfile.Stage
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
	if lw.p.quiet || lw.p.tty != nil {
		lw.tail.Write(line)
		if over := lw.tail.Len() - tailSize; over > 0 {
			lw.tail.Next(over)
		}
	}
	if lw.p.quiet {
		return
	}
	lw.p.mu.Lock()
	defer lw.p.mu.Unlock()
	if lw.p.tty != nil {
		lw.p.tty.output(lw.st, string(line))
		return
	}
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

// ttyView is the terminal's live view: finished steps as lines that stay,
// and below them, redrawn, the running steps with their last lines of
// output. Its methods run under Progress.mu.
type ttyView struct {
	w      io.Writer
	width  int
	active []*running
	drawn  int // lines of the live part now on screen
	dirty  bool
	stop   chan struct{}
	mu     *sync.Mutex
}

// running is a step that has begun.
type running struct {
	st    *dockerfile.Stage
	line  string
	start time.Time
	tail  []string
}

const ttyTailLines = 5

func newTTYView(w io.Writer, width int) *ttyView {
	if width <= 10 {
		width = 80
	}
	return &ttyView{w: w, width: width}
}

// clear erases the live part.
func (v *ttyView) clear() {
	if v.drawn > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA\r\x1b[J", v.drawn)
		v.drawn = 0
	}
}

// draw writes the live part again.
func (v *ttyView) draw() {
	v.clear()
	for _, r := range v.active {
		fmt.Fprintf(v.w, "%s\n", v.fit(fmt.Sprintf("%s %.1fs", r.line, time.Since(r.start).Seconds())))
		v.drawn++
		for _, l := range r.tail {
			fmt.Fprintf(v.w, "\x1b[2m%s\x1b[0m\n", v.fit("    "+l))
			v.drawn++
		}
	}
	v.dirty = false
}

// fit cuts s to the terminal's width, so no line wraps (a wrapped line
// would throw the redraw off).
func (v *ttyView) fit(s string) string {
	r := []rune(s)
	if len(r) >= v.width {
		return string(r[:v.width-1])
	}
	return s
}

// permanent prints text above the live part.
func (v *ttyView) permanent(text string) {
	v.clear()
	io.WriteString(v.w, text)
	v.draw()
}

func (v *ttyView) find(st *dockerfile.Stage) int {
	for i, r := range v.active {
		if r.st == st {
			return i
		}
	}
	return -1
}

// begin shows a step that begins; first: a FROM, done at once.
func (v *ttyView) begin(st *dockerfile.Stage, line string, first bool) {
	if first {
		v.permanent(v.fit(line) + "\n")
		return
	}
	v.active = append(v.active, &running{st: st, line: line, start: time.Now()})
	v.draw()
	v.ticking()
}

// end replaces a running step by its line, with how it ended.
func (v *ttyView) end(st *dockerfile.Stage, result string) {
	i := v.find(st)
	if i < 0 {
		return
	}
	r := v.active[i]
	v.active = append(v.active[:i], v.active[i+1:]...)
	v.permanent(v.fit(r.line+" "+result) + "\n")
}

// output adds a line to a running step's tail.
func (v *ttyView) output(st *dockerfile.Stage, line string) {
	i := v.find(st)
	if i < 0 {
		return
	}
	r := v.active[i]
	r.tail = append(r.tail, strings.TrimRight(line, "\r\n"))
	if len(r.tail) > ttyTailLines {
		r.tail = r.tail[len(r.tail)-ttyTailLines:]
	}
	v.dirty = true
}

// ticking redraws the live part ten times a second (the clocks move,
// output comes) while steps run.
func (v *ttyView) ticking() {
	if v.stop != nil {
		return
	}
	v.stop = make(chan struct{})
	stop := v.stop
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				v.mu.Lock()
				if len(v.active) > 0 {
					v.draw()
				}
				v.mu.Unlock()
			}
		}
	}()
}

func (v *ttyView) close() {
	if v.stop != nil {
		close(v.stop)
		v.stop = nil
	}
	v.clear()
	v.active = nil
}
