// Package enter runs one of box's roles inside the namespaces of a running
// container (box exec, box cp, healthchecks). Go cannot join a user
// namespace once it has threads, so util-linux nsenter joins them, and runs
// box from a sealed memfd copy, never the host binary, which the container
// could otherwise reach through /proc/PID/exe (CVE-2019-5736).
//
// The role's fds: 3 the copy of box, 4 its config (JSON), 5 its status;
// callers may append more to Cmd.ExtraFiles.
package enter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
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
// init as this process's /proc numbers it. cgroup is the container's
// cgroup directory, which the role joins ("" for none).
func New(target int, cgroup, role string, namespaces ...string) (*Entry, error) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		return nil, fmt.Errorf("entering a running container needs nsenter: install util-linux")
	}
	args := []string{"--target", strconv.Itoa(target)}
	for _, ns := range namespaces {
		// A caller already in the container's user namespace (the
		// monitor) cannot enter it again: setns refuses with EINVAL.
		if ns == "--user" && sameUserNS(target) {
			continue
		}
		args = append(args, ns)
	}
	self, err := sealedSelf()
	if err != nil {
		return nil, err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		self.Close()
		return nil, err
	}
	stR, stW, err := os.Pipe()
	if err != nil {
		self.Close()
		cfgR.Close()
		cfgW.Close()
		return nil, err
	}
	cmd := exec.Command("nsenter", append(args, "/proc/self/fd/3")...)
	cmd.Env = []string{roles.Env + "=" + role}
	cmd.ExtraFiles = []*os.File{self, cfgR, stW}
	return &Entry{Cmd: cmd, config: cfgW, Status: stR, child: []*os.File{self, cfgR, stW}, cgroup: cgroup}, nil
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
// limits and freezes with it. Only the role: nsenter, which forked it to
// enter the pid namespace and waits for it, is box's, not the container's.
func (en *Entry) joinCgroup() error {
	if en.cgroup == "" {
		return nil
	}
	role, err := container.FirstChild(en.Cmd.Process.Pid, 5*time.Second)
	if err == nil {
		err = cgdelegate.Group{Dir: en.cgroup}.Attach(context.Background(), role)
	}
	if err != nil {
		return fmt.Errorf("join the container's cgroup: %w", err)
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
