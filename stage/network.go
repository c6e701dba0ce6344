package stage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/network"
	"github.com/boxcli/box/portfwd"
)

// netSetupTimeout bounds attaching slirp4netns and publishing ports.
const netSetupTimeout = 30 * time.Second

// netStack is a running container's way out: slirp4netns on its network
// namespace and the forwarder of its published ports. Both live in (or
// as a child of) the stage, so they end with it, even on SIGKILL.
type netStack struct {
	slirp *netslirp.Slirp
	fwd   *portfwd.Forwarder
	dir   *os.File // the runtime dir, open: the port driver's socket is in it
}

// startNetwork attaches the network of mode to the namespace of the
// container's init, pid, and publishes ports. Called before the init may
// go on, so the command starts with its network up.
func startNetwork(pid int, runDir string, mode network.Mode, mac string, ports []container.Port) (_ *netStack, err error) {
	if mode.Kind != network.Slirp {
		return &netStack{}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), netSetupTimeout)
	defer cancel()
	nsPath := fmt.Sprintf("/proc/%d/ns/net", pid)
	n := &netStack{}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	opts := netslirp.Options{MTU: mode.MTU, AllowHostLoopback: mode.AllowHostLoopback, MACAddress: mac}
	driver := portfwd.RootlessKit
	if mode.PortHandler == network.SlirpPorts && len(ports) > 0 {
		driver = portfwd.Slirp4netns
		opts.APISocket = filepath.Join(runDir, "slirp.sock")
	}
	if n.slirp, err = netslirp.Start(ctx, nsPath, opts); err != nil {
		return nil, err
	}
	if len(ports) == 0 {
		return n, nil
	}
	if n.dir, err = os.Open(runDir); err != nil {
		return nil, err
	}
	specs := make([]portfwd.Spec, len(ports))
	for i, p := range ports {
		specs[i] = portfwd.Spec(p)
	}
	// Through the open dir: a socket address is too short for some
	// runtime dirs.
	stateDir := fmt.Sprintf("/proc/self/fd/%d", n.dir.Fd())
	n.fwd, err = portfwd.Start(ctx, nsPath, driver, specs, portfwd.WithSlirp(n.slirp), portfwd.WithStateDir(stateDir))
	if err != nil {
		return nil, err
	}
	return n, nil
}

// ports are the published ports, with the host ports actually bound.
func (n *netStack) ports() []container.Port {
	if n == nil || n.fwd == nil {
		return nil
	}
	var out []container.Port
	for _, s := range n.fwd.Ports() {
		out = append(out, container.Port(s))
	}
	return out
}

// close stops forwarding and slirp4netns. Only after the container's
// processes are gone: see portfwd.Forwarder.Close.
func (n *netStack) close() {
	if n == nil {
		return
	}
	if n.fwd != nil {
		_ = n.fwd.Close()
	}
	if n.slirp != nil {
		// It ends on its own when the namespace goes; that is no error.
		_ = n.slirp.Close()
	}
	if n.dir != nil {
		n.dir.Close()
	}
}
