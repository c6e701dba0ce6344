package cgdelegate

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Usage is what a container's cgroup has used so far, from its interface
// files. A controller the cgroup does not get leaves its part unknown: the
// Has fields say which parts were read.
type Usage struct {
	// CPU is the CPU time of all its processes (cpu.stat usage_usec, which
	// every cgroup v2 has, with or without the cpu controller).
	CPU time.Duration
	// Memory is memory.current less the inactive file cache, as Docker
	// counts it: pages the kernel would drop before it ran out.
	Memory      int64
	MemoryLimit int64 // memory.max; 0: none
	HasMemory   bool
	// Pids are the tasks (pids.current, else cgroup.threads counted).
	Pids      int64
	PidsLimit int64 // pids.max; 0: none
	// IORead and IOWrite are bytes, all devices (io.stat).
	IORead, IOWrite int64
	HasIO           bool
	// Throttled is the time cpu.max held it back (cpu.stat throttled_usec).
	Throttled time.Duration
}

// Usage reads the container's cgroup. The only error is a cgroup that is
// gone (the container stopped meanwhile).
func (g Group) Usage() (Usage, error) {
	var u Usage
	dir := g.Container()
	cpu, err := readFlat(dir, "cpu.stat")
	if err != nil {
		return u, fmt.Errorf("read the container's cgroup: %w", err)
	}
	u.CPU = time.Duration(cpu["usage_usec"]) * time.Microsecond
	u.Throttled = time.Duration(cpu["throttled_usec"]) * time.Microsecond
	if cur, err := readInt(dir, "memory.current"); err == nil {
		u.HasMemory = true
		u.Memory = cur
		if st, err := readFlat(dir, "memory.stat"); err == nil && st["inactive_file"] < cur {
			u.Memory -= st["inactive_file"]
		}
		u.MemoryLimit, _ = readInt(dir, "memory.max")
	}
	if n, err := readInt(dir, "pids.current"); err == nil {
		u.Pids = n
		u.PidsLimit, _ = readInt(dir, "pids.max")
	} else if b, err := os.ReadFile(filepath.Join(dir, "cgroup.threads")); err == nil {
		u.Pids = int64(bytes.Count(b, []byte("\n")))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "io.stat")); err == nil {
		u.HasIO = true
		u.IORead, u.IOWrite = parseIOStat(b)
	}
	return u, nil
}

// parseIOStat sums io.stat's lines ("8:0 rbytes=1 wbytes=2 rios=3 ...").
func parseIOStat(b []byte) (read, write int64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for _, f := range fields[min(1, len(fields)):] {
			k, v, _ := strings.Cut(f, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}

func readFlat(dir, name string) (map[string]int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	return parseFlatKeyed(b), nil
}

// readInt reads a one-number file; a limit's "max" reads as 0, no limit.
func readInt(dir, name string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}
