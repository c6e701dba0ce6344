package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tool is a command line program the suite runs: box, podman, bwrap, ...
type tool struct {
	name   string
	bin    string
	global []string // before the command: podman's --runtime, box's --storage-driver
	env    []string
}

// with returns a copy of t with more global flags.
func (t *tool) with(global ...string) *tool {
	c := *t
	c.global = append(slices.Clone(t.global), global...)
	return &c
}

// command is t's command; ending ctx sends it SIGTERM (box and podman
// then stop what they started, where SIGKILL could leave a container
// half made).
func (t *tool) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, t.bin, append(slices.Clone(t.global), args...)...)
	cmd.Env = t.env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	return cmd
}

// output runs a command and returns its stdout; an error carries stderr.
func (t *tool) output(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := t.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %v: %s", t.line(args...), err, lastLines(stderr.String(), 5))
	}
	return stdout.Bytes(), nil
}

// timed runs a command with its stdout on /dev/null and returns how long
// it took, from fork to the end of wait; the same for every tool.
func (t *tool) timed(ctx context.Context, args ...string) (float64, error) {
	var stderr bytes.Buffer
	cmd := t.command(ctx, args...)
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: %v: %s", t.line(args...), err, lastLines(stderr.String(), 5))
	}
	return took.Seconds(), nil
}

// line is a command as the report shows it.
func (t *tool) line(args ...string) string {
	return strings.Join(append(append([]string{t.name}, t.global...), args...), " ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// metric is one number a benchmark measures per sample.
type metric struct {
	key   string
	title string
	unit  string // "s", "MB/s", "MiB"
	// higherBetter: a rate, not a time or a size. Ratios are always
	// oriented so that >1 means box did better.
	higherBetter bool
}

// variant is one tool's way of doing a benchmark: a column.
type variant struct {
	name string
	cmd  string // the command line, for the report
	// measure takes one sample. It may do untimed work (cleanup) too:
	// only what it returns counts.
	measure func(ctx context.Context, rep int) (map[string]float64, error)
	err     error
	samples map[string][]float64
}

// benchmark is one comparison: every variant runs the same workload,
// round-robin, warmup+reps times.
type benchmark struct {
	id       string
	title    string
	metrics  []metric
	variants []*variant
	ref      string // the variant ratios are taken against (box)
	reps     int
	warmup   int
	notes    []string
	skipped  []string // tools left out, and why
	err      error    // the benchmark could not run at all
	took     time.Duration
}

func (b *benchmark) variant(name string) *variant {
	for _, v := range b.variants {
		if v.name == name {
			return v
		}
	}
	return nil
}

// run takes warmup+reps samples of every variant. Repetition r starts
// with variant r mod n, so no tool always goes first (or right after
// the same other tool). A variant that fails is dropped from the rest of
// the run and reported; the others go on.
func (b *benchmark) run(ctx context.Context, log func(string, ...any)) {
	start := time.Now()
	defer func() { b.took = time.Since(start) }()
	for _, v := range b.variants {
		v.samples = map[string][]float64{}
	}
	n := len(b.variants)
	var keys []string
	for _, m := range b.metrics {
		keys = append(keys, m.title)
	}
	log("== %s: %d variants, %d warm-up + %d reps; each sample: %s", b.title, n, b.warmup, b.reps, strings.Join(keys, " / "))
	for r := range b.warmup + b.reps {
		var line []string
		for k := range n {
			v := b.variants[(k+r)%n]
			if v.err != nil {
				continue
			}
			vals, err := v.measure(ctx, r)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				v.err = fmt.Errorf("rep %d: %w", r, err)
				log("   %s: FAILED: %v", v.name, v.err)
				continue
			}
			if r >= b.warmup {
				for key, x := range vals {
					v.samples[key] = append(v.samples[key], x)
				}
			}
			var parts []string
			for _, m := range b.metrics {
				if x, ok := vals[m.key]; ok {
					parts = append(parts, format(x, m.unit))
				}
			}
			line = append(line, v.name+" "+strings.Join(parts, "/"))
		}
		tag := fmt.Sprintf("rep %d", r-b.warmup+1)
		if r < b.warmup {
			tag = fmt.Sprintf("warm-up %d", r+1)
		}
		log("   %-10s %s", tag, strings.Join(line, ", "))
	}
}

// stat is a metric of one variant.
type stat struct {
	n      int
	median float64
	p90    float64 // the slow tail: 90th percentile of a time, 10th of a rate
}

func statOf(xs []float64, higherBetter bool) (stat, bool) {
	if len(xs) == 0 {
		return stat{}, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	st := stat{n: len(s), median: quantile(s, 0.5)}
	if higherBetter {
		st.p90 = quantile(s, 0.1)
	} else {
		st.p90 = quantile(s, 0.9)
	}
	return st, true
}

// quantile of sorted s, linear between the closest ranks (the median of
// an even count is the mean of the middle two).
func quantile(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// ratio of other to ref, oriented so that >1 means ref (box) did better:
// other/box for times and sizes, box/other for rates.
func ratio(m metric, ref, other float64) float64 {
	if m.higherBetter {
		return ref / other
	}
	return other / ref
}

func format(x float64, unit string) string {
	switch unit {
	case "s":
		if x < 10 {
			return fmt.Sprintf("%.1f ms", x*1000)
		}
		return fmt.Sprintf("%.2f s", x)
	case "MB/s":
		return fmt.Sprintf("%.0f MB/s", x)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", x)
	}
	return fmt.Sprintf("%.3g %s", x, unit)
}

// logf writes progress to stderr, so stdout stays the report.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
