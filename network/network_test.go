package network

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		bad  bool
	}{
		{in: "", want: Mode{Kind: Slirp, PortHandler: RootlessKit}},
		{in: "bridge", want: Mode{Kind: Slirp, PortHandler: RootlessKit}},
		{in: "slirp4netns", want: Mode{Kind: Slirp, PortHandler: RootlessKit}},
		{in: "slirp4netns:allow_host_loopback=true,mtu=1500,port_handler=slirp4netns",
			want: Mode{Kind: Slirp, AllowHostLoopback: true, MTU: 1500, PortHandler: SlirpPorts}},
		{in: "none", want: Mode{Kind: None}},
		{in: "host", want: Mode{Kind: Host}},
		{in: "container:web", want: Mode{Kind: Container, Target: "web"}},
		{in: "ns:/run/netns/x", want: Mode{Kind: NS, Target: "/run/netns/x"}},
		{in: "slirp4netns:mtu=10", bad: true},
		{in: "slirp4netns:allow_host_loopback=maybe", bad: true},
		{in: "slirp4netns:port_handler=x", bad: true},
		{in: "slirp4netns:bogus=1", bad: true},
		{in: "none:x", bad: true},
		{in: "container:", bad: true},
		{in: "ns:relative", bad: true},
		{in: "macvlan", bad: true},
		// Not run, so not taken (#18): Debian 12's passt cannot work from
		// inside box's user namespace.
		{in: "pasta", bad: true},
		{in: "pasta:-T,8080", bad: true},
	} {
		got, err := Parse(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseAddHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want HostEntry
		bad  bool
	}{
		{in: "db:10.1.2.3", want: HostEntry{"db", "10.1.2.3"}},
		{in: "db=10.1.2.3", want: HostEntry{"db", "10.1.2.3"}},
		{in: "v6:fd00::1", want: HostEntry{"v6", "fd00::1"}},
		{in: "v6:[fd00::1]", want: HostEntry{"v6", "fd00::1"}},
		{in: "gw:host-gateway", want: HostEntry{"gw", "host-gateway"}},
		{in: "db", bad: true},
		{in: ":1.2.3.4", bad: true},
		{in: "db:notanip", bad: true},
		{in: "a b:1.2.3.4", bad: true},
	} {
		got, err := ParseAddHost(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("ParseAddHost(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestHosts(t *testing.T) {
	slirp := Etc{Hostname: "c1", Mode: Mode{Kind: Slirp}, Guest: "10.0.2.100", Gateway: "10.0.2.2",
		ExtraHosts: []HostEntry{{"db", "10.9.9.9"}, {"gw", "host-gateway"}}}
	got := slirp.Hosts(nil)
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.0.2.100\tc1\n", "10.9.9.9\tdb\n", "10.0.2.2\tgw\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("Hosts() = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "host.containers.internal") {
		t.Errorf("Hosts() names the host without allow_host_loopback: %q", got)
	}
	slirp.Mode.AllowHostLoopback = true
	if got := slirp.Hosts(nil); !strings.Contains(got, "10.0.2.2\thost.containers.internal") {
		t.Errorf("Hosts() = %q, want host.containers.internal", got)
	}
	none := Etc{Hostname: "c2", Mode: Mode{Kind: None}}
	if got := none.Hosts(nil); !strings.Contains(got, "127.0.1.1\tc2\n") {
		t.Errorf("Hosts() = %q, want 127.0.1.1 c2", got)
	}
	host := Etc{Hostname: "h", Mode: Mode{Kind: Host}, ExtraHosts: []HostEntry{{"x", "1.2.3.4"}}}
	if got := host.Hosts([]byte("127.0.0.1 localhost myhost")); got != "127.0.0.1 localhost myhost\n1.2.3.4\tx\n" {
		t.Errorf("Hosts() on the host's network = %q", got)
	}
}

func TestResolvConf(t *testing.T) {
	hostLoop := []byte("# resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n")
	hostReal := []byte("nameserver 192.0.2.53\nnameserver ::1\nsearch a.example b.example\n")
	slirp := Etc{Mode: Mode{Kind: Slirp}, DNS: "10.0.2.3"}
	for _, tc := range []struct {
		name string
		e    Etc
		host []byte
		want string
	}{
		{"loopback host servers become slirp's forwarder", slirp, hostLoop,
			"search corp.example\nnameserver 10.0.2.3\noptions edns0 trust-ad\n"},
		{"real host servers are kept, loopback ones dropped", slirp, hostReal,
			"search a.example b.example\nnameserver 192.0.2.53\n"},
		{"--dns, --dns-search, --dns-option replace", Etc{Mode: Mode{Kind: Slirp}, DNS: "10.0.2.3",
			DNSServers: []string{"198.51.100.1"}, DNSSearch: []string{"x.example"}, DNSOptions: []string{"ndots:2"}}, hostReal,
			"search x.example\nnameserver 198.51.100.1\noptions ndots:2\n"},
		{"--dns-search . clears", Etc{Mode: Mode{Kind: Slirp}, DNSSearch: []string{"."}}, hostReal,
			"nameserver 192.0.2.53\n"},
		{"host network keeps the host's", Etc{Mode: Mode{Kind: Host}}, hostLoop,
			"search corp.example\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"},
		{"no network keeps the host's", Etc{Mode: Mode{Kind: None}}, hostLoop,
			"search corp.example\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"},
	} {
		if got := tc.e.ResolvConf(tc.host); got != tc.want {
			t.Errorf("%s: ResolvConf() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseNetDev(t *testing.T) {
	in := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
   tap0:  123456     100    0    0    0     0          0         0     7890      50    0    0    0     0       0          0
  eth1: 4 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0
`
	if got, want := parseNetDev([]byte(in)), (Counters{RX: 123460, TX: 7896}); got != want {
		t.Errorf("parseNetDev = %+v, want %+v", got, want)
	}
}
