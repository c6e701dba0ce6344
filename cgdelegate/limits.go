package cgdelegate

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// ErrNoController means a limit needs a controller this cgroup does not
// get: not delegated, or a cgroup v1 hierarchy holds it.
var ErrNoController = errors.New("controller not available")

// ErrUnavailable means box has no cgroup v2 subtree of its own to manage
// (cgroup v1 or hybrid host, no systemd user manager, nothing delegated).
var ErrUnavailable = errors.New("no delegated cgroup v2 subtree")

// Limits are a container's resource limits in Docker's terms; zero values
// leave a resource alone.
type Limits struct {
	Memory            int64  `json:"memory,omitempty"`            // bytes; memory.max
	MemoryReservation int64  `json:"memoryReservation,omitempty"` // bytes; memory.low
	MemorySwap        int64  `json:"memorySwap,omitempty"`        // memory+swap bytes, -1 unlimited
	NanoCPUs          int64  `json:"nanoCpus,omitempty"`          // --cpus × 1e9; cpu.max
	CPUShares         int64  `json:"cpuShares,omitempty"`         // 2..262144; cpu.weight
	CPUWeight         int64  `json:"cpuWeight,omitempty"`         // 1..10000
	CpusetCpus        string `json:"cpusetCpus,omitempty"`
	PidsLimit         int64  `json:"pidsLimit,omitempty"` // -1 unlimited
	BlkioWeight       int64  `json:"blkioWeight,omitempty"`
	// Device limits: "MAJ:MIN" → value, for io.max.
	DeviceReadBps   map[string]int64 `json:"deviceReadBps,omitempty"`
	DeviceWriteBps  map[string]int64 `json:"deviceWriteBps,omitempty"`
	DeviceReadIOps  map[string]int64 `json:"deviceReadIops,omitempty"`
	DeviceWriteIOps map[string]int64 `json:"deviceWriteIops,omitempty"`
}

// cpuPeriod is Docker's CFS period for --cpus, in microseconds.
const cpuPeriod = 100000

// Files turns the limits into cgroup v2 interface files and their values,
// checked: what the kernel would refuse is an error here, before any
// namespace exists.
func (l Limits) Files() (map[string]string, error) {
	f := map[string]string{}
	if l.Memory < 0 || l.MemoryReservation < 0 || l.NanoCPUs < 0 || l.CPUShares < 0 || l.CPUWeight < 0 || l.BlkioWeight < 0 {
		return nil, errors.New("resource limits cannot be negative")
	}
	if l.Memory > 0 {
		if l.Memory < 6<<20 {
			return nil, fmt.Errorf("--memory %d is below the minimum of 6MB", l.Memory)
		}
		f["memory.max"] = strconv.FormatInt(l.Memory, 10)
	}
	if l.MemoryReservation > 0 {
		if l.Memory > 0 && l.MemoryReservation > l.Memory {
			return nil, errors.New("--memory-reservation must be below --memory")
		}
		f["memory.low"] = strconv.FormatInt(l.MemoryReservation, 10)
	}
	switch {
	case l.MemorySwap == -1:
		f["memory.swap.max"] = "max"
	case l.MemorySwap > 0:
		if l.Memory == 0 {
			return nil, errors.New("--memory-swap needs --memory: it is memory plus swap")
		}
		if l.MemorySwap < l.Memory {
			return nil, errors.New("--memory-swap must be at least --memory: it is memory plus swap")
		}
		f["memory.swap.max"] = strconv.FormatInt(l.MemorySwap-l.Memory, 10)
	case l.MemorySwap < -1:
		return nil, errors.New("--memory-swap takes bytes, or -1 for unlimited")
	}
	if l.NanoCPUs > 0 {
		quota := l.NanoCPUs * cpuPeriod / 1e9
		if quota < 1000 {
			return nil, fmt.Errorf("--cpus %.3f is below the minimum of 0.01", float64(l.NanoCPUs)/1e9)
		}
		f["cpu.max"] = fmt.Sprintf("%d %d", quota, cpuPeriod)
	}
	if l.CPUShares > 0 && l.CPUWeight > 0 {
		return nil, errors.New("--cpu-shares and --cpu-weight set the same thing: give one")
	}
	if l.CPUShares > 0 {
		if l.CPUShares < 2 || l.CPUShares > 262144 {
			return nil, errors.New("--cpu-shares takes 2 to 262144")
		}
		// The conversion runc and crun use, so the same flag weighs the same.
		f["cpu.weight"] = strconv.FormatInt(1+((l.CPUShares-2)*9999)/262142, 10)
	}
	if l.CPUWeight > 0 {
		if l.CPUWeight > 10000 {
			return nil, errors.New("--cpu-weight takes 1 to 10000")
		}
		f["cpu.weight"] = strconv.FormatInt(l.CPUWeight, 10)
	}
	if l.CpusetCpus != "" {
		if err := checkCPUList(l.CpusetCpus); err != nil {
			return nil, err
		}
		f["cpuset.cpus"] = l.CpusetCpus
	}
	switch {
	case l.PidsLimit > 0:
		f["pids.max"] = strconv.FormatInt(l.PidsLimit, 10)
	case l.PidsLimit == -1:
		f["pids.max"] = "max"
	case l.PidsLimit < -1:
		return nil, errors.New("--pids-limit takes a number of processes, or -1 for unlimited")
	}
	if l.BlkioWeight > 0 {
		if l.BlkioWeight < 10 || l.BlkioWeight > 1000 {
			return nil, errors.New("--blkio-weight takes 10 to 1000")
		}
		f["io.weight"] = "default " + strconv.FormatInt(1+(l.BlkioWeight-10)*9999/990, 10)
	}
	if io := ioMax(l); io != "" {
		f["io.max"] = io
	}
	return f, nil
}

// ioMax is io.max's lines, one a device, keys in a fixed order.
func ioMax(l Limits) string {
	devs := map[string][]string{}
	add := func(m map[string]int64, key string) {
		for d, v := range m {
			devs[d] = append(devs[d], key+"="+strconv.FormatInt(v, 10))
		}
	}
	add(l.DeviceReadBps, "rbps")
	add(l.DeviceWriteBps, "wbps")
	add(l.DeviceReadIOps, "riops")
	add(l.DeviceWriteIOps, "wiops")
	var lines []string
	for d, kv := range devs {
		sort.Strings(kv)
		lines = append(lines, d+" "+strings.Join(kv, " "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// checkCPUList accepts the kernel's list syntax: 0-3,5,7-8.
func checkCPUList(s string) error {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return fmt.Errorf("invalid --cpuset-cpus %q: want a list like 0-3,5", s)
		}
	}
	return nil
}

// Controllers are the controllers the files need, sorted.
func Controllers(files map[string]string) []string {
	seen := map[string]bool{}
	for name := range files {
		c, _, _ := strings.Cut(name, ".")
		seen[c] = true
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Merge is l changed by n, as box update applies new flags to a
// container's limits: what n sets replaces l's; what n leaves zero stays.
func (l Limits) Merge(n Limits) Limits {
	set := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	set(&l.Memory, n.Memory)
	set(&l.MemoryReservation, n.MemoryReservation)
	set(&l.MemorySwap, n.MemorySwap)
	set(&l.NanoCPUs, n.NanoCPUs)
	set(&l.PidsLimit, n.PidsLimit)
	set(&l.BlkioWeight, n.BlkioWeight)
	// Shares and weight are one setting in two scales: the newer wins.
	if n.CPUShares != 0 {
		l.CPUShares, l.CPUWeight = n.CPUShares, 0
	}
	if n.CPUWeight != 0 {
		l.CPUShares, l.CPUWeight = 0, n.CPUWeight
	}
	if n.CpusetCpus != "" {
		l.CpusetCpus = n.CpusetCpus
	}
	merge := func(dst *map[string]int64, m map[string]int64) {
		if len(m) == 0 {
			return
		}
		out := maps.Clone(*dst)
		if out == nil {
			out = map[string]int64{}
		}
		maps.Copy(out, m)
		*dst = out
	}
	merge(&l.DeviceReadBps, n.DeviceReadBps)
	merge(&l.DeviceWriteBps, n.DeviceWriteBps)
	merge(&l.DeviceReadIOps, n.DeviceReadIOps)
	merge(&l.DeviceWriteIOps, n.DeviceWriteIOps)
	return l
}

// Zero says whether l sets nothing (valid or not).
func (l Limits) Zero() bool { return reflect.ValueOf(l).IsZero() }
