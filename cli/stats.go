package cli

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/network"
)

type statsCmd struct {
	All        bool     `short:"a" help:"Show all containers (default: running only)."`
	NoStream   bool     `name:"no-stream" help:"Print one reading and exit."`
	NoTrunc    bool     `name:"no-trunc" help:"Do not shorten IDs."`
	Format     string   `help:"Format: table, json, or a Go template such as '{{.Name}} {{.CPUPerc}}'."`
	Interval   int      `short:"i" default:"1" help:"Seconds between readings when streaming."`
	Containers []string `arg:"" optional:"" help:"Containers to show (default: all running)."`
}

// statsRow is one container's reading; the string fields and their names
// are Docker's, so --format templates and JSON readers keep working. The
// numeric ones are box's, for scripts that would rather not parse "MiB".
type statsRow struct {
	Container string
	ID        string
	Name      string
	CPUPerc   string
	MemUsage  string
	MemPerc   string
	NetIO     string
	BlockIO   string
	PIDs      string

	CPUNanos        int64
	MemBytes        int64
	MemLimitBytes   int64
	NetRxBytes      int64
	NetTxBytes      int64
	BlockReadBytes  int64
	BlockWriteBytes int64
}

// sample is a container's CPU time at a moment, for the next reading's
// CPU %.
type sample struct {
	cpu time.Duration
	at  time.Time
}

func (c *statsCmd) Run(e *env) error {
	_, records, err := openRecords()
	if err != nil {
		return err
	}
	if c.Interval < 1 {
		return fmt.Errorf("invalid --interval %d: want at least 1 second", c.Interval)
	}
	// Named containers must exist now; later, one removed drops out.
	for _, ref := range c.Containers {
		if _, err := records.Get(ref); err != nil {
			return err
		}
	}
	tty := false
	if f, ok := e.stdout.(*os.File); ok && !c.NoStream {
		tty = term.IsTerminal(int(f.Fd()))
	}
	memTotal := hostMemory()
	prev := map[string]sample{}
	for {
		cts, err := c.containers(records)
		if err != nil {
			return err
		}
		if len(c.Containers) > 0 && len(cts) == 0 {
			return nil // all it was asked to show are gone
		}
		now := time.Now()
		rows := make([]statsRow, 0, len(cts))
		for _, ct := range cts {
			r, s := c.reading(ct, now, prev[ct.Config.ID], memTotal)
			prev[ct.Config.ID] = s
			rows = append(rows, r)
		}
		var buf bytes.Buffer
		out := &env{stdout: &buf, stderr: e.stderr}
		if err := printRows(out, c.Format, rows, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS", func(r statsRow) []string {
			return []string{r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs}
		}); err != nil {
			return err
		}
		if tty {
			// Home and clear, then the table, so the screen updates in place.
			fmt.Fprint(e.stdout, "\033[H\033[2J")
		}
		if _, err := e.stdout.Write(buf.Bytes()); err != nil {
			return err
		}
		if c.NoStream {
			return nil
		}
		time.Sleep(time.Duration(c.Interval) * time.Second)
	}
}

// containers are those to show in this reading: the named ones still
// there, or every running one (every one with -a).
func (c *statsCmd) containers(records *container.Store) ([]*container.Container, error) {
	if len(c.Containers) == 0 {
		list, err := records.List()
		if err != nil {
			return nil, err
		}
		var out []*container.Container
		for _, ct := range list {
			if c.All || ct.State.Status == container.Running {
				out = append(out, ct)
			}
		}
		return out, nil
	}
	var out []*container.Container
	for _, ref := range c.Containers {
		if ct, err := records.Get(ref); err == nil {
			out = append(out, ct)
		}
	}
	return out, nil
}

// reading is one container's row. CPU % is the share of one CPU used since
// the last reading, or since the container started for the first one (so
// --no-stream answers at once); 100% is one CPU busy, as in Docker.
func (c *statsCmd) reading(ct *container.Container, now time.Time, last sample, memTotal int64) (statsRow, sample) {
	id := ct.Config.ID
	if !c.NoTrunc {
		id = id[:12]
	}
	r := statsRow{Container: ct.Config.Name, ID: id, Name: ct.Config.Name,
		CPUPerc: "--", MemUsage: "-- / --", MemPerc: "--", NetIO: "-- / --", BlockIO: "-- / --", PIDs: "--"}
	if ct.State.Status != container.Running {
		r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs = "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"
		return r, sample{}
	}
	if init, err := container.InitPid(ct.State); err == nil {
		if n, err := network.CountersOf(init); err == nil {
			r.NetRxBytes, r.NetTxBytes = n.RX, n.TX
			r.NetIO = decimal(n.RX) + " / " + decimal(n.TX)
		}
	}
	if ct.State.Cgroup == "" {
		return r, sample{} // run without a cgroup: nothing measured it
	}
	u, err := cgdelegate.Group{Dir: ct.State.Cgroup}.Usage()
	if err != nil {
		return r, sample{}
	}
	s := sample{cpu: u.CPU, at: now}
	base := sample{at: ct.State.StartedAt}
	if !last.at.IsZero() {
		base = last
	}
	if wall := now.Sub(base.at); wall > 0 {
		r.CPUPerc = fmt.Sprintf("%.2f%%", float64(u.CPU-base.cpu)/float64(wall)*100)
	}
	r.CPUNanos = u.CPU.Nanoseconds()
	r.PIDs = strconv.FormatInt(u.Pids, 10)
	if u.HasMemory {
		limit := u.MemoryLimit
		if limit == 0 || (memTotal > 0 && limit > memTotal) {
			limit = memTotal
		}
		r.MemBytes, r.MemLimitBytes = u.Memory, limit
		r.MemUsage = units.BytesSize(float64(u.Memory)) + " / " + units.BytesSize(float64(limit))
		if limit > 0 {
			r.MemPerc = fmt.Sprintf("%.2f%%", float64(u.Memory)/float64(limit)*100)
		}
	}
	if u.HasIO {
		r.BlockReadBytes, r.BlockWriteBytes = u.IORead, u.IOWrite
		r.BlockIO = decimal(u.IORead) + " / " + decimal(u.IOWrite)
	}
	return r, s
}

// decimal is Docker's size for I/O: decimal units, three digits.
func decimal(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// hostMemory is MemTotal, the limit Docker shows for a container without
// one; 0 if it cannot be read.
func hostMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n * 1024
				}
			}
		}
	}
	return 0
}
