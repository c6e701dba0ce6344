// Package enter runs one of box's roles inside the namespaces of a running
// container (box exec, box cp, healthchecks). Go cannot join a user
// namespace once it has threads, so util-linux nsenter joins them, and runs
// box from a sealed memfd copy, never the host binary, which the container
// could otherwise reach through /proc/PID/exe (CVE-2019-5736).
//
// The role never enters the container's pid namespace, so no process of
// the container can see it: it holds every capability of the container's
// user namespace until it drops them, and a container allowed to trace
// (SYS_PTRACE in that namespace) could otherwise open its descriptors and
// trace it, non-dumpable or not (the role was exec'd in that namespace,
// where the container's capability counts). A role that starts the
// container's processes gets the pid namespace as a descriptor, to fork
// them into it.
//
// The role's fds: 3 the copy of box, 4 its config (JSON), 5 its status,
// 6 the container's pid namespace when asked for ("--pid"); callers may
// append more to Cmd.ExtraFiles.
package enter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/roles"
)

// Entry is one nsenter run of a role.
type Entry struct {
	Cmd    *exec.Cmd
	Status *os.File // the role's one status message
	config *os.File // the role's config goes here once started
	child  []*os.File
	cgroup string // the container's (cgdelegate.Group), "" for none
}

// New prepares nsenter to run role in the given namespaces (nsenter's
// flags: "--user", "--mount", ...) of process target, the container's
// init as this process's /proc numbers it. "--pid" hands the role the pid
// namespace (fd 6) instead of putting it there. cgroup is the container's
// cgroup directory, which the role joins ("" for none).
func New(target int, cgroup, role string, namespaces ...string) (*Entry, error) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		return nil, fmt.Errorf("entering a running container needs nsenter: install util-linux")
	}
	args, pidNS := nsenterArgs(target, sameUserNS(target), namespaces)
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	self, err := sealedSelf()
	if err != nil {
		return nil, err
	}
	files = append(files, self)
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	files = append(files, cfgR)
	stR, stW, err := os.Pipe()
	if err != nil {
		closeAll()
		cfgW.Close()
		return nil, err
	}
	files = append(files, stW)
	if pidNS {
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", target))
		if err != nil {
			closeAll()
			cfgW.Close()
			stR.Close()
			return nil, fmt.Errorf("open the container's pid namespace: %w", err)
		}
		files = append(files, ns)
	}
	cmd := exec.Command("nsenter", args...)
	// No cgroup files held open for the runtime's CPU limit: see the
	// init's environment (sandbox.Start).
	cmd.Env = []string{roles.Env + "=" + role, "GODEBUG=containermaxprocs=0"}
	cmd.ExtraFiles = append([]*os.File(nil), files...)
	return &Entry{Cmd: cmd, config: cfgW, Status: stR, child: files, cgroup: cgroup}, nil
}

// nsenterArgs are nsenter's arguments to run the copy of box (fd 3) in
// namespaces of process target; pidNS says the role gets the pid
// namespace as a descriptor instead. sameUser: the caller is in the
// target's user namespace already (the monitor), which setns refuses to
// enter again (EINVAL).
func nsenterArgs(target int, sameUser bool, namespaces []string) (args []string, pidNS bool) {
	args = []string{"--target", strconv.Itoa(target)}
	for _, ns := range namespaces {
		switch {
		case ns == "--pid":
			pidNS = true
		case ns == "--user" && sameUser:
		default:
			args = append(args, ns)
		}
	}
	// The copy of box is reached through nsenter's own /proc entry, which
	// the container's /proc (mounted where nsenter goes) does not show,
	// as nsenter enters no pid namespace: so from the caller's root, the
	// working directory nsenter is told to keep, by a relative path. The
	// role leaves it first thing (sandbox.leaveCallersRoot).
	return append(args, "--wd=/", "proc/self/fd/3"), pidNS
}

func sameUserNS(pid int) bool {
	own, err1 := os.Readlink("/proc/self/ns/user")
	theirs, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	return err1 == nil && err2 == nil && own == theirs
}

// Start starts nsenter and sends cfg to the role.
func (en *Entry) Start(cfg any) error {
	err := en.Cmd.Start()
	for _, f := range en.child {
		f.Close() // the child has its copies
	}
	if err != nil {
		return fmt.Errorf("start nsenter: %w", err)
	}
	if err := en.joinCgroup(); err != nil {
		en.config.Close()
		_ = en.Cmd.Process.Kill()
		_ = en.Cmd.Wait()
		return err
	}
	if err = json.NewEncoder(en.config).Encode(cfg); err != nil {
		err = fmt.Errorf("send config: %w", err)
	}
	en.config.Close()
	if err != nil {
		_ = en.Cmd.Process.Kill()
		_ = en.Cmd.Wait()
	}
	return err
}

// joinCgroup moves the role into the container's cgroup while it waits
// for its config, so that what it runs counts against the container's
// limits and freezes with it. nsenter forks only to enter a pid
// namespace, which it is not asked to: the role is nsenter's own process,
// which execs it.
func (en *Entry) joinCgroup() error {
	if en.cgroup == "" {
		return nil
	}
	if err := (cgdelegate.Group{Dir: en.cgroup}).Attach(context.Background(), en.Cmd.Process.Pid); err != nil {
		return fmt.Errorf("join the container's cgroup: %w", err)
	}
	return nil
}

// LeaveCgroup moves a role that started a process of the container (the
// Exec role, once it said so) out of the container's cgroup, where it
// made it start: it only waits for it now, and is box's, not the
// container's (its threads would count against --pids-limit).
func (en *Entry) LeaveCgroup() error {
	if en.cgroup == "" {
		return nil
	}
	if err := (cgdelegate.Group{Dir: en.cgroup}).Leave(en.Cmd.Process.Pid); err != nil {
		return fmt.Errorf("leave the container's cgroup: %w", err)
	}
	return nil
}

// Close releases the pipes to the role.
func (en *Entry) Close() {
	en.config.Close()
	en.Status.Close()
}

// sealedSelf copies the running box binary into a sealed memfd.
func sealedSelf() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open box binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("box", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd for box: %w", err)
	}
	f := os.NewFile(uintptr(fd), "box")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy box binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal box binary: %w", err)
	}
	return f, nil
}
