package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/container"
)

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

// setupRootfs builds the container's view under cfg.Rootfs, in this
// process's own mount namespace, and pivots into it. With cfg.LockMounts
// the stage has made most of it already (prepareRootfs); what is left
// needs this process's own namespaces.
//
// Every path inside the root filesystem is resolved with each component
// confined to it (openat2's RESOLVE_IN_ROOT, through pathrs-lite) into an
// O_PATH handle, and the mount goes onto that handle through /proc/self/fd:
// a symlink in the image, or one swapped in meanwhile by another container
// sharing a directory, cannot send a mount or a file outside the root.
func setupRootfs(cfg *Config, gid5 bool) error {
	var root rootDir
	defer root.close()
	sec := cfg.Security
	// A new sysfs shows the network namespace it is mounted in, which must
	// belong to this user namespace: a joined one belongs to the other
	// container's, which a nested namespace is not (see mountSys).
	ownNet := cfg.NewNet || cfg.JoinNet && !cfg.NestedUserNS
	ops := []op{
		// Never assume shared propagation; nothing done here may leak out.
		{"make / private", func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") }},
		// pivot_root needs a mount point; a vfs rootfs is a plain directory.
		// (After prepareRootfs, the one mount pivot_root can take: what
		// came from the stage is locked to the mount it lies on.)
		{"bind rootfs", func() error { return unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, "") }},
		{"open rootfs", func() (err error) {
			root.f, err = os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			return err
		}},
		{"mount /proc", func() error {
			return root.mount("/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}},
	}
	if cfg.LockMounts {
		ops = append(ops,
			op{"mount /dev/pts and /dev/mqueue", func() error { return devKernelMounts(root, gid5) }},
			op{"mount /sys", func() error { return mountSys(root, ownNet, sec.Privileged) }},
		)
		for _, m := range cfg.Mounts {
			if lateMount(m.Destination) {
				ops = append(ops, userMountOp(&root, m, owner{}))
			}
		}
	} else {
		ops = append(ops,
			op{"mount /dev", func() error {
				if err := setupDev(root, owner{}); err != nil {
					return err
				}
				return devKernelMounts(root, gid5)
			}},
			op{"mount /sys", func() error { return mountSys(root, ownNet, sec.Privileged) }},
		)
		ops = append(ops, readOnlyTmpfs(cfg, &root, owner{})...)
		for _, m := range cfg.Mounts {
			ops = append(ops, userMountOp(&root, m, owner{}))
		}
	}
	ops = append(ops,
		op{"mask paths", func() error { return maskPaths(root, sec.MaskedPaths(), sec.ReadonlyPaths()) }},
		op{"pivot_root", func() error { return pivot(root.f) }},
	)
	if cfg.ReadOnly && !cfg.LockMounts {
		ops = append(ops, op{"make rootfs read-only", func() error {
			return remountROPath("/", false)
		}})
	}
	return run(ops)
}

// prepareRootfs is the stage's part of the mount sequence for a container
// that may mount (CAP_SYS_ADMIN in its user namespace, Config.LockMounts).
// Such a container could remount a read-only bind read-write, or unmount
// a mount to see what lies under it, in the mount namespace it runs in:
// unless the mount came there from a namespace owned by a more privileged
// user namespace. The kernel then locks its flags and ties it to the
// mount it lies on (mount_namespaces(7)). So the stage makes every mount
// that needs none of the container's own namespaces here, in its own
// mount namespace, and the init is cloned into a user namespace of the
// container's own (nested in box's, mapping its ids onto themselves) and
// a copy of this mount namespace: the root, read-only with --read-only,
// /dev, --read-only's tmpfs, the volumes and binds, /etc/hosts and the
// like, --rootfs's read-only binds. The init adds /proc, /sys, devpts and
// mqueue, the mounts below them, and the masks: those the container can
// unmount, as Docker's can.
//
// undoRootfs takes it all down again once the init has ended.
func prepareRootfs(cfg *Config) error {
	var root rootDir
	defer root.close()
	o := owner(cfg.RootOwner)
	ops := []op{
		{"bind rootfs", func() error { return unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, "") }},
		{"open rootfs", func() (err error) {
			root.f, err = os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			return err
		}},
		{"mount /dev", func() error { return setupDev(root, o) }},
	}
	ops = append(ops, readOnlyTmpfs(cfg, &root, o)...)
	for _, m := range cfg.Mounts {
		if !lateMount(m.Destination) {
			ops = append(ops, userMountOp(&root, m, o))
		}
	}
	// The init's mount points, while the root may still be written.
	ops = append(ops, op{"make /proc and /sys", func() error {
		for _, d := range []string{"/proc", "/sys"} {
			h, err := root.dir(d)
			if err != nil {
				return err
			}
			h.Close()
		}
		return nil
	}})
	if cfg.ReadOnly {
		ops = append(ops, op{"make rootfs read-only", func() error { return remountRO(root.f, false) }})
	}
	if err := run(ops); err != nil {
		undoRootfs(cfg)
		return err
	}
	return nil
}

// undoRootfs takes down what prepareRootfs made: the bind of the root
// filesystem on itself, with everything on it.
func undoRootfs(cfg *Config) {
	_ = unix.Unmount(cfg.Rootfs, unix.MNT_DETACH)
}

// lateMount says whether a mount at dest lies in what the init mounts
// (/proc, /sys, /dev/pts, /dev/mqueue), so must follow it.
func lateMount(dest string) bool {
	dest = path.Clean("/" + dest)
	for _, d := range []string{"/proc", "/sys", "/dev/pts", "/dev/mqueue"} {
		if dest == d || strings.HasPrefix(dest, d+"/") {
			return true
		}
	}
	return false
}

// readOnlyTmpfs are --read-only's writable places.
func readOnlyTmpfs(cfg *Config, root *rootDir, o owner) []op {
	if !cfg.ReadOnly {
		return nil
	}
	var ops []op
	// As podman's --read-only-tmpfs: programs need somewhere to write.
	for _, d := range []string{"/tmp", "/var/tmp", "/run"} {
		d := d
		ops = append(ops, op{"mount tmpfs on " + d, func() error {
			return root.mount(d, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, o.tmpfs("mode=1777"))
		}})
	}
	return ops
}

func userMountOp(root *rootDir, m container.Mount, o owner) op {
	return op{fmt.Sprintf("mount %s on %s", m.Type, m.Destination), func() error { return mountUser(*root, m, o) }}
}

// owner is who the container's root is where a mount is made: a tmpfs's
// root directory is theirs. The zero value is the namespace's own root.
type owner struct{ UID, GID uint32 }

// tmpfs adds the owner to a tmpfs's options, unless they name one.
func (o owner) tmpfs(data string) string {
	if o == (owner{}) {
		return data
	}
	for _, opt := range strings.Split(data, ",") {
		if strings.HasPrefix(opt, "uid=") || strings.HasPrefix(opt, "gid=") {
			return data
		}
	}
	own := fmt.Sprintf("uid=%d,gid=%d", o.UID, o.GID)
	if data == "" {
		return own
	}
	return data + "," + own
}

// rootDir is the container's root filesystem, by handle.
type rootDir struct{ f *os.File }

func (r rootDir) close() {
	if r.f != nil {
		r.f.Close()
	}
}

// dir returns a handle on the directory dest inside the root, creating it
// and its parents where missing.
func (r rootDir) dir(dest string) (*os.File, error) {
	return pathrs.MkdirAllHandle(r.f, dest, 0o755)
}

// file returns a handle on dest inside the root, creating an empty file
// (and its parent directories) where nothing is. An existing one is left
// alone: it may belong to an id box cannot write as (the host's
// /etc/hosts under --rootfs /), and a bind needs no write access.
func (r rootDir) file(dest string) (*os.File, error) {
	if h, err := r.open(dest); err == nil {
		return h, nil
	}
	parent, err := r.dir(path.Dir(dest))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), path.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create %s: %w", dest, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return r.open(dest)
}

// open returns a handle on dest inside the root, which must exist.
func (r rootDir) open(dest string) (*os.File, error) {
	return pathrs.OpenatInRoot(r.f, dest)
}

// mount mounts fstype at the directory dest inside the root.
func (r rootDir) mount(dest, source, fstype string, flags uintptr, data string) error {
	h, err := r.dir(dest)
	if err != nil {
		return err
	}
	defer h.Close()
	return unix.Mount(source, fdPath(h), fstype, flags, data)
}

// fdPath names what an open handle refers to, for calls that take a path.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// setupDev mounts /dev: a tmpfs with the host's harmless devices bound in,
// /dev/shm and the usual links, and the mount points of devpts and
// mqueue, which devKernelMounts mounts.
func setupDev(root rootDir, o owner) error {
	if err := root.mount("/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, o.tmpfs("mode=755,size=65536k")); err != nil {
		return err
	}
	// The tmpfs now on /dev, not the directory under it.
	dev, err := root.open("/dev")
	if err != nil {
		return err
	}
	defer dev.Close()
	for _, d := range hostDevices() {
		fd, err := unix.Openat(int(dev.Fd()), d, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
		if err != nil {
			return fmt.Errorf("create /dev/%s: %w", d, err)
		}
		unix.Close(fd)
		h, err := root.open("/dev/" + d)
		if err != nil {
			return err
		}
		err = unix.Mount("/dev/"+d, fdPath(h), "", unix.MS_BIND, "")
		h.Close()
		if err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	if err := root.mount("/dev/shm", "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, o.tmpfs("mode=1777,size=65536k")); err != nil {
		return err
	}
	for _, d := range []string{"pts", "mqueue"} {
		if err := unix.Mkdirat(int(dev.Fd()), d, 0o755); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d, err)
		}
		if o != (owner{}) {
			if err := unix.Fchownat(int(dev.Fd()), d, int(o.UID), int(o.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("chown /dev/%s: %w", d, err)
			}
		}
	}
	links := [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// devKernelMounts mounts a devpts instance of the container's own and the
// mqueue of its ipc namespace, where /dev has their mount points: a user
// mount over /dev may not.
func devKernelMounts(root rootDir, gid5 bool) error {
	opts := "newinstance,ptmxmode=0666,mode=0620"
	if gid5 {
		opts += ",gid=5" // the tty group, where the namespace maps it
	}
	mounts := []struct {
		dest, fstype, data string
		flags              uintptr
	}{
		{"/dev/pts", "devpts", opts, unix.MS_NOSUID | unix.MS_NOEXEC},
		{"/dev/mqueue", "mqueue", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
	}
	for _, m := range mounts {
		h, err := root.open(m.dest)
		if err != nil {
			continue
		}
		err = unix.Mount(m.fstype, fdPath(h), m.fstype, m.flags, m.data)
		h.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", m.fstype, err)
		}
	}
	return nil
}

func mountSys(root rootDir, newNet, privileged bool) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if newNet {
		if !privileged {
			flags |= unix.MS_RDONLY
		}
		return root.mount("/sys", "sysfs", "sysfs", flags, "")
	}
	// A new sysfs needs a network namespace of our own; with the host's,
	// show the host's /sys, read-only.
	if err := root.bind("/sys", "/sys", true); err != nil {
		return err
	}
	return root.remountRO("/sys", true)
}

// bind mounts the host's src on dest inside the root. src is opened once
// and that very file is what gets mounted, whatever its path turns into.
func (r rootDir) bind(src, dest string, recursive bool) error {
	s, err := os.OpenFile(src, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(s.Fd()), &st); err != nil {
		return err
	}
	var h *os.File
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		h, err = r.dir(dest)
	} else {
		h, err = r.file(dest)
	}
	if err != nil {
		return err
	}
	defer h.Close()
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	return unix.Mount(fdPath(s), fdPath(h), "", flags, "")
}

// mountUser applies one -v, --mount or --tmpfs; a tmpfs's root belongs to
// o.
func mountUser(root rootDir, m container.Mount, o owner) error {
	ro := hasOpt(m.Options, "ro") || hasOpt(m.Options, "readonly")
	switch m.Type {
	case "tmpfs":
		flags, data := tmpfsOptions(m.Options)
		return root.mount(m.Destination, "tmpfs", "tmpfs", flags, o.tmpfs(data))
	case "bind", "volume", "":
		if err := root.bind(m.Source, m.Destination, true); err != nil {
			return err
		}
		if ro {
			return root.remountRO(m.Destination, true)
		}
		return nil
	}
	return fmt.Errorf("unknown mount type %q", m.Type)
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

// remountRO makes the mount now at dest inside the root read-only. The
// path is resolved again: the handle taken before the mount names what
// lies under it.
func (r rootDir) remountRO(dest string, recursive bool) error {
	h, err := r.open(dest)
	if err != nil {
		return err
	}
	defer h.Close()
	return remountRO(h, recursive)
}

func remountROPath(p string, recursive bool) error {
	h, err := os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer h.Close()
	return remountRO(h, recursive)
}

// remountRO makes a bind mount read-only. mount_setattr covers the whole
// tree at once; the older remount must keep the flags the kernel locked
// when the mount crossed into our user namespace (nosuid, nodev, ...).
func remountRO(h *os.File, recursive bool) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	flags := unix.AT_EMPTY_PATH | unix.AT_NO_AUTOMOUNT
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(int(h.Fd()), "", uint(flags), attr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(h.Fd()), &st); err != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_NODIRATIME)
	return unix.Mount("", fdPath(h), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|locked, "")
}

// maskPaths hides masked (an empty read-only tmpfs on a directory, the
// container's /dev/null on a file) and makes readonly read-only; paths the
// root filesystem lacks are skipped.
func maskPaths(root rootDir, masked, readonly []string) error {
	null, err := root.open("/dev/null")
	if err != nil {
		return err
	}
	defer null.Close()
	for _, p := range masked {
		h, err := root.open(p)
		if err != nil {
			continue // nothing to hide
		}
		var st unix.Stat_t
		if err = unix.Fstat(int(h.Fd()), &st); err == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = unix.Mount("tmpfs", fdPath(h), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
			} else {
				err = unix.Mount(fdPath(null), fdPath(h), "", unix.MS_BIND, "")
			}
		}
		h.Close()
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, p := range readonly {
		h, err := root.open(p)
		if err != nil {
			continue
		}
		err = unix.Mount(fdPath(h), fdPath(h), "", unix.MS_BIND|unix.MS_REC, "")
		h.Close()
		if err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := root.remountRO(p, true); err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	return nil
}

// pivot moves into root and detaches the old root, the way runc does
// without a temporary directory: pivot_root(".", ".") stacks the old root
// on top, and the lazy unmount takes it away.
func pivot(root *os.File) error {
	if err := unix.Fchdir(int(root.Fd())); err != nil {
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
