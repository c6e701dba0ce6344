package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
)

// limitFlags are Docker's resource flags (run, create, update).
type limitFlags struct {
	Memory            string   `short:"m" help:"Memory limit (32m, 1g, ...); the OOM killer acts past it."`
	MemoryReservation string   `name:"memory-reservation" help:"Memory soft limit (memory.low)."`
	MemorySwap        string   `name:"memory-swap" help:"Memory plus swap limit (-1: unlimited swap)."`
	CPUs              string   `name:"cpus" help:"CPUs the container may use, such as 1.5."`
	CPUShares         int64    `name:"cpu-shares" help:"Relative CPU weight, Docker's shares (1024 is the default weight)."`
	CPUWeight         int64    `name:"cpu-weight" help:"Relative CPU weight, cgroup v2's 1 to 10000."`
	CpusetCpus        string   `name:"cpuset-cpus" help:"CPUs the container may run on (0-3,5)."`
	PidsLimit         int64    `name:"pids-limit" help:"Most processes at once (-1: unlimited)."`
	BlkioWeight       int64    `name:"blkio-weight" help:"Relative block I/O weight, 10 to 1000."`
	DeviceReadBps     []string `name:"device-read-bps" sep:"none" help:"Read rate limit of a device: PATH:RATE (/dev/sda:1mb)."`
	DeviceWriteBps    []string `name:"device-write-bps" sep:"none" help:"Write rate limit of a device: PATH:RATE."`
	DeviceReadIOps    []string `name:"device-read-iops" sep:"none" help:"Read operations a second of a device: PATH:N."`
	DeviceWriteIOps   []string `name:"device-write-iops" sep:"none" help:"Write operations a second of a device: PATH:N."`
}

// limits checks the flags into cgdelegate's terms.
func (f limitFlags) limits() (cgdelegate.Limits, error) {
	l, err := f.parse()
	if err != nil {
		return l, err
	}
	if _, err := l.Files(); err != nil {
		return l, err
	}
	return l, nil
}

// parse reads the flags, each on its own; what they mean together (swap
// with memory) is Files' to check, once box update has merged them.
func (f limitFlags) parse() (cgdelegate.Limits, error) {
	l := cgdelegate.Limits{CPUShares: f.CPUShares, CPUWeight: f.CPUWeight, CpusetCpus: f.CpusetCpus, PidsLimit: f.PidsLimit, BlkioWeight: f.BlkioWeight}
	var err error
	if l.Memory, err = ramFlag("--memory", f.Memory); err != nil {
		return l, err
	}
	if l.MemoryReservation, err = ramFlag("--memory-reservation", f.MemoryReservation); err != nil {
		return l, err
	}
	if f.MemorySwap == "-1" {
		l.MemorySwap = -1
	} else if l.MemorySwap, err = ramFlag("--memory-swap", f.MemorySwap); err != nil {
		return l, err
	}
	if f.CPUs != "" {
		// NaN, infinities and huge numbers would overflow the nano-CPUs
		// (and cgdelegate's quota after them) into nonsense.
		n, err := strconv.ParseFloat(f.CPUs, 64)
		if err != nil || !(n >= 0 && n <= maxCPUs) {
			return l, fmt.Errorf("invalid --cpus %q: want a number from 0.01 to %d, such as 1.5", f.CPUs, maxCPUs)
		}
		l.NanoCPUs = int64(n * 1e9)
	}
	if f.CpusetCpus != "" && !cpuList(f.CpusetCpus) {
		return l, fmt.Errorf("invalid --cpuset-cpus %q: want a list like 0-3,5", f.CpusetCpus)
	}
	for _, d := range []struct {
		flag  string
		specs []string
		rate  bool
		dst   *map[string]int64
	}{
		{"--device-read-bps", f.DeviceReadBps, true, &l.DeviceReadBps},
		{"--device-write-bps", f.DeviceWriteBps, true, &l.DeviceWriteBps},
		{"--device-read-iops", f.DeviceReadIOps, false, &l.DeviceReadIOps},
		{"--device-write-iops", f.DeviceWriteIOps, false, &l.DeviceWriteIOps},
	} {
		for _, s := range d.specs {
			dev, v, err := deviceLimit(d.flag, s, d.rate)
			if err != nil {
				return l, err
			}
			if *d.dst == nil {
				*d.dst = map[string]int64{}
			}
			(*d.dst)[dev] = v
		}
	}
	return l, nil
}

// maxCPUs bounds --cpus: more CPUs than Linux supports (8192 at most),
// yet few enough that the CFS quota for them fits in an int64.
const maxCPUs = 1 << 16

// cpuList says whether s is in the kernel's list syntax, N or N-M joined
// by commas, with digits only: strconv.Atoi, which cgdelegate's check
// uses, also takes signs ("+1", "0--0"), which the kernel refuses.
func cpuList(s string) bool {
	digits := func(s string) bool {
		return s != "" && strings.Trim(s, "0123456789") == ""
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !digits(lo) || isRange && !digits(hi) {
			return false
		}
	}
	return true
}

func ramFlag(flag, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a size such as 512m or 2g", flag, s)
	}
	return n, nil
}

// deviceLimit reads PATH:VALUE, PATH a block device, into "MAJ:MIN".
func deviceLimit(flag, spec string, rate bool) (string, int64, error) {
	path, val, ok := strings.Cut(spec, ":")
	if !ok || path == "" || val == "" {
		return "", 0, fmt.Errorf("invalid %s %q: want DEVICE-PATH:VALUE", flag, spec)
	}
	var n int64
	var err error
	if rate {
		n, err = units.RAMInBytes(val)
	} else {
		n, err = strconv.ParseInt(val, 10, 64)
	}
	if err != nil || n <= 0 {
		return "", 0, fmt.Errorf("invalid %s %q: bad value %q", flag, spec, val)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", 0, fmt.Errorf("invalid %s %q: %w", flag, spec, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return "", 0, fmt.Errorf("invalid %s %q: %s is not a block device", flag, spec, path)
	}
	return fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))), n, nil
}

// cgroupFor returns how the stage's cgroup is made for a container (nil:
// it runs without one): a systemd scope, or a child of box's own
// delegated cgroup. Without a cgroup only limits are an error.
func cgroupFor(cfg container.Config) func(pid int) (string, error) {
	manager, cgroups := cfg.CgroupManager, cfg.Cgroups
	files, _ := cfg.Limits.Files() // checked at create
	if cgroups == "disabled" {
		return nil
	}
	h := hierarchy()
	return func(pid int) (string, error) {
		// The stage's pid names it: unique while it runs, which is as long
		// as the scope lives.
		unit := fmt.Sprintf("box-%d", pid)
		desc := "box container " + cfg.Name
		var dir string
		var err error
		switch manager {
		case "systemd":
			dir, err = h.CreateScope(context.Background(), unit+".scope", desc, pid)
		case "cgroupfs":
			h.CollectLeftovers()
			dir, err = h.CreateCgroupfs(unit, pid)
		default:
			if !h.Unified() {
				err = fmt.Errorf("%w: %s is cgroup v1 or hybrid", cgdelegate.ErrUnavailable, h.Root)
				break
			}
			if dir, err = h.CreateScope(context.Background(), unit+".scope", desc, pid); err != nil {
				h.CollectLeftovers()
				dir, err = h.CreateCgroupfs(unit, pid)
			}
		}
		if err != nil && len(files) == 0 && manager == "" {
			return "", nil // nothing asked that needs one
		}
		return dir, err
	}
}

// hierarchy is the cgroup v2 mount box uses. The test suite may point it
// elsewhere, as it does the subordinate id files: a v1 or hybrid host's
// answers must be tested where the tests run on a unified one.
func hierarchy() cgdelegate.Hierarchy {
	return cgdelegate.Hierarchy{Root: etcFile("_BOX_CGROUP_ROOT", cgdelegate.System().Root)}
}
