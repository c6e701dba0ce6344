package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/security"
)

// restrict applies the container's security options to this thread, last
// thing before the command is exec'd: the user's ids, the capability set,
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

// dropPrivileges leaves the thread with the user's ids and the given
// capabilities (none effective for a non-root user, as in Docker), and cuts
// the bounding set so no more can be gained; ambient capabilities that
// carried the stage through its exec are cleared. nnp sets no_new_privs.
func dropPrivileges(u User, caps []capability.Cap, nnp bool) error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	keep := map[uintptr]bool{}
	for _, c := range caps {
		keep[uintptr(c)] = true
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := uintptr(0); c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil && !(len(groups) == 0 && err == unix.EPERM) {
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
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: set[0], Permitted: set[0]},
		{Effective: set[1], Permitted: set[1]},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if !nnp {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
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
