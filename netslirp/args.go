package netslirp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultMTU is slirp4netns's MTU when Options.MTU is 0: the largest it
// allows but one, as rootlesskit and podman use; 1500 costs throughput.
const DefaultMTU = 65520

// DefaultCIDR is slirp4netns's own network.
const DefaultCIDR = "10.0.2.0/24"

// The addresses of DefaultCIDR; Addrs derives them for any other.
const (
	GuestAddr   = "10.0.2.100" // the container, on tap0
	GatewayAddr = "10.0.2.2"   // the host (and its loopback, if allowed)
	DNSAddr     = "10.0.2.3"   // forwards to the host's resolvers
)

// Addresses are the well-known addresses of a slirp4netns network.
type Addresses struct {
	Prefix  netip.Prefix // the network, masked
	Guest   netip.Addr   // network + 100, set on tap0 by --configure
	Gateway netip.Addr   // network + 2
	DNS     netip.Addr   // network + 3
}

// Addrs returns the addresses slirp4netns uses in cidr ("" means
// DefaultCIDR). It refuses what slirp4netns refuses: IPv6, and prefixes
// longer than /25, which have no room for the guest at network + 100.
func Addrs(cidr string) (Addresses, error) {
	if cidr == "" {
		cidr = DefaultCIDR
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return Addresses{}, fmt.Errorf("slirp4netns cidr %q: %w", cidr, err)
	}
	if !p.Addr().Is4() {
		return Addresses{}, fmt.Errorf("slirp4netns cidr %q: not an IPv4 network", cidr)
	}
	if p.Bits() < 1 || p.Bits() > 25 {
		return Addresses{}, fmt.Errorf("slirp4netns cidr %q: prefix length must be 1 to 25", cidr)
	}
	p = p.Masked()
	base := p.Addr().As4()
	at := func(off byte) netip.Addr {
		a := base
		a[3] += off // a /25 or shorter leaves the last byte at 0 or 128: no carry
		return netip.AddrFrom4(a)
	}
	return Addresses{Prefix: p, Guest: at(100), Gateway: at(2), DNS: at(3)}, nil
}

// features are the optional flags the installed slirp4netns knows.
type features struct {
	sandbox bool // --enable-sandbox (v0.4.0)
	seccomp bool // --enable-seccomp (v0.4.0)
}

// parseHelp reads the features from `slirp4netns --help`, as rootlesskit
// does: every option is listed there, and older versions lack the newer ones.
func parseHelp(help string) features {
	return features{
		sandbox: strings.Contains(help, "--enable-sandbox"),
		seccomp: strings.Contains(help, "--enable-seccomp"),
	}
}

// The descriptors slirp4netns inherits (exec.Cmd.ExtraFiles start at 3).
const (
	readyFD = 3
	exitFD  = 4
)

// args is slirp4netns's argv after the program name, attaching it to the
// network namespace at netnsPath.
//
// The namespace goes by path, not by pid: with a pid slirp4netns also
// tries to join /proc/PID/ns/user, which is the caller's own namespace or
// a child of it (keep-id), and sandbox and userns joining do not mix
// (slirp4netns#317). The caller must therefore already hold CAP_SYS_ADMIN
// over the namespace's owner, as box's stage does.
func args(o Options, f features, netnsPath string) ([]string, error) {
	mtu := o.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < 68 || mtu > 65521 {
		return nil, fmt.Errorf("slirp4netns mtu %d: must be 68 to 65521", o.MTU)
	}
	addrs, err := Addrs(o.CIDR)
	if err != nil {
		return nil, err
	}
	if netnsPath == "" {
		return nil, fmt.Errorf("slirp4netns: no network namespace")
	}
	a := []string{
		"--configure",
		"--mtu=" + strconv.Itoa(mtu),
		"--cidr=" + addrs.Prefix.String(),
		"--ready-fd=" + strconv.Itoa(readyFD),
		"--exit-fd=" + strconv.Itoa(exitFD),
	}
	if !o.AllowHostLoopback {
		a = append(a, "--disable-host-loopback")
	}
	if o.EnableIPv6 {
		a = append(a, "--enable-ipv6")
	}
	if o.APISocket != "" {
		a = append(a, "--api-socket="+o.APISocket)
	}
	if o.MACAddress != "" {
		a = append(a, "--macaddress="+o.MACAddress)
	}
	if f.sandbox {
		a = append(a, "--enable-sandbox")
	}
	if f.seccomp {
		a = append(a, "--enable-seccomp")
	}
	return append(a, "--netns-type=path", netnsPath, "tap0"), nil
}
