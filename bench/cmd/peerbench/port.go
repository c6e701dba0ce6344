package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// netReport is what netbench -json writes (bench/cmd/netbench Report).
type netReport struct {
	Columns []string `json:"columns"`
	Rows    []struct {
		Title    string      `json:"title"`
		Note     string      `json:"note"`
		SamePath bool        `json:"samePath"`
		MBps     []float64   `json:"mbps"`
		Rates    [][]float64 `json:"rates"`
	} `json:"rows"`
	Runs     int    `json:"runs"`
	Duration string `json:"duration"`
}

// port runs netbench (TCP throughput through a published port; its own
// containers and store) and folds its table in: each direction is a
// metric, each column a variant, each timed transfer a sample.
func (s *suite) port(ctx context.Context) (*benchmark, error) {
	if s.opt.netbench == "" || s.opt.tcpbench == "" {
		return nil, errors.New("no -netbench or -tcpbench binary")
	}
	dir := filepath.Join(s.work, "netbench")
	var env []string
	if s.podman != nil {
		var err error
		// Its podman runs with --root and --runroot of its own; this
		// gives it runc, cgroupfs, file events, a runtime directory
		// (whose pause process the cleanup ends) and no docker.io.
		if env, err = s.podmanEnv(dir); err != nil {
			return nil, err
		}
	} else {
		env = os.Environ()
	}
	out := filepath.Join(s.work, "netbench.json")
	args := []string{"-box", s.opt.box, "-tcpbench", s.opt.tcpbench,
		"-duration", s.opt.netDuration.String(), "-runs", strconv.Itoa(s.opt.netRuns), "-json", out}
	logf("== published-port throughput: netbench %v", args)
	cmd := exec.CommandContext(ctx, s.opt.netbench, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// netbench cleans up after itself on SIGTERM.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 3 * time.Minute
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("netbench: %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var nr netReport
	if err := json.Unmarshal(data, &nr); err != nil {
		return nil, fmt.Errorf("netbench's JSON: %w", err)
	}
	if len(nr.Columns) == 0 || len(nr.Rows) == 0 {
		return nil, fmt.Errorf("netbench's JSON has no table: %s", data)
	}
	b := &benchmark{
		id: "port", title: "published-port TCP throughput (netbench)",
		ref: nr.Columns[0], reps: nr.Runs, took: time.Since(start),
	}
	for i, c := range nr.Columns {
		v := &variant{name: c, samples: map[string][]float64{}}
		for j, r := range nr.Rows {
			key := "row" + strconv.Itoa(j)
			if i == 0 {
				title := r.Title + " (" + r.Note + ")"
				if r.SamePath {
					title += " [same slirp4netns path in every column: noise]"
				}
				b.metrics = append(b.metrics, metric{key: key, title: title, unit: "MB/s", higherBetter: true})
			}
			if i < len(r.Rates) {
				v.samples[key] = r.Rates[i]
			}
		}
		b.variants = append(b.variants, v)
	}
	b.notes = append(b.notes,
		fmt.Sprintf("netbench: after a 64 MiB probe sizes them, %d timed transfers of about %s per cell; every receiver confirms the byte count; MB/s = 10^6 bytes/s", nr.Runs, nr.Duration),
		"box (rootlesskit) is box's default -p (rootlesskit's builtin port driver in box's monitor); slirp4netns hostfwd is box with --network slirp4netns:port_handler=slirp4netns, i.e. slirp4netns's own port forwarding; podman uses slirp4netns with rootlessport",
		"p90 for a rate is its slow tail (the 10th percentile of the rates)")
	return b, nil
}
