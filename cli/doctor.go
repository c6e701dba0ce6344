package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/subid"
)

type doctorCmd struct {
	Format string `short:"f" enum:",json" default:"" help:"Format: json for scripts."`
}

// check is one line of box doctor: what was looked at, whether it is
// fine, and if not, how to fix it. Only a failed Required check means box
// cannot run containers here; the others cost a feature or fall back.
type check struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
}

type doctorReport struct {
	// CanRun: every required check passed.
	CanRun bool    `json:"canRun"`
	Checks []check `json:"checks"`
}

// Run checks what rootless containers need on this machine, one line each,
// and exits 1 when box cannot run containers here. It starts no stage: it
// must answer where box cannot run anything, to say why.
func (c *doctorCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	d := doctor{h: h}
	r := doctorReport{CanRun: true}
	add := func(ch check) {
		r.Checks = append(r.Checks, ch)
		if ch.Required && !ch.OK {
			r.CanRun = false
		}
	}
	userNS := d.userNamespaces()
	add(userNS)
	for _, f := range []func() check{d.helpers, d.subids} {
		add(f())
	}
	if userNS.OK {
		add(d.overlay())
	}
	for _, f := range []func() check{d.fuse, d.cgroups, d.runtimeDir, d.systemd, d.network, d.tun, d.lowPorts, d.storage} {
		add(f())
	}
	if c.Format == "json" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		for _, ch := range r.Checks {
			mark := "✓"
			if !ch.OK {
				mark = "✗"
			}
			line := fmt.Sprintf("%s %s: %s", mark, ch.Name, ch.Detail)
			if ch.Fix != "" {
				line += "; fix: " + ch.Fix
			}
			fmt.Fprintln(e.stdout, line)
		}
		if r.CanRun {
			fmt.Fprintln(e.stdout, "box can run containers here.")
		} else {
			fmt.Fprintln(e.stdout, "box cannot run containers here: fix the ✗ lines marked required above.")
		}
	}
	if !r.CanRun {
		return exitCode(1)
	}
	return nil
}

type doctor struct {
	h *host
}

func sysctl(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// userNamespaces tries what box needs first: a user namespace, made by an
// unprivileged process, with a mount namespace in it.
func (d doctor) userNamespaces() check {
	ch := check{Name: "user namespaces", Required: true}
	_, err := d.inUserNS()
	if err == nil {
		ch.OK, ch.Detail = true, "an unprivileged user may create them"
		return ch
	}
	ch.Detail = fmt.Sprintf("creating one failed: %v", err)
	switch {
	case sysctlIs("kernel.unprivileged_userns_clone", "0"):
		ch.Fix = "sudo sysctl kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/ to keep it)"
	case sysctlIs("user.max_user_namespaces", "0"):
		ch.Fix = "sudo sysctl user.max_user_namespaces=28633 (and in /etc/sysctl.d/ to keep it)"
	case sysctlIs("kernel.apparmor_restrict_unprivileged_userns", "1"):
		ch.Fix = "AppArmor restricts unprivileged user namespaces: add an AppArmor profile for box with 'userns,' or sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"
	default:
		ch.Fix = "the kernel or a security module refuses them; check dmesg and your container/seccomp sandbox (a box inside a container needs --privileged or a userns-allowing profile)"
	}
	return ch
}

// inUserNS runs box's OverlayProbe role with args in a new user and mount
// namespace with a single-ID map (written by os/exec, no helper needed)
// and returns its output.
func (d doctor) inUserNS(args ...string) ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), roles.Env+"="+roles.OverlayProbe)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: d.h.uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: d.h.gid, Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
	return cmd.Output()
}

func sysctlIs(name, v string) bool {
	got, ok := sysctl(name)
	return ok && got == v
}

// helpers: newuidmap and newgidmap, setuid root or with file capabilities.
func (d doctor) helpers() check {
	ch := check{Name: "newuidmap/newgidmap"}
	if d.h.uid == 0 {
		ch.OK, ch.Detail = true, "not needed: running as root, box writes the id maps itself"
		return ch
	}
	var found []string
	for _, name := range []string{"newuidmap", "newgidmap"} {
		p, err := exec.LookPath(name)
		if err != nil {
			ch.Detail = name + " is not installed: box falls back to a single-ID map (image files all belong to root)"
			ch.Fix = "install the uidmap package (sudo apt-get install uidmap)"
			return ch
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			ch.Detail = fmt.Sprintf("%s: %v", p, err)
			return ch
		}
		setuid := st.Mode&unix.S_ISUID != 0 && st.Uid == 0
		if !setuid && !hasFileCaps(p) {
			ch.Detail = p + " is neither setuid root nor has file capabilities, so it cannot write id maps"
			ch.Fix = "sudo chmod u+s " + p + " (or sudo setcap cap_setuid,cap_setgid+ep " + p + ")"
			return ch
		}
		found = append(found, p)
	}
	ch.OK, ch.Detail = true, strings.Join(found, ", ")
	return ch
}

func hasFileCaps(path string) bool {
	n, err := unix.Getxattr(path, "security.capability", nil)
	return err == nil && n > 0
}

// subids: ranges for the user in /etc/subuid and /etc/subgid, and their
// size (images use ids up to 65535).
func (d doctor) subids() check {
	ch := check{Name: "subordinate ids"}
	if d.h.uid == 0 {
		ch.OK, ch.Detail = true, "not needed: running as root, box maps every id as it is"
		return ch
	}
	fix := fmt.Sprintf("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", d.h.name)
	var parts []string
	for _, f := range []struct{ env, path string }{{"_BOX_SUBUID_FILE", "/etc/subuid"}, {"_BOX_SUBGID_FILE", "/etc/subgid"}} {
		path := etcFile(f.env, f.path)
		rs, err := readRanges(path, d.h)
		if err != nil {
			ch.Detail, ch.Fix = err.Error(), "correct "+path
			return ch
		}
		if len(rs) == 0 {
			ch.Detail = fmt.Sprintf("no range for user %q in %s: box falls back to a single-ID map (image files all belong to root)", d.h.name, path)
			ch.Fix = fix
			return ch
		}
		total := subid.Total(rs)
		if total < 65536 {
			ch.Detail = fmt.Sprintf("%s gives %q only %d ids: images with owners above %d do not unpack as they are", path, d.h.name, total, total)
			ch.Fix = fix
			return ch
		}
		parts = append(parts, fmt.Sprintf("%s: %d ids", path, total))
	}
	ch.OK, ch.Detail = true, strings.Join(parts, ", ")
	return ch
}

// overlay tries native overlay with userxattr in a user namespace, on the
// store's filesystem, in a child (the OverlayProbe role).
func (d doctor) overlay() check {
	ch := check{Name: "native overlay"}
	dir := d.h.dirs.Data // lookupHost made it
	out, err := d.inUserNS(dir)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		ch.Detail = msg + ": box uses fuse-overlayfs, or vfs (a full copy per container)"
		ch.Fix = "a kernel of 5.11 or later mounts overlay in a user namespace (userxattr); on a filesystem that refuses it, put the store elsewhere (XDG_DATA_HOME)"
		return ch
	}
	ch.OK, ch.Detail = true, "mounts in a user namespace (userxattr) on "+dir
	return ch
}

// fuse: fuse-overlayfs and /dev/fuse, the fallback when native overlay
// fails.
func (d doctor) fuse() check {
	ch := check{Name: "fuse-overlayfs"}
	p, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		ch.Detail = "not installed (needed only where native overlay fails)"
		ch.Fix = "sudo apt-get install fuse-overlayfs"
		return ch
	}
	dev := etcFile("_BOX_DEV_FUSE", "/dev/fuse")
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		ch.Detail = fmt.Sprintf("%s is installed, but %s cannot be opened: %v", p, dev, pathError(err))
		ch.Fix = "sudo chmod 0666 " + dev + " (or load the fuse module: sudo modprobe fuse)"
		return ch
	}
	f.Close()
	ch.OK, ch.Detail = true, p+", "+dev+" usable"
	return ch
}

// cgroups: the version, and which controllers box may use for limits.
func (d doctor) cgroups() check {
	ch := check{Name: "cgroups"}
	p := hierarchy().Probe(context.Background(), "")
	if p.Version != 2 {
		ch.Detail = "cgroup v1 or hybrid: box runs containers, but without --memory, --cpus, --pids-limit, pause or stats"
		ch.Fix = "boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2"
		return ch
	}
	if p.Manager == "" {
		ch.Detail = "cgroup v2, but no systemd user manager answers and box's own cgroup is not delegated: no limits, pause or stats"
		ch.Fix = "log in through a session with a systemd user manager (or: loginctl enable-linger " + d.h.name + ")"
		return ch
	}
	var missing []string
	for _, c := range []string{"cpu", "io", "memory", "pids"} {
		if !slices.Contains(p.Controllers, c) {
			missing = append(missing, c)
		}
	}
	ch.Detail = fmt.Sprintf("v2, manager %s, controllers delegated: %s", p.Manager, strings.Join(p.Controllers, " "))
	if len(missing) > 0 {
		ch.Detail += "; missing " + strings.Join(missing, " ")
		ch.Fix = "delegate them: a systemd drop-in /etc/systemd/system/user@.service.d/delegate.conf with [Service] Delegate=cpu cpuset io memory pids"
		return ch
	}
	ch.OK = true
	return ch
}

// runtimeDir: XDG_RUNTIME_DIR, where box keeps per-boot state.
func (d doctor) runtimeDir() check {
	ch := check{Name: "XDG_RUNTIME_DIR"}
	v := osEnv("XDG_RUNTIME_DIR")
	if v == "" {
		ch.Detail = "unset: box keeps its runtime state in " + d.h.dirs.Runtime + " and cannot reach the systemd user manager"
		ch.Fix = fmt.Sprintf("export XDG_RUNTIME_DIR=/run/user/%d (su and sudo drop it; a login through ssh or machinectl shell sets it)", d.h.uid)
		return ch
	}
	var st unix.Stat_t
	if err := unix.Stat(v, &st); err != nil || int(st.Uid) != d.h.uid {
		ch.Detail = v + " does not exist or is not yours"
		ch.Fix = fmt.Sprintf("export XDG_RUNTIME_DIR=/run/user/%d, or log in again", d.h.uid)
		return ch
	}
	ch.OK, ch.Detail = true, v
	return ch
}

// systemd: a user manager, and lingering (without it, the user's
// containers die at logout).
func (d doctor) systemd() check {
	ch := check{Name: "systemd user manager"}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		ch.OK, ch.Detail = true, "no systemd on this machine: containers outlive the login on their own"
		return ch
	}
	// Found by its socket: the cgroup probe answers only on cgroup v2.
	if !userManager() {
		ch.Detail = "none runs for this login (no XDG_RUNTIME_DIR/systemd/private): no systemd scopes, so limits need a delegated cgroup"
		ch.Fix = "log in through a session (ssh, machinectl shell " + d.h.name + "@) rather than su, with XDG_RUNTIME_DIR set"
		return ch
	}
	if !lingering(d.h.name) {
		ch.Detail = "running, but lingering is off: detached containers die when you log out"
		ch.Fix = "loginctl enable-linger " + d.h.name
		return ch
	}
	ch.OK, ch.Detail = true, "running, lingering on"
	return ch
}

// network: slirp4netns, box's user-mode network.
func (d doctor) network() check {
	ch := check{Name: "user-mode networking"}
	if s := lookPath("slirp4netns"); s != "" {
		ch.OK, ch.Detail = true, "slirp4netns at "+s
		return ch
	}
	ch.Detail = "no slirp4netns: containers run only with --network none or host"
	ch.Fix = "sudo apt-get install slirp4netns"
	return ch
}

// tun: slirp4netns makes its tap device from /dev/net/tun.
func (d doctor) tun() check {
	ch := check{Name: "/dev/net/tun"}
	dev := etcFile("_BOX_DEV_TUN", "/dev/net/tun")
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		ch.Detail = fmt.Sprintf("cannot be opened: %v: only --network none or host work", pathError(err))
		ch.Fix = "sudo modprobe tun; sudo chmod 0666 " + dev
		return ch
	}
	f.Close()
	ch.OK, ch.Detail = true, "usable"
	return ch
}

// lowPorts: which host ports -p may publish.
func (d doctor) lowPorts() check {
	ch := check{Name: "privileged ports"}
	v, ok := sysctl("net.ipv4.ip_unprivileged_port_start")
	if !ok {
		ch.OK, ch.Detail = true, "net.ipv4.ip_unprivileged_port_start is not readable; assuming 1024"
		return ch
	}
	n, _ := strconv.Atoi(v)
	if n > 0 {
		ch.OK = true
		ch.Detail = fmt.Sprintf("-p may publish host ports from %d up (net.ipv4.ip_unprivileged_port_start); for lower ones: sudo sysctl net.ipv4.ip_unprivileged_port_start=80", n)
		return ch
	}
	ch.OK, ch.Detail = true, "-p may publish any host port"
	return ch
}

// storage: where the images go, its filesystem and free space.
func (d doctor) storage() check {
	ch := check{Name: "storage"}
	dir := d.h.dirs.Data
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		ch.Detail = fmt.Sprintf("%s: %v", dir, err)
		return ch
	}
	free := st.Bavail * uint64(st.Bsize)
	fsName := fsTypeName(st.Type)
	ch.Detail = fmt.Sprintf("%s on %s, %s free", dir, fsName, units.HumanSizeWithPrecision(float64(free), 3))
	switch {
	case fsName == "nfs" || fsName == "overlay":
		ch.Detail += ": overlay cannot use it as a store"
		ch.Fix = "put the store on a local filesystem: export XDG_DATA_HOME=/a/local/dir"
	case free < 1<<30:
		ch.Detail += ": less than 1 GB"
		ch.Fix = "free space there, or remove unused images and containers: box system prune -a"
	default:
		ch.OK = true
	}
	return ch
}

func fsTypeName(t int64) string {
	switch t {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	}
	return fmt.Sprintf("filesystem type %#x", t)
}
