package cli

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/network"
	"github.com/boxcli/box/stage"
)

// resolveNetworkTarget names container:NAME's container by its ID, so the
// record still means it after a rename; ns:PATH must exist.
func resolveNetworkTarget(records *container.Store, mode network.Mode) (string, error) {
	switch mode.Kind {
	case network.Container:
		ct, err := records.Get(mode.Target)
		if err != nil {
			return "", fmt.Errorf("--network container:%s: %w", mode.Target, err)
		}
		return "container:" + ct.Config.ID, nil
	case network.NS:
		if _, err := os.Stat(mode.Target); err != nil {
			return "", fmt.Errorf("--network ns:%s: %w", mode.Target, err)
		}
		return "ns:" + mode.Target, nil
	}
	return "", nil
}

// joinNetwork opens the network namespace a container:NAME or ns:PATH
// container starts in, with the user namespace that owns it, for the
// stage (nil for every other network). The caller closes both.
func joinNetwork(records *container.Store, netMode string) (*stage.Join, error) {
	mode, err := network.Parse(netMode)
	if err != nil || (mode.Kind != network.Container && mode.Kind != network.NS) {
		return nil, err
	}
	var netPath, userPath string
	switch mode.Kind {
	case network.Container:
		ct, err := records.Get(mode.Target)
		if err != nil {
			return nil, fmt.Errorf("the network's container: %w", err)
		}
		if ct.State.Status != container.Running {
			return nil, fmt.Errorf("container %s, whose network this one joins, %w; start it first", ct.Config.Name, errNotRunning)
		}
		init, err := container.InitPid(ct.State)
		if err != nil {
			return nil, err
		}
		// Its keeper's user namespace: the init's may be keep-id's nested
		// one, with other id maps than the store's.
		netPath, userPath = fmt.Sprintf("/proc/%d/ns/net", init), fmt.Sprintf("/proc/%d/ns/user", ct.State.MonitorPid)
	case network.NS:
		netPath = mode.Target
	}
	netns, err := os.Open(netPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	var userns *os.File
	if userPath != "" {
		userns, err = os.Open(userPath)
	} else {
		// The namespace's owner: only from there (or above) may one enter.
		var fd int
		if fd, err = unix.IoctlRetInt(int(netns.Fd()), unix.NS_GET_USERNS); err == nil {
			userns = os.NewFile(uintptr(fd), "userns")
		}
	}
	if err != nil {
		netns.Close()
		if strings.HasPrefix(netMode, "ns:") {
			return nil, fmt.Errorf("%s is not a network namespace box can join: %w", mode.Target, err)
		}
		return nil, fmt.Errorf("open the network's user namespace: %w", err)
	}
	return &stage.Join{UserNS: userns, NetNS: netns}, nil
}

// close releases what joinNetwork opened.
func closeJoin(j *stage.Join) {
	if j != nil {
		j.NetNS.Close()
		j.UserNS.Close()
	}
}
