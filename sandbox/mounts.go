package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/container"
)

// maskedPaths are hidden from the container, and readonlyPaths it may
// read but not write: runc's defaults, which Docker and Podman share.
func maskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

func readonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// hostDevices are the device nodes a container gets from the host.
func hostDevices() []string { return []string{"null", "zero", "full", "random", "urandom", "tty"} }

// op is one named step of the mount sequence, so an error says which step.
type op struct {
	name string
	do   func() error
}

func run(ops []op) error {
	for _, o := range ops {
		if err := o.do(); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	return nil
}

// setupRootfs builds the container's view under root, in this process's
// own mount namespace, and pivots into it.
func setupRootfs(cfg *Config, gid5 bool) error {
	root := cfg.Rootfs
	ops := []op{
		// Never assume shared propagation; nothing done here may leak out.
		{"make / private", func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") }},
		// pivot_root needs a mount point; a vfs rootfs is a plain directory.
		{"bind rootfs", func() error { return unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, "") }},
		{"mount /proc", func() error {
			return mountAt(root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}},
		{"mount /dev", func() error { return setupDev(root, gid5) }},
		{"mount /sys", func() error { return mountSys(root, cfg.NewNet || cfg.JoinNet) }},
	}
	if cfg.ReadOnly {
		// As podman's --read-only-tmpfs: programs need somewhere to write.
		for _, d := range []string{"/tmp", "/var/tmp", "/run"} {
			d := d
			ops = append(ops, op{"mount tmpfs on " + d, func() error {
				return mountAt(root, d, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777")
			}})
		}
	}
	for _, m := range cfg.Mounts {
		m := m
		ops = append(ops, op{fmt.Sprintf("mount %s on %s", m.Type, m.Destination), func() error { return mountUser(root, m) }})
	}
	ops = append(ops,
		op{"mask paths", func() error { return maskPaths(root) }},
		op{"pivot_root", func() error { return pivot(root) }},
	)
	if cfg.ReadOnly {
		ops = append(ops, op{"make rootfs read-only", func() error {
			return remountRO("/", false)
		}})
	}
	return run(ops)
}

// mountAt mounts fstype at dest inside root, creating the directory.
func mountAt(root, dest, source, fstype string, flags uintptr, data string) error {
	target, err := securejoin.SecureJoin(root, dest)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	return unix.Mount(source, target, fstype, flags, data)
}

func setupDev(root string, gid5 bool) error {
	dev := filepath.Join(root, "dev")
	if err := mountAt(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, d := range hostDevices() {
		target := filepath.Join(dev, d)
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := unix.Mount("/dev/"+d, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	opts := "newinstance,ptmxmode=0666,mode=0620"
	if gid5 {
		opts += ",gid=5" // the tty group, where the namespace maps it
	}
	if err := mountAt(root, "/dev/pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("devpts: %w", err)
	}
	if err := mountAt(root, "/dev/shm", "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	if err := mountAt(root, "/dev/mqueue", "mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mqueue: %w", err)
	}
	links := [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
	}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	return nil
}

func mountSys(root string, newNet bool) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY)
	if newNet {
		return mountAt(root, "/sys", "sysfs", "sysfs", flags, "")
	}
	// A new sysfs needs a network namespace of our own; with the host's,
	// show the host's /sys, read-only.
	target, err := securejoin.SecureJoin(root, "/sys")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("/sys", target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return remountRO(target, true)
}

// mountUser applies one -v, --mount or --tmpfs. The destination is
// resolved inside root so a symlink in the image cannot send it outside.
func mountUser(root string, m container.Mount) error {
	target, err := securejoin.SecureJoin(root, m.Destination)
	if err != nil {
		return err
	}
	ro := hasOpt(m.Options, "ro") || hasOpt(m.Options, "readonly")
	switch m.Type {
	case "tmpfs":
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		flags, data := tmpfsOptions(m.Options)
		return unix.Mount("tmpfs", target, "tmpfs", flags, data)
	case "bind", "volume", "":
		fi, err := os.Stat(m.Source)
		if err != nil {
			return err
		}
		if err := mountpoint(target, fi.IsDir()); err != nil {
			return err
		}
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if ro {
			return remountRO(target, true)
		}
		return nil
	}
	return fmt.Errorf("unknown mount type %q", m.Type)
}

// mountpoint makes sure target exists as a directory or a file. An existing
// one is left alone: it may belong to an id box cannot write as (the
// host's /etc/hosts under --rootfs /), and a bind needs no write access.
func mountpoint(target string, dir bool) error {
	if _, err := os.Stat(target); err == nil {
		return nil
	}
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// tmpfsOptions splits mount(8)-style options into flags and fs data.
func tmpfsOptions(opts []string) (uintptr, string) {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	var data []string
	for _, o := range opts {
		switch o {
		case "ro", "readonly":
			flags |= unix.MS_RDONLY
		case "rw", "":
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "suid":
			flags &^= unix.MS_NOSUID
		case "dev":
			flags &^= unix.MS_NODEV
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

// remountRO makes a bind mount read-only. mount_setattr covers the whole
// tree at once; the older remount must keep the flags the kernel locked
// when the mount crossed into our user namespace (nosuid, nodev, ...).
func remountRO(target string, recursive bool) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	flags := unix.AT_NO_AUTOMOUNT
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(-1, target, uint(flags), attr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("mount_setattr %s: %w", target, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_NODIRATIME)
	return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|locked, "")
}

func maskPaths(root string) error {
	null := filepath.Join(root, "dev/null")
	for _, p := range maskedPaths() {
		target, err := securejoin.SecureJoin(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(target)
		if err != nil {
			continue // nothing to hide
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
		} else {
			err = unix.Mount(null, target, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, p := range readonlyPaths() {
		target, err := securejoin.SecureJoin(root, p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(target); err != nil {
			continue
		}
		if err := unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := remountRO(target, true); err != nil {
			return err
		}
	}
	return nil
}

// pivot moves into root and detaches the old root, the way runc does
// without a temporary directory: pivot_root(".", ".") stacks the old root
// on top, and the lazy unmount takes it away.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return err
	}
	// The old root may carry shared mounts of the stage; keep the unmount
	// from propagating anywhere.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// gidMapped reports whether gid is mapped into this user namespace.
func gidMapped(gid uint32) bool {
	b, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		start, _ := strconv.ParseUint(f[0], 10, 32)
		size, _ := strconv.ParseUint(f[2], 10, 32)
		if uint64(gid) >= start && uint64(gid) < start+size {
			return true
		}
	}
	return false
}
