package stage

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/sandbox"
)

// Join is a network namespace to start the container in, with the user
// namespace the stage must be in to enter it (--network container:NAME,
// ns:PATH). The CLI opens both.
type Join struct {
	UserNS *os.File
	NetNS  *os.File
}

// JoinMain is the StageJoin role: nsenter has put it in the user
// namespace of the network's owner, as root there. It starts the stage in
// new mount and pid namespaces below that user namespace and stays as its
// parent, passing signals on, until it ends. Go cannot make those
// namespaces for itself once it has threads; a child cloned with them can.
func JoinMain() int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "box: %v\n", err)
		return 125
	}
	var req Request
	if err := json.NewDecoder(os.NewFile(fdRequest, "request")).Decode(&req); err != nil {
		return fail(fmt.Errorf("read request: %w", err))
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"box-stage"}
	cmd.Env = append(os.Environ(), roles.Env+"="+roles.Stage)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{
		reqR, os.NewFile(fdReplies, "replies"), os.NewFile(fdConsole, "console"), os.NewFile(fdNetNS, "netns"),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start box's stage: %w", err))
	}
	reqR.Close()
	// The CLI waits for the reply pipe's end: only the stage may hold it.
	for _, f := range cmd.ExtraFiles[1:] {
		f.Close()
	}
	// This process is in the host's pid namespace: the stage's pid here is
	// the host pid the records need to judge its liveness.
	req.HostPID = cmd.Process.Pid
	err = json.NewEncoder(reqW).Encode(req)
	reqW.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fail(fmt.Errorf("send request to stage: %w", err))
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals()...)
	go func() {
		for sig := range sigs {
			_ = cmd.Process.Signal(sig)
		}
	}()
	return sandbox.ExitCode(cmd.ProcessState, cmd.Wait())
}
