package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrRefused: the kernel or a security module refused to make a user
// namespace (a sysctl, AppArmor, a seccomp filter around box).
var ErrRefused = errors.New("creating a user namespace was refused")

// syncEnv names the inherited fd on which a child waits until its maps are
// written; it looks internal on purpose.
const syncEnv = "_BOX_SYNC_FD"

// Start starts cmd in new user, mount and pid namespaces and writes its id
// maps before the child goes on; the child must call WaitMapped first.
//
// The child is exec'd before its map exists, so the kernel would drop its
// capabilities at exec (its uid is unmapped then). Raising them as ambient
// capabilities in the forked child, where it still has all of them in the
// new namespace, carries them through the exec: no second exec needed.
func Start(cmd *exec.Cmd, maps Maps) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sync pipe: %w", err)
	}
	defer r.Close()
	defer w.Close()

	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	attr := cmd.SysProcAttr
	attr.Cloneflags |= unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID
	caps, err := AllCaps()
	if err != nil {
		return err
	}
	attr.AmbientCaps = caps
	cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	cmd.Env = append(cmd.Env, syncEnv+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))

	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS) {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
		return err
	}
	if err := writeMaps(cmd.Process.Pid, maps); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	if _, err := w.Write([]byte{0}); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("release child: %w", err)
	}
	return nil
}

// WaitMapped blocks until the parent has written this process's id maps.
// A process not started by Start returns at once.
func WaitMapped() error {
	v := os.Getenv(syncEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(syncEnv)
	fd, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("bad %s=%q", syncEnv, v)
	}
	f := os.NewFile(uintptr(fd), "sync")
	defer f.Close()
	var b [1]byte
	if n, _ := f.Read(b[:]); n != 1 {
		return errors.New("parent gave up before writing the id maps")
	}
	return nil
}

func writeMaps(pid int, m Maps) error {
	if m.Direct {
		proc := fmt.Sprintf("/proc/%d/", pid)
		if os.Geteuid() != 0 {
			// An unprivileged writer may map its own gid only after
			// giving up setgroups(2) in the namespace (user_namespaces(7)).
			if err := os.WriteFile(proc+"setgroups", []byte("deny"), 0); err != nil {
				return fmt.Errorf("write setgroups: %w", err)
			}
		}
		if err := os.WriteFile(proc+"uid_map", []byte(procFormat(m.UID)), 0); err != nil {
			return fmt.Errorf("write uid_map: %w", err)
		}
		if err := os.WriteFile(proc+"gid_map", []byte(procFormat(m.GID)), 0); err != nil {
			return fmt.Errorf("write gid_map: %w", err)
		}
		return nil
	}
	// The two helpers write independent files; each is a setuid,
	// dynamically linked program that takes milliseconds to start, so they
	// run side by side.
	gid := make(chan error, 1)
	go func() { gid <- runHelper("newgidmap", pid, m.GID) }()
	uerr := runHelper("newuidmap", pid, m.UID)
	gerr := <-gid
	if uerr != nil {
		return uerr
	}
	return gerr
}

func runHelper(name string, pid int, m []IDMap) error {
	args := append([]string{strconv.Itoa(pid)}, helperArgs(m)...)
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return nil
}

// HaveHelpers reports whether newuidmap and newgidmap are on PATH.
func HaveHelpers() bool {
	_, e1 := exec.LookPath("newuidmap")
	_, e2 := exec.LookPath("newgidmap")
	return e1 == nil && e2 == nil
}

// AllCaps lists every capability the running kernel knows; raising one it
// does not know fails the exec.
func AllCaps() ([]uintptr, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return nil, fmt.Errorf("read cap_last_cap: %w", err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("parse cap_last_cap: %w", err)
	}
	caps := make([]uintptr, 0, last+1)
	for c := 0; c <= last; c++ {
		caps = append(caps, uintptr(c))
	}
	return caps, nil
}

// CurrentMapSize is the number of uids mapped into the calling process's
// user namespace.
func CurrentMapSize() (uint64, error) {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return 0, err
	}
	m, err := parseProcMap(string(b))
	if err != nil {
		return 0, err
	}
	return Size(m), nil
}

// CurrentMaps are the uid and gid maps of the calling process's user
// namespace; ContainerID is the id there.
func CurrentMaps() (uid, gid []IDMap, err error) {
	read := func(kind string) ([]IDMap, error) {
		b, err := os.ReadFile("/proc/self/" + kind + "_map")
		if err != nil {
			return nil, err
		}
		return parseProcMap(string(b))
	}
	if uid, err = read("uid"); err != nil {
		return nil, nil, err
	}
	if gid, err = read("gid"); err != nil {
		return nil, nil, err
	}
	return uid, gid, nil
}

// WriteNested writes maps for a child that created its own user namespace
// inside box's one (keep-id): box is root there and may map any id it has.
func WriteNested(pid int, uid, gid []IDMap) error {
	proc := fmt.Sprintf("/proc/%d/", pid)
	if err := os.WriteFile(proc+"uid_map", []byte(procFormat(uid)), 0); err != nil {
		return fmt.Errorf("write nested uid_map: %w", err)
	}
	if err := os.WriteFile(proc+"gid_map", []byte(procFormat(gid)), 0); err != nil {
		return fmt.Errorf("write nested gid_map: %w", err)
	}
	return nil
}

func parseProcMap(s string) ([]IDMap, error) {
	var m []IDMap
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("bad id map line %q", line)
		}
		var v [3]uint64
		for i := range f {
			n, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad id map line %q", line)
			}
			v[i] = n
		}
		m = append(m, IDMap{uint32(v[0]), uint32(v[1]), uint32(v[2])})
	}
	return m, nil
}
