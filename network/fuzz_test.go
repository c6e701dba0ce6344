package network

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// FuzzParse checks --network: no panic; errors are ErrBadMode on one
// line; what is accepted is a known kind with options only where that
// kind has them, each in range.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "bridge", "default", "private", "slirp4netns", "slirp4netns:", "none", "host", "pasta", "pasta:-T,8080",
		"slirp4netns:allow_host_loopback=true,mtu=1500,port_handler=slirp4netns", "slirp4netns:mtu=68", "slirp4netns:mtu=65521",
		"container:web", "ns:/run/netns/x", "slirp4netns:mtu=10", "slirp4netns:mtu=65522", "slirp4netns:mtu=-1",
		"slirp4netns:mtu=0x5dc", "slirp4netns:allow_host_loopback=maybe", "slirp4netns:port_handler=x",
		"slirp4netns:bogus=1", "slirp4netns:,", "none:x", "host:", "container:", "ns:relative", "ns:", "macvlan",
		"bridge:x", "container:a\nb", "ns:/x\x00", "slirp4netns:mtu=1500\n", "HOST", "slirp4netns:mtu=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrBadMode) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("Parse(%q) error %q: not ErrBadMode on one line", s, err)
			}
			if m != (Mode{}) {
				t.Fatalf("Parse(%q) = %+v with error %v", s, m, err)
			}
			return
		}
		switch m.Kind {
		case Slirp:
			if m.PortHandler != RootlessKit && m.PortHandler != SlirpPorts {
				t.Fatalf("Parse(%q) = %+v: port handler", s, m)
			}
			if m.MTU != 0 && (m.MTU < 68 || m.MTU > 65521) {
				t.Fatalf("Parse(%q) = %+v: MTU out of range", s, m)
			}
			if m.Target != "" {
				t.Fatalf("Parse(%q) = %+v: a target", s, m)
			}
		case None, Host:
			if m != (Mode{Kind: m.Kind}) {
				t.Fatalf("Parse(%q) = %+v: options on %s", s, m, m.Kind)
			}
		case Container, NS:
			if m.Target == "" || m.MTU != 0 || m.AllowHostLoopback || m.PortHandler != "" {
				t.Fatalf("Parse(%q) = %+v", s, m)
			}
			if m.Kind == NS && !strings.HasPrefix(m.Target, "/") {
				t.Fatalf("Parse(%q) = %+v: relative namespace path", s, m)
			}
			if want := string(m.Kind) + ":" + m.Target; s != want {
				t.Fatalf("Parse(%q) = %+v, which is %q", s, m, want)
			}
		default:
			t.Fatalf("Parse(%q) = %+v: unknown kind", s, m)
		}
		if m.OwnNamespace() != (m.Kind == Slirp || m.Kind == None) {
			t.Fatalf("Parse(%q) = %+v: OwnNamespace %v", s, m, m.OwnNamespace())
		}
	})
}

// FuzzParseAddHost checks --add-host and the /etc/hosts line it becomes:
// no panic; errors on one line; an accepted entry has a name without
// blanks, '#' or control characters and an IP address (or host-gateway)
// that parses, and adds exactly one line to /etc/hosts that reads back as
// that address and that name.
func FuzzParseAddHost(f *testing.F) {
	for _, s := range []string{
		"db:10.1.2.3", "db=10.1.2.3", "v6:fd00::1", "v6:[fd00::1]", "gw:host-gateway", "a.b-c:::1",
		"db", ":1.2.3.4", "db:notanip", "a b:1.2.3.4", "a#b:1.2.3.4", "db:", "=", "db:[1.2.3.4",
		"db:1.2.3.4:5", "db:fe80::1%eth0", "db:fe80::1%eth0\nevil", "x=fe80::1%a b", "x=fe80::1%a\x00",
		"a\nb:1.2.3.4", "a\rb=1.2.3.4", "a\x00:1.2.3.4", "a\vb:1.2.3.4", "db:1.2.3.4\n", "db:[::ffff:1.2.3.4]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseAddHost(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("ParseAddHost(%q) error %q spans lines", s, err)
			}
			return
		}
		if h.Name == "" || strings.ContainsFunc(h.Name, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			t.Fatalf("ParseAddHost(%q) = %+v: bad name", s, h)
		}
		if h.IP != "host-gateway" {
			if _, err := netip.ParseAddr(h.IP); err != nil {
				t.Fatalf("ParseAddHost(%q) = %+v: %v", s, h, err)
			}
		}
		if strings.ContainsFunc(h.IP, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			t.Fatalf("ParseAddHost(%q) = %+v: bad address", s, h)
		}
		for _, e := range []Etc{
			{Hostname: "c", Mode: Mode{Kind: Slirp}, Guest: "10.0.2.100", Gateway: "10.0.2.2"},
			{Hostname: "c", Mode: Mode{Kind: Host}},
		} {
			base := e.Hosts([]byte("127.0.0.1 localhost\n"))
			e.ExtraHosts = []HostEntry{h}
			got := e.Hosts([]byte("127.0.0.1 localhost\n"))
			extra, ok := strings.CutPrefix(got, base)
			if !ok || strings.Count(extra, "\n") != 1 || !strings.HasSuffix(extra, "\n") {
				t.Fatalf("ParseAddHost(%q) = %+v adds %q to /etc/hosts, not one line", s, h, extra)
			}
			fields := strings.Fields(extra)
			want := h.IP
			if want == "host-gateway" {
				if want = e.Gateway; want == "" {
					want = "127.0.0.1"
				}
			}
			if len(fields) != 2 || fields[0] != want || fields[1] != h.Name {
				t.Fatalf("ParseAddHost(%q) = %+v: /etc/hosts line %q reads back as %q", s, h, extra, fields)
			}
		}
	})
}
