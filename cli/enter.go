package cli

import (
	"context"
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

// entry is a box role that util-linux nsenter runs inside a running
// container's namespaces (exec, cp). Go cannot join a user namespace once
// it has threads, so nsenter joins them, and runs box from a sealed memfd
// copy, never the host binary, which the container could otherwise reach
// through /proc/PID/exe (CVE-2019-5736). fds: 3 the copy of box, 4 the
// config (JSON), 5 the role's status; the caller may append more.
type entry struct {
	cmd    *exec.Cmd
	config *os.File // write the role's config here once started
	status *os.File // the role's one status message
	child  []*os.File
	cgroup string // the container's (cgdelegate.Group), "" for none
}

func newEntry(ct *container.Container, role string, namespaces ...string) (*entry, error) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		return nil, fmt.Errorf("entering a running container needs nsenter: install util-linux")
	}
	initPid, err := container.InitOf(ct.State.Pid)
	if err != nil {
		return nil, err
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
	args := append([]string{"--target", strconv.Itoa(initPid)}, namespaces...)
	cmd := exec.Command("nsenter", append(args, "/proc/self/fd/3")...)
	cmd.Env = []string{roles.Env + "=" + role}
	cmd.ExtraFiles = []*os.File{self, cfgR, stW}
	en := &entry{cmd: cmd, config: cfgW, status: stR, child: []*os.File{self, cfgR, stW}, cgroup: ct.State.Cgroup}
	return en, nil
}

// start starts nsenter and sends cfg to the role.
func (en *entry) start(cfg any) error {
	err := en.cmd.Start()
	for _, f := range en.child {
		f.Close() // the child has its copies
	}
	if err != nil {
		return fmt.Errorf("start nsenter: %w", err)
	}
	if err := en.joinCgroup(); err != nil {
		en.config.Close()
		_ = en.cmd.Process.Kill()
		_ = en.cmd.Wait()
		return err
	}
	err = writeJSON(en.config, cfg)
	en.config.Close()
	if err != nil {
		_ = en.cmd.Process.Kill()
		_ = en.cmd.Wait()
	}
	return err
}

// joinCgroup moves the role into the container's cgroup while it waits
// for its config, so that what exec runs counts against the container's
// limits and freezes with it. Only the role: nsenter, which forked it to
// enter the pid namespace and waits for it, is box's, not the container's.
func (en *entry) joinCgroup() error {
	if en.cgroup == "" {
		return nil
	}
	role, err := container.FirstChild(en.cmd.Process.Pid, 5*time.Second)
	if err == nil {
		err = cgdelegate.Group{Dir: en.cgroup}.Attach(context.Background(), role)
	}
	if err != nil {
		return fmt.Errorf("join the container's cgroup: %w", err)
	}
	return nil
}

func (en *entry) close() {
	en.config.Close()
	en.status.Close()
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
