package cli

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"

	"github.com/boxcli/box/build"
	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/config"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/diskreserve"
	"github.com/boxcli/box/dockerfile"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/portfwd"
	"github.com/boxcli/box/registry"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/subid"
	"github.com/boxcli/box/tarcp"
	"github.com/boxcli/box/userns"
	"github.com/boxcli/box/volume"
)

// exitCode is a command's own request for a status, with nothing to print
// (the container's status, or a partial failure already reported).
type exitCode int

func (c exitCode) Error() string { return "exit status" }

// seeDoctor ends messages whose cause box doctor checks.
const seeDoctor = " ('box doctor' checks what this machine lacks)"

// report words err for the user and chooses the exit code: Docker's
// 125 for box's own errors, 126 and 127 for commands that cannot run,
// the container's status otherwise.
func report(e *env, err error) int {
	if err == nil {
		return 0
	}
	var (
		exit   *stage.ExitError
		code   exitCode
		noPort errNoPort
	)
	switch {
	case errors.As(err, &exit):
		return exit.Code
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, stage.ErrOutputGone):
		// box save | head: the reader has what it wanted. Nothing to
		// say; the status a shell gives a process SIGPIPE ended.
		return 128 + int(syscall.SIGPIPE)
	case errors.Is(err, build.ErrStepFailed):
		// Docker's status for a failed build; the step's output is shown.
		return fail(e, 1, "%v", err)
	case errors.Is(err, stage.ErrInterrupted):
		return fail(e, 130, "%v", err)
	case errors.Is(err, stage.ErrBadDockerfile):
		return fail(e, 125, "%v", strings.TrimSuffix(err.Error(), ": "+stage.ErrBadDockerfile.Error()))
	case errors.Is(err, dockerfile.ErrUnknownTarget):
		return fail(e, 125, "%v; --target names a stage (FROM IMAGE AS NAME)", err)
	case errors.Is(err, stage.ErrNoDockerfile):
		return fail(e, 125, "%v", err)
	case errors.Is(err, build.ErrNoContext), errors.Is(err, build.ErrSecretMissing):
		return fail(e, 125, "%v", err)
	case errors.Is(err, sandbox.ErrNotFound):
		return fail(e, 127, "%v", err)
	case errors.Is(err, sandbox.ErrCannotExecute):
		return fail(e, 126, "%v", err)
	case errors.As(err, new(*needsLogin)):
		return fail(e, 125, "%v", err)
	case errors.Is(err, registry.ErrUnreachable):
		return fail(e, 125, "%v; check the address and that the registry runs (a private CA needs --cert-dir; plain http needs --tls-verify=false)", err)
	case errors.Is(err, registry.ErrNotLoggedIn):
		return fail(e, 125, "%v", err)
	case errors.Is(err, registry.ErrNotFound):
		return fail(e, 125, "%v", err)
	case errors.Is(err, image.ErrImageNotFound):
		return fail(e, 125, "%v; see 'box images', or add it with 'box load -i FILE' or 'box import'", err)
	case errors.Is(err, image.ErrBadReference), errors.Is(err, registry.ErrBadReference):
		return fail(e, 125, "%v; an image reference looks like name[:tag] or a hex image ID", err)
	case errors.Is(err, image.ErrDriverUnavailable):
		return fail(e, 125, "%v; choose another with --storage-driver (overlay, fuse-overlayfs or vfs)%s", err, seeDoctor)
	case errors.Is(err, container.ErrNameInUse):
		return fail(e, 125, "%v; remove that container (box rm NAME) or choose another --name", err)
	case errors.Is(err, container.ErrNotFound), errors.Is(err, container.ErrAmbiguous):
		return fail(e, 125, "%v; see 'box ps -a'", err)
	case errors.Is(err, errRunning):
		return fail(e, 125, "%v", err)
	case errors.Is(err, portfwd.ErrPrivilegedPort):
		return fail(e, 125, "%v; publish on a host port of at least that, or lower the limit (sudo sysctl net.ipv4.ip_unprivileged_port_start=PORT)", err)
	case errors.Is(err, portfwd.ErrPortInUse):
		return fail(e, 125, "%v; stop what listens there or choose another host port", err)
	case errors.Is(err, netslirp.ErrNotInstalled):
		return fail(e, 125, "%v; install the slirp4netns package, or use --network none%s", err, seeDoctor)
	case errors.As(err, &noPort):
		return fail(e, 125, "%v; see box port %s", err, noPort.name)
	case errors.Is(err, cgdelegate.ErrNoController):
		return fail(e, 125, "%v; have systemd delegate them to users (systemctl edit user@.service: [Service] Delegate=cpu cpuset io memory pids) or leave out those limits%s", err, seeDoctor)
	case errors.Is(err, cgdelegate.ErrUnavailable):
		return fail(e, 125, "%v; resource limits and pause need cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1) and a systemd user session (loginctl enable-linger $USER), or a cgroup delegated to you (--cgroup-manager=cgroupfs)%s", err, seeDoctor)
	case errors.Is(err, subid.ErrNoRange):
		return fail(e, 125, "%v; add a range (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER) or use --userns=single%s", err, seeDoctor)
	case errors.Is(err, userns.ErrNoHelper):
		return fail(e, 125, "%v; install the uidmap package or use --userns=single%s", err, seeDoctor)
	case errors.Is(err, userns.ErrRefused):
		return fail(e, 125, "%v; run 'box doctor' for why and the fix", err)
	case errors.Is(err, config.ErrInvalid):
		return fail(e, 125, "%v; fix the file, or move it aside", err)
	case errors.Is(err, errNoVolume):
		return fail(e, 125, "%v; see 'box volume ls'", err)
	case errors.Is(err, volume.ErrBadName):
		return fail(e, 125, "%v", err)
	case errors.Is(err, tarcp.ErrNotFound), errors.Is(err, tarcp.ErrNotDir):
		return fail(e, 125, "%v; check the path (CONTAINER:PATH is in the container, any other path on the host)", err)
	case errors.Is(err, tarcp.ErrSymlinkInWay):
		return fail(e, 125, "%v; box cp follows no symlink below its destination: did something that shares the directory change it meanwhile?", err)
	case diskreserve.NoSpace(err):
		return fail(e, 125, "%v; %s", err, noSpaceFix())
	}
	if machineCause(err) {
		return fail(e, 125, "%v%s", err, seeDoctor)
	}
	return fail(e, 125, "%v", err)
}

// machineCause says whether an error box has no sentinel for comes from
// something box doctor checks: a device node, a helper, the user
// namespace.
func machineCause(err error) bool {
	msg := err.Error()
	for _, s := range []string{"/dev/fuse", "/dev/net/tun", "newuidmap", "newgidmap", "fuse-overlayfs", "slirp4netns"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// pathError is err without the operation and path a *fs.PathError repeats
// ("open /x: no such file or directory" becomes "no such file or
// directory"), for messages that name the path and its role themselves.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
