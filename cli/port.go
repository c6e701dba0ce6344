package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/portfwd"
)

type portCmd struct {
	Container string `arg:"" help:"Container."`
	Port      string `arg:"" optional:"" help:"Only this container port: PORT[/PROTO]."`
}

// errNoPort: the container does not publish the port asked about.
type errNoPort struct{ port, name string }

func (e errNoPort) Error() string {
	return fmt.Sprintf("no public port %s published for %s", e.port, e.name)
}

func (c *portCmd) Run(e *env) error {
	_, _, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	ports := ct.State.Ports
	if ct.State.Status != container.Running {
		ports = nil // Docker: nothing is published by a container that does not run
	}
	if c.Port == "" {
		for _, p := range ports {
			fmt.Fprintf(e.stdout, "%d/%s -> %s\n", p.ContainerPort, p.Proto, hostAddr(p))
		}
		return nil
	}
	want, err := portfwd.ParseExposed(c.Port)
	if err != nil || len(want) != 1 {
		return fmt.Errorf("invalid port %q: want PORT[/PROTO]", c.Port)
	}
	found := false
	for _, p := range ports {
		if p.ContainerPort == want[0].ContainerPort && p.Proto == want[0].Proto {
			fmt.Fprintln(e.stdout, hostAddr(p))
			found = true
		}
	}
	if !found {
		return errNoPort{fmt.Sprintf("%d/%s", want[0].ContainerPort, want[0].Proto), ct.Config.Name}
	}
	return nil
}

// hostAddr is where the host reaches a published port: 0.0.0.0:8080.
func hostAddr(p container.Port) string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return net.JoinHostPort(ip, strconv.Itoa(p.HostPort))
}

// portsColumn is ps's PORTS: 0.0.0.0:8080->80/tcp, ...
func portsColumn(ct *container.Container) string {
	if ct.State.Status != container.Running {
		return ""
	}
	var out []string
	for _, p := range ct.State.Ports {
		out = append(out, fmt.Sprintf("%s->%d/%s", hostAddr(p), p.ContainerPort, p.Proto))
	}
	return strings.Join(out, ", ")
}
