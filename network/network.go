// Package network decides a container's network: it reads --network and
// --add-host, and writes the container's /etc/hosts and /etc/resolv.conf.
// It only decides; netslirp and portfwd act on the kernel.
package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kind is how a container is networked.
type Kind string

const (
	Slirp     Kind = "slirp4netns" // its own namespace, user-mode stack; the rootless default
	None      Kind = "none"        // its own namespace, loopback only
	Host      Kind = "host"        // the host's namespace
	Container Kind = "container"   // another container's namespace (container:NAME)
	NS        Kind = "ns"          // the namespace at a path (ns:PATH)
)

// Port handlers publish ports (-p) for slirp4netns.
const (
	RootlessKit = "rootlesskit" // rootlesskit's builtin driver: the fast path, the default
	SlirpPorts  = "slirp4netns" // slirp4netns's own forwarding: keeps the client's address
)

// ErrBadMode is a --network value box cannot use.
var ErrBadMode = errors.New("invalid --network")

// Mode is a parsed --network.
type Mode struct {
	Kind              Kind
	AllowHostLoopback bool   // slirp4netns: the host's 127.0.0.1 is reachable as the gateway
	MTU               int    // slirp4netns: 0 is its default
	PortHandler       string // slirp4netns: RootlessKit or SlirpPorts
	Target            string // container:NAME or ns:PATH
}

// Parse reads --network: slirp4netns[:opt=v,...], none, host,
// container:NAME, ns:PATH; "" (and Docker's bridge or default, podman's
// private) is the default, slirp4netns.
func Parse(s string) (Mode, error) {
	kind, opts, hasOpts := strings.Cut(s, ":")
	switch kind {
	case "", "bridge", "default", "private":
		if hasOpts {
			return Mode{}, fmt.Errorf("%w %q: %s takes no options", ErrBadMode, s, kind)
		}
		return Mode{Kind: Slirp, PortHandler: RootlessKit}, nil
	case string(Slirp):
		m := Mode{Kind: Slirp, PortHandler: RootlessKit}
		if !hasOpts {
			return m, nil
		}
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "allow_host_loopback":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return Mode{}, fmt.Errorf("%w %q: allow_host_loopback takes true or false", ErrBadMode, s)
				}
				m.AllowHostLoopback = b
			case "mtu":
				n, err := strconv.Atoi(v)
				if err != nil || n < 68 || n > 65521 {
					return Mode{}, fmt.Errorf("%w %q: mtu takes a number from 68 to 65521", ErrBadMode, s)
				}
				m.MTU = n
			case "port_handler":
				if v != RootlessKit && v != SlirpPorts {
					return Mode{}, fmt.Errorf("%w %q: port_handler is rootlesskit or slirp4netns", ErrBadMode, s)
				}
				m.PortHandler = v
			default:
				return Mode{}, fmt.Errorf("%w %q: slirp4netns options are allow_host_loopback, mtu and port_handler", ErrBadMode, s)
			}
		}
		return m, nil
	case "pasta":
		// Podman's other network, named so that box can say what instead.
		// Debian 12's passt (2023-03) joins a user namespace on its own
		// and cannot work from inside box's, where the stage is.
		return Mode{}, fmt.Errorf("%w %q: box does not run pasta; use slirp4netns (the default)", ErrBadMode, s)
	case string(None), string(Host):
		if hasOpts {
			return Mode{}, fmt.Errorf("%w %q: %s takes no options", ErrBadMode, s, kind)
		}
		return Mode{Kind: Kind(kind)}, nil
	case string(Container), string(NS):
		if opts == "" {
			return Mode{}, fmt.Errorf("%w %q: name the %s after the colon", ErrBadMode, s, map[string]string{"container": "container", "ns": "namespace's path"}[kind])
		}
		if kind == string(NS) && !strings.HasPrefix(opts, "/") {
			return Mode{}, fmt.Errorf("%w %q: the namespace's path must be absolute", ErrBadMode, s)
		}
		return Mode{Kind: Kind(kind), Target: opts}, nil
	}
	return Mode{}, fmt.Errorf("%w %q: want slirp4netns[:options], none, host, container:NAME or ns:PATH", ErrBadMode, s)
}

// OwnNamespace says the container gets a network namespace of its own.
func (m Mode) OwnNamespace() bool {
	return m.Kind == Slirp || m.Kind == None
}

// HostEntry is an --add-host entry.
type HostEntry struct {
	Name string
	IP   string // an address, or "host-gateway"
}

// ParseAddHost reads --add-host NAME:IP (also NAME=IP; IP may be an IPv6
// address, in brackets or not, or host-gateway).
func ParseAddHost(s string) (HostEntry, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if !ok || name == "" || ip == "" {
		return HostEntry{}, fmt.Errorf("invalid --add-host %q: want NAME:IP", s)
	}
	// Each becomes one field of an /etc/hosts line: a blank, a control
	// character (a newline would start a line of its own) or a '#' would
	// make it something else.
	bad := func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }
	if strings.ContainsFunc(name, bad) {
		return HostEntry{}, fmt.Errorf("invalid --add-host %q: bad host name", s)
	}
	if ip != "host-gateway" {
		// netip takes anything as an IPv6 zone ("fe80::1%eth0\nevil").
		if _, err := netip.ParseAddr(ip); err != nil || strings.ContainsFunc(ip, bad) {
			return HostEntry{}, fmt.Errorf("invalid --add-host %q: %q is not an IP address (or host-gateway)", s, ip)
		}
	}
	return HostEntry{Name: name, IP: ip}, nil
}

// Etc is what a container's /etc/hosts and /etc/resolv.conf say.
type Etc struct {
	Hostname string
	Mode     Mode
	// Guest and Gateway are the container's address and its way out
	// (slirp4netns's 10.0.2.100 and 10.0.2.2); DNS is slirp4netns's
	// forwarder, used when the host has only loopback name servers.
	Guest, Gateway, DNS string
	ExtraHosts          []HostEntry
	DNSServers          []string // --dns
	DNSSearch           []string // --dns-search; "." alone means none
	DNSOptions          []string // --dns-option
}

// Hosts is the container's /etc/hosts; hostHosts is the host's, which a
// container on the host's network gets as it is, plus --add-host.
func (e Etc) Hosts(hostHosts []byte) string {
	var b strings.Builder
	if e.Mode.Kind == Host {
		b.Write(hostHosts)
		if len(hostHosts) > 0 && !bytes.HasSuffix(hostHosts, []byte("\n")) {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
		self := "127.0.1.1"
		if e.Guest != "" {
			self = e.Guest
		}
		fmt.Fprintf(&b, "%s\t%s\n", self, e.Hostname)
		if e.Mode.AllowHostLoopback && e.Gateway != "" {
			fmt.Fprintf(&b, "%s\thost.containers.internal host.docker.internal\n", e.Gateway)
		}
	}
	for _, h := range e.ExtraHosts {
		ip := h.IP
		if ip == "host-gateway" {
			if ip = e.Gateway; ip == "" {
				ip = "127.0.0.1" // the host's network: the host is here
			}
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, h.Name)
	}
	return b.String()
}

// ResolvConf is the container's /etc/resolv.conf: the host's, with name
// servers on the host's loopback (systemd-resolved, dnsmasq) replaced by
// slirp4netns's forwarder, which reaches them, and with --dns,
// --dns-search and --dns-option replacing what they name.
func (e Etc) ResolvConf(hostResolv []byte) string {
	var servers, search, options, other []string
	sc := bufio.NewScanner(bytes.NewReader(hostResolv))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				servers = append(servers, f[1])
			}
		case "search", "domain":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		default:
			other = append(other, sc.Text())
		}
	}
	if e.Mode.Kind != Host {
		var kept []string
		for _, s := range servers {
			if a, err := netip.ParseAddr(s); err == nil && !a.IsLoopback() {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 && e.DNS != "" {
			kept = []string{e.DNS}
		}
		if len(kept) > 0 || (e.Mode.Kind != None && e.Mode.Kind != Host) {
			servers = kept
		}
	}
	if len(e.DNSServers) > 0 {
		servers = e.DNSServers
	}
	if len(e.DNSSearch) > 0 {
		search = e.DNSSearch
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(e.DNSOptions) > 0 {
		options = e.DNSOptions
	}
	var b strings.Builder
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	for _, l := range other {
		b.WriteString(l + "\n")
	}
	return b.String()
}
