package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// mem is a process's memory in MiB.
type mem struct{ rss, pss float64 }

// memOf reads Rss and Pss from /proc/PID/smaps_rollup.
func memOf(pid int) (mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return mem{}, err
	}
	defer f.Close()
	var m mem
	var seen int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			m.rss, seen = kb/1024, seen+1
		case "Pss:":
			m.pss, seen = kb/1024, seen+1
		}
	}
	if seen != 2 {
		return mem{}, fmt.Errorf("/proc/%d/smaps_rollup: no Rss and Pss", pid)
	}
	return m, sc.Err()
}

func sumMem(pids []int) (mem, error) {
	var sum mem
	if len(pids) == 0 {
		return sum, errors.New("no processes")
	}
	for _, p := range pids {
		m, err := memOf(p)
		if err != nil {
			return sum, err
		}
		sum.rss += m.rss
		sum.pss += m.pss
	}
	return sum, nil
}

// pids lists the processes in /proc.
func pids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ppid reads field 4 of /proc/PID/stat (after the parenthesised comm).
func ppid(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return -1
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// descendants of pid, at any depth.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range pids() {
		children[ppid(p)] = append(children[ppid(p)], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// processesWithArg lists the processes named comm with arg in their
// command line (or an argument ending in "="+arg).
func processesWithArg(arg, comm string) []int {
	var out []int
	for _, p := range pids() {
		c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		if err != nil || strings.TrimSpace(string(c)) != comm {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(cmdline), "\x00") {
			if a == arg || strings.HasSuffix(a, "="+arg) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// cpuBusy samples /proc/stat for d: how many CPUs' worth were busy.
func cpuBusy(d time.Duration) float64 {
	read := func() (busy, total float64) {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line)
		for i, x := range f[1:] {
			v, _ := strconv.ParseFloat(x, 64)
			total += v
			if i != 3 && i != 4 { // idle, iowait
				busy += v
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 <= t0 {
		return 0
	}
	return (b1 - b0) / (t1 - t0) * float64(numCPU())
}

func numCPU() int { return runtime.NumCPU() }

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
