package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// machine describes where the numbers come from.
type machine struct {
	Date       string      `json:"date"`
	CPU        string      `json:"cpu"`
	Cores      int         `json:"cores"`
	Memory     string      `json:"memory"`
	Kernel     string      `json:"kernel"`
	OS         string      `json:"os"`
	Cgroups    string      `json:"cgroups"`
	Storage    string      `json:"storage"`
	Tools      [][2]string `json:"tools"`
	busyBefore float64
	busyAfter  float64
	loadBefore string
	loadAfter  string
	took       time.Duration
}

func (m *machine) describe(ctx context.Context, s *suite) {
	m.Date = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	m.Cores = runtime.NumCPU()
	m.CPU = cpuinfo("model name")
	if m.CPU == "" {
		m.CPU = "?"
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				fmt.Sscan(strings.TrimPrefix(l, "MemTotal:"), &kb)
			}
		}
		m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.OS = osRelease()
	if v, err := os.ReadFile("/etc/debian_version"); err == nil {
		m.OS += " (debian_version " + strings.TrimSpace(string(v)) + ")"
	}
	first := func(t *tool, args ...string) string {
		if t == nil {
			return "not installed"
		}
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cmd := t.command(ctx, args...)
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		line := lines[0]
		for _, l := range lines { // fuse-overlayfs: its own line, not fusermount3's
			if strings.Contains(l, t.name) {
				line = l
				break
			}
		}
		if err != nil && line == "" {
			return "error: " + err.Error()
		}
		return line
	}
	host := func(bin string) *tool {
		p, err := exec.LookPath(bin)
		if err != nil {
			return nil
		}
		return &tool{name: bin, bin: p, env: os.Environ()}
	}
	m.Tools = [][2]string{
		{"box", first(s.box, "version") + " (" + runtime.Version() + ")"},
		{"podman", first(s.podman, "--version")},
		{"runc", first(host("runc"), "--version")},
		{"conmon", first(host("conmon"), "--version")},
		{"bwrap", first(host("bwrap"), "--version")},
		{"skopeo", first(host("skopeo"), "--version")},
		{"slirp4netns", first(host("slirp4netns"), "--version")},
		{"fuse-overlayfs", first(host("fuse-overlayfs"), "--version")},
		{"docker-registry", first(host("docker-registry"), "--version")},
		{"tar", first(host("tar"), "--version")},
		{"unshare", first(host("unshare"), "--version")},
	}
	m.Cgroups = "box: " + first(s.box, "info", "--format", "{{.Host.CgroupsVersion}} {{.Host.CgroupManager}}")
	m.Storage = "box: " + first(s.box, "info", "--format", "{{.Store.GraphDriverName}}")
	if s.boxFuse != nil {
		m.Storage += ", fuse-overlayfs for the io benchmark's second store"
	}
	if s.podman != nil {
		m.Cgroups += "; podman: " + first(s.podman, "info", "--format", "{{.Host.CgroupsVersion}} {{.Host.CgroupManager}} (runtime {{.Host.OCIRuntime.Name}}, events {{.Host.EventLogger}})")
		m.Storage += "; podman: " + first(s.podman, "info", "--format", "{{.Store.GraphDriverName}}{{range $k, $v := .Store.GraphOptions}} {{$k}}={{$v}}{{end}}")
	}
	m.Storage += "; all on the filesystem of " + s.work + " (" + fsType(s.work) + ")"
}

func cpuinfo(key string) string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func osRelease() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "?"
}

func fsType(dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "?"
	}
	best, typ, src := "", "?", ""
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		i := strings.Index(l, " - ")
		if len(f) < 5 || i < 0 {
			continue
		}
		mp := f[4]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			rest := strings.Fields(l[i+3:])
			if len(rest) >= 2 {
				best, typ, src = mp, rest[0], rest[1]
			}
		}
	}
	return typ + " on " + src
}

// jsonResult is one cell of the table.
type jsonResult struct {
	Metric       string    `json:"metric"`
	Title        string    `json:"title"`
	Unit         string    `json:"unit"`
	HigherBetter bool      `json:"higherBetter"`
	Tool         string    `json:"tool"`
	N            int       `json:"n"`
	Median       float64   `json:"median,omitempty"`
	P90          float64   `json:"p90,omitempty"` // the slow tail: p10 of a rate
	Ratio        float64   `json:"ratio,omitempty"`
	Samples      []float64 `json:"samples,omitempty"`
	Error        string    `json:"error,omitempty"`
}

type jsonBench struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Reps        int               `json:"reps"`
	Warmup      int               `json:"warmup"`
	TookSeconds float64           `json:"tookSeconds"`
	Ref         string            `json:"ref"`
	Commands    map[string]string `json:"commands,omitempty"`
	Results     []jsonResult      `json:"results"`
	Notes       []string          `json:"notes,omitempty"`
	Skipped     []string          `json:"skipped,omitempty"`
	Error       string            `json:"error,omitempty"`
}

type goal struct {
	Goal   string  `json:"goal"`
	Value  float64 `json:"value"`
	Target string  `json:"target"`
	Pass   bool    `json:"pass"`
	What   string  `json:"what"`
	Known  bool    `json:"known"`
}

type jsonReport struct {
	Machine    machine     `json:"machine"`
	Load       string      `json:"load"`
	Benchmarks []jsonBench `json:"benchmarks"`
	Goals      []goal      `json:"goals"`
	Ratio      string      `json:"ratio"`
}

const ratioDoc = "ratio: other/box for times and sizes, box/other for rates: above 1 means box did better"

func (s *suite) report() error {
	rep := jsonReport{Machine: s.machine, Ratio: ratioDoc, Load: s.loadLine()}
	for _, b := range s.benches {
		jb := jsonBench{ID: b.id, Title: b.title, Reps: b.reps, Warmup: b.warmup, TookSeconds: b.took.Seconds(),
			Ref: b.ref, Notes: b.notes, Skipped: b.skipped, Commands: map[string]string{}}
		if b.err != nil {
			jb.Error = b.err.Error()
		}
		ref := b.variant(b.ref)
		for _, m := range b.metrics {
			var refStat stat
			var refOK bool
			if ref != nil && ref.err == nil {
				refStat, refOK = statOf(ref.samples[m.key], m.higherBetter)
			}
			for _, v := range b.variants {
				r := jsonResult{Metric: m.key, Title: m.title, Unit: m.unit, HigherBetter: m.higherBetter, Tool: v.name, Samples: v.samples[m.key]}
				if v.err != nil {
					r.Error = v.err.Error()
				} else if st, ok := statOf(v.samples[m.key], m.higherBetter); ok {
					r.N, r.Median, r.P90 = st.n, st.median, st.p90
					if refOK && st.median > 0 && refStat.median > 0 {
						r.Ratio = ratio(m, refStat.median, st.median)
					}
				}
				jb.Results = append(jb.Results, r)
			}
		}
		for _, v := range b.variants {
			if v.cmd != "" {
				jb.Commands[v.name] = v.cmd
			}
		}
		rep.Benchmarks = append(rep.Benchmarks, jb)
	}
	rep.Goals = goals(rep.Benchmarks)
	md := markdown(&rep)
	fmt.Print(md)
	if s.opt.mdOut != "" {
		if err := os.WriteFile(s.opt.mdOut, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if s.opt.jsonOut != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(s.opt.jsonOut, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (s *suite) loadLine() string {
	m := s.machine
	return fmt.Sprintf("other load: %.1f of %d CPUs busy in the 2 s before the suite, %.1f in the 2 s after it; load average %s before, %s after; the suite took %v",
		m.busyBefore, m.Cores, m.busyAfter, m.loadBefore, m.loadAfter, m.took.Round(time.Second))
}

func find(bs []jsonBench, id, metric, tool string) (jsonResult, bool) {
	for _, b := range bs {
		if b.ID != id {
			continue
		}
		for _, r := range b.Results {
			if r.Metric == metric && r.Tool == tool && r.N > 0 {
				return r, true
			}
		}
	}
	return jsonResult{}, false
}

// goals are issue #9's (and #20's, for build), each from medians.
func goals(bs []jsonBench) []goal {
	var out []goal
	// atLeast: other/box (or box/other for a rate) must be ≥ want.
	cmp := func(name, id, metric, other, what string, want float64, invert bool) {
		g := goal{Goal: name, What: what}
		b, ok1 := find(bs, id, metric, "box")
		if id == "io" || id == "port" {
			b, ok1 = find(bs, id, metric, refOf(bs, id))
		}
		o, ok2 := find(bs, id, metric, other)
		if ok1 && ok2 && b.Median > 0 && o.Median > 0 {
			g.Known = true
			x := ratio(metric2(b), b.Median, o.Median)
			if invert {
				x = 1 / x
				g.Target = fmt.Sprintf("≤ %.3g", want)
				g.Pass = x <= want
			} else {
				g.Target = fmt.Sprintf("≥ %.3g", want)
				g.Pass = x >= want
			}
			g.Value = x
		}
		out = append(out, g)
	}
	cmp("warm run --network none ≤ 1/8 of podman's time", "run-none", "time", "podman", "podman/box", 8, false)
	cmp("warm run --network none ≤ 3× bwrap's time", "run-none", "time", "bwrap", "box/bwrap", 3, true)
	cmp("default networking ≤ 1/4 of podman's time", "run-net", "time", "podman", "podman/box", 4, false)
	cmp("pull+unpack ≤ 0.8× podman's time", "pull", "time", "podman", "podman/box", 1.25, false)
	cmp("pull+unpack ≥ 70% of tar -x throughput", "pull", "rate", "tar -x (local file)", "box/tar throughput", 0.7, false)
	for _, m := range []string{"files", "write", "read"} {
		cmp("overlay file I/O ≥ 90% of host ("+m+")", "io", m, "host", "host time/box(overlay) time", 0.9, false)
	}
	for _, b := range bs {
		if b.ID != "port" {
			continue
		}
		seen := map[string]bool{}
		for _, r := range b.Results {
			if seen[r.Metric] || strings.Contains(r.Title, "same slirp4netns path") {
				continue
			}
			seen[r.Metric] = true
			cmp("published-port throughput ≥ 2× slirp4netns hostfwd: "+r.Title, "port", r.Metric, "slirp4netns hostfwd", "box/slirp4netns MB/s", 2, false)
		}
	}
	cmp("idle monitor RSS ≤ 2× conmon's", "detached", "monRSS", "podman", "box/conmon RSS", 2, true)
	cmp("50 parallel runs ≤ 1/3 of podman's wall time", "parallel", "time", "podman", "podman/box", 3, false)
	// Issue #20's.
	cmp("cold build ≤ 0.7× podman build's time", "build", "cold", "podman", "podman/box", 1/0.7, false)
	cmp("unchanged rebuild ≤ 0.25× podman build's time", "build", "cached", "podman", "podman/box", 4, false)
	cmp("one-file rebuild ≤ 0.5× podman build's time", "build", "onefile", "podman", "podman/box", 2, false)
	return out
}

func refOf(bs []jsonBench, id string) string {
	for _, b := range bs {
		if b.ID == id {
			return b.Ref
		}
	}
	return "box"
}

func metric2(r jsonResult) metric {
	return metric{key: r.Metric, unit: r.Unit, higherBetter: r.HigherBetter}
}

func markdown(rep *jsonReport) string {
	var w strings.Builder
	m := rep.Machine
	fmt.Fprintf(&w, "### Machine\n\n")
	fmt.Fprintf(&w, "- date: %s\n- CPU: %s, %d cores; memory %s\n- kernel: %s; OS: %s\n- cgroups: %s\n- storage: %s\n- %s\n",
		m.Date, m.CPU, m.Cores, m.Memory, m.Kernel, m.OS, m.Cgroups, m.Storage, rep.Load)
	fmt.Fprintf(&w, "- versions:")
	for i, t := range m.Tools {
		sep := ";"
		if i == len(m.Tools)-1 {
			sep = ""
		}
		fmt.Fprintf(&w, " %s `%s`%s", t[0], t[1], sep)
	}
	fmt.Fprintf(&w, "\n\n### Results\n\nMedian and p90 (the slow tail: for a rate, its 10th percentile) of n counted repetitions; %s.\n\n", ratioDoc)
	fmt.Fprintf(&w, "| benchmark | tool | median | p90 | ratio | n |\n|---|---|--:|--:|--:|--:|\n")
	for _, b := range rep.Benchmarks {
		if b.Error != "" {
			fmt.Fprintf(&w, "| %s | | | | | could not run: %s |\n", esc(b.Title), esc(b.Error))
			continue
		}
		last := ""
		for _, r := range b.Results {
			name := b.Title
			if len(metricsOf(b)) > 1 {
				name += ": " + r.Title
			}
			if name == last {
				name = "〃"
			} else {
				last = name
			}
			if r.Error != "" {
				fmt.Fprintf(&w, "| %s | %s | failed | | | %s |\n", esc(name), esc(r.Tool), esc(short(r.Error, 160)))
				continue
			}
			if r.N == 0 {
				fmt.Fprintf(&w, "| %s | %s | – | | | 0 |\n", esc(name), esc(r.Tool))
				continue
			}
			rs := "–"
			if r.Ratio > 0 {
				rs = fmt.Sprintf("%.2f", r.Ratio)
			}
			if r.Tool == b.Ref {
				rs = "1 (ref)"
			}
			fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %d |\n", esc(name), esc(r.Tool), format(r.Median, r.Unit), format(r.P90, r.Unit), rs, r.N)
		}
	}
	fmt.Fprintf(&w, "\n### Goals (issues #9 and #20), from the medians\n\n")
	for _, g := range rep.Goals {
		switch {
		case !g.Known:
			fmt.Fprintf(&w, "- n/a  %s: not measured\n", g.Goal)
		case g.Pass:
			fmt.Fprintf(&w, "- PASS %s: %s = %.2f (goal %s)\n", g.Goal, g.What, g.Value, g.Target)
		default:
			fmt.Fprintf(&w, "- FAIL %s: %s = %.2f (goal %s)\n", g.Goal, g.What, g.Value, g.Target)
		}
	}
	fmt.Fprintf(&w, "\n### Commands and notes\n")
	for _, b := range rep.Benchmarks {
		fmt.Fprintf(&w, "\n**%s** (%d reps after %d warm-up, round-robin; %s)\n\n", esc(b.Title), b.Reps, b.Warmup, (time.Duration(b.TookSeconds) * time.Second).Round(time.Second))
		for _, r := range b.Results {
			if c, ok := b.Commands[r.Tool]; ok {
				fmt.Fprintf(&w, "- %s: `%s`\n", r.Tool, c)
				delete(b.Commands, r.Tool)
			}
		}
		for _, n := range b.Notes {
			fmt.Fprintf(&w, "- %s\n", n)
		}
		for _, n := range b.Skipped {
			fmt.Fprintf(&w, "- not run: %s\n", n)
		}
		failed := map[string]bool{}
		for _, r := range b.Results {
			if r.Error != "" && !failed[r.Tool] {
				failed[r.Tool] = true
				fmt.Fprintf(&w, "- %s failed: %s\n", r.Tool, r.Error)
			}
		}
	}
	return w.String()
}

func metricsOf(b jsonBench) []string {
	var out []string
	for _, r := range b.Results {
		if len(out) == 0 || out[len(out)-1] != r.Metric {
			out = append(out, r.Metric)
		}
	}
	return out
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
