package netslirp

import (
	"slices"
	"strings"
	"testing"
)

func TestAddrs(t *testing.T) {
	tests := []struct {
		cidr                        string
		prefix, guest, gateway, dns string
		err                         string
	}{
		{cidr: "", prefix: "10.0.2.0/24", guest: GuestAddr, gateway: GatewayAddr, dns: DNSAddr},
		{cidr: "10.0.2.0/24", prefix: "10.0.2.0/24", guest: "10.0.2.100", gateway: "10.0.2.2", dns: "10.0.2.3"},
		{cidr: "192.168.77.0/24", prefix: "192.168.77.0/24", guest: "192.168.77.100", gateway: "192.168.77.2", dns: "192.168.77.3"},
		{cidr: "10.0.2.9/24", prefix: "10.0.2.0/24", guest: "10.0.2.100", gateway: "10.0.2.2", dns: "10.0.2.3"},
		{cidr: "10.0.2.128/25", prefix: "10.0.2.128/25", guest: "10.0.2.228", gateway: "10.0.2.130", dns: "10.0.2.131"},
		{cidr: "172.16.0.0/12", prefix: "172.16.0.0/12", guest: "172.16.0.100", gateway: "172.16.0.2", dns: "172.16.0.3"},
		{cidr: "10.0.2.0/26", err: "prefix length"},
		{cidr: "10.0.2.0/0", err: "prefix length"},
		{cidr: "fd00::/64", err: "not an IPv4"},
		{cidr: "10.0.2.0", err: "10.0.2.0"},
		{cidr: "garbage", err: "garbage"},
	}
	for _, tc := range tests {
		a, err := Addrs(tc.cidr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Addrs(%q) = %v, want an error with %q", tc.cidr, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Addrs(%q) = %v", tc.cidr, err)
			continue
		}
		got := []string{a.Prefix.String(), a.Guest.String(), a.Gateway.String(), a.DNS.String()}
		if want := []string{tc.prefix, tc.guest, tc.gateway, tc.dns}; !slices.Equal(got, want) {
			t.Errorf("Addrs(%q) = %q, want %q", tc.cidr, got, want)
		}
	}
}

// help120 is `slirp4netns --help` of version 1.2.0.
const help120 = `Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]
User-mode networking for unprivileged network namespaces.

-c, --configure          bring up the interface
-e, --exit-fd=FD         specify the FD for terminating slirp4netns
-r, --ready-fd=FD        specify the FD to write to when the network is configured
-m, --mtu=MTU            specify MTU (default=1500, max=65521)
-6, --enable-ipv6        enable IPv6 (experimental)
-a, --api-socket=PATH    specify API socket path
--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)
--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace
--netns-type=TYPE 	 specify network namespace type ([path|pid], default=pid)
--userns-path=PATH	 specify user namespace path
--enable-sandbox         create a new mount namespace (and drop all caps except CAP_NET_BIND_SERVICE if running as the root)
--enable-seccomp         enable seccomp to limit syscalls (experimental)
--outbound-addr=IPv4     sets outbound ipv4 address to bound to (experimental)
--outbound-addr6=IPv6    sets outbound ipv6 address to bound to (experimental)
--disable-dns            disables 10.0.2.3 (or configured internal ip) to host dns redirect (experimental)
--macaddress=MAC         specify the MAC address of the TAP (only valid with -c)
--target-type=TYPE       specify the target type ([netns|bess], default=netns)
-h, --help               show this help and exit
-v, --version            show version and exit
`

// help030 is `slirp4netns --help` of version 0.3.0, before the sandbox.
const help030 = `Usage: slirp4netns [OPTION]... PID TAPNAME
User-mode networking for unprivileged network namespaces.

-c, --configure          bring up the interface
-e, --exit-fd=FD         specify the FD for terminating slirp4netns
-r, --ready-fd=FD        specify the FD to write to when the network is configured
-m, --mtu=MTU            specify MTU (default=1500, max=65521)
--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)
--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace
-a, --api-socket=PATH    specify API socket path
-6, --enable-ipv6        enable IPv6 (experimental)
-h, --help               show this help and exit
-v, --version            show version and exit
`

func TestParseHelp(t *testing.T) {
	tests := []struct {
		name, help string
		want       features
	}{
		{"1.2.0", help120, features{sandbox: true, seccomp: true}},
		{"0.3.0", help030, features{}},
		{"sandbox only", "--enable-sandbox   create a new mount namespace\n", features{sandbox: true}},
		{"empty", "", features{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseHelp(tc.help); got != tc.want {
				t.Errorf("parseHelp(%s) = %+v, want %+v", tc.name, got, tc.want)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	const ns = "/proc/42/ns/net"
	fds := []string{"--ready-fd=3", "--exit-fd=4"}
	all := features{sandbox: true, seccomp: true}
	tests := []struct {
		name string
		o    Options
		f    features
		ns   string
		want []string
		err  string
	}{
		{
			name: "defaults",
			f:    all,
			ns:   ns,
			want: cat([]string{"--configure", "--mtu=65520", "--cidr=10.0.2.0/24"}, fds,
				[]string{"--disable-host-loopback", "--enable-sandbox", "--enable-seccomp", "--netns-type=path", ns, "tap0"}),
		},
		{
			name: "old slirp4netns: no sandbox, no seccomp",
			ns:   ns,
			want: cat([]string{"--configure", "--mtu=65520", "--cidr=10.0.2.0/24"}, fds,
				[]string{"--disable-host-loopback", "--netns-type=path", ns, "tap0"}),
		},
		{
			name: "every option",
			o:    Options{MTU: 1500, AllowHostLoopback: true, CIDR: "10.9.8.7/24", EnableIPv6: true, APISocket: "/run/x/slirp.sock", MACAddress: "02:42:ac:11:00:02"},
			f:    all,
			ns:   ns,
			want: cat([]string{"--configure", "--mtu=1500", "--cidr=10.9.8.0/24"}, fds,
				[]string{"--enable-ipv6", "--api-socket=/run/x/slirp.sock", "--macaddress=02:42:ac:11:00:02", "--enable-sandbox", "--enable-seccomp", "--netns-type=path", ns, "tap0"}),
		},
		{name: "mtu too large", o: Options{MTU: 65522}, ns: ns, err: "mtu 65522"},
		{name: "mtu negative", o: Options{MTU: -1}, ns: ns, err: "mtu -1"},
		{name: "bad cidr", o: Options{CIDR: "10.0.2.0/30"}, ns: ns, err: "10.0.2.0/30"},
		{name: "no namespace", err: "no network namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := args(tc.o, tc.f, tc.ns)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("args(%+v) = %q, %v; want an error with %q", tc.o, got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("args(%+v) = %q, %v\nwant %q", tc.o, got, err, tc.want)
			}
		})
	}
}

func cat(s ...[]string) []string { return slices.Concat(s...) }

func TestTail(t *testing.T) {
	tl := &tail{max: 16}
	tl.Write([]byte("first line\n"))
	tl.Write([]byte("second\nthird\n"))
	if got, want := tl.suffix(), ": ne; second; third"; got != want {
		t.Errorf("suffix() = %q, want %q", got, want)
	}
	if got := (&tail{max: 8}).suffix(); got != "" {
		t.Errorf("empty suffix() = %q", got)
	}
}
