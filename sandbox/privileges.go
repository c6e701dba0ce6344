package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/security"
)

// restrict applies the container's security options to this process, on
// every thread, last thing before the command is exec'd (or forked): the user's ids, the capability set,
// no_new_privs and the seccomp filter. With no_new_privs the filter goes
// on after the capabilities are gone, so the fewest syscalls run under
// it; without, loading it needs CAP_SYS_ADMIN, so it goes on first.
// everyCap (box exec --privileged) keeps every capability, under the
// container's own filter, as Docker's exec does.
func restrict(u User, sec security.Options, everyCap bool) error {
	filter, err := sec.Filter()
	if err != nil {
		return err
	}
	if everyCap {
		sec.Privileged = true
	}
	caps, err := sec.Caps()
	if err != nil {
		return err
	}
	nnp := sec.NoNewPrivs()
	if !nnp {
		if err := security.Load(filter); err != nil {
			return err
		}
	}
	if err := dropPrivileges(u, caps, nnp); err != nil {
		return err
	}
	if nnp {
		return security.Load(filter)
	}
	return nil
}

// dropPrivileges leaves this process with the user's ids and the given
// capabilities (none effective for a non-root user, as in Docker), and
// cuts the bounding set so no more can be gained; ambient capabilities
// that carried the stage through its exec are cleared. nnp sets
// no_new_privs.
//
// Credentials belong to a thread, so each step is taken on every thread
// of the Go runtime (AllThreadsSyscall; Setresuid and Setresgid do so
// already): otherwise the threads that do not exec would keep every
// capability of the user namespace, in a process the container can trace
// (--init's PID 1, with SYS_PTRACE) or that shares its memory with one it
// can (the exec helper's vfork child).
func dropPrivileges(u User, caps []capability.Cap, nnp bool) error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	keep := map[uintptr]bool{}
	for _, c := range caps {
		keep[uintptr(c)] = true
	}
	prctl := func(what string, option, arg uintptr) error {
		if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, option, arg, 0, 0, 0, 0); e != 0 {
			return fmt.Errorf("%s: %w", what, e)
		}
		return nil
	}
	if err := prctl("clear ambient capabilities", unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL); err != nil {
		return err
	}
	for c := uintptr(0); c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := prctl(fmt.Sprintf("drop capability %d from the bounding set", c), unix.PR_CAPBSET_DROP, c); err != nil {
			return err
		}
	}
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil && !(len(groups) == 0 && err == syscall.EPERM) {
		// A single-ID namespace has setgroups denied; with no extra
		// groups to set there is nothing lost.
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", u.UID, err)
	}
	var set [2]uint32
	if u.UID == 0 {
		for _, c := range caps {
			set[c/32] |= 1 << (c % 32)
		}
	}
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := &[2]unix.CapUserData{
		{Effective: set[0], Permitted: set[0]},
		{Effective: set[1], Permitted: set[1]},
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	if !nnp {
		return nil
	}
	if err := prctl("set no_new_privs", unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return err
	}
	return nil
}

func lastCap() (uintptr, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return uintptr(n), err
}
