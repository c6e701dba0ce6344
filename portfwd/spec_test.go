package portfwd_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/boxcli/box/portfwd"
)

func spec(ip string, host, ctr int, proto string) portfwd.Spec {
	return portfwd.Spec{HostIP: ip, HostPort: host, ContainerPort: ctr, Proto: proto}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []portfwd.Spec
		err  string
	}{
		{in: "80", want: []portfwd.Spec{spec("", 0, 80, "tcp")}},
		{in: "80/udp", want: []portfwd.Spec{spec("", 0, 80, "udp")}},
		{in: "80/TCP", want: []portfwd.Spec{spec("", 0, 80, "tcp")}},
		{in: "8080:80", want: []portfwd.Spec{spec("", 8080, 80, "tcp")}},
		{in: "8080:80/udp", want: []portfwd.Spec{spec("", 8080, 80, "udp")}},
		{in: "0:80", want: []portfwd.Spec{spec("", 0, 80, "tcp")}},
		{in: ":80", want: []portfwd.Spec{spec("", 0, 80, "tcp")}},
		{in: "127.0.0.1:8080:80", want: []portfwd.Spec{spec("127.0.0.1", 8080, 80, "tcp")}},
		{in: "127.0.0.1::80", want: []portfwd.Spec{spec("127.0.0.1", 0, 80, "tcp")}},
		{in: "0.0.0.0:8080:80/udp", want: []portfwd.Spec{spec("0.0.0.0", 8080, 80, "udp")}},
		{in: "[::1]:8080:80", want: []portfwd.Spec{spec("::1", 8080, 80, "tcp")}},
		{in: "[::1]::80/udp", want: []portfwd.Spec{spec("::1", 0, 80, "udp")}},
		{in: "[::]:8080:80", want: []portfwd.Spec{spec("::", 8080, 80, "tcp")}},
		{in: "[fd00:0::1]:8080:80", want: []portfwd.Spec{spec("fd00::1", 8080, 80, "tcp")}},
		{in: "fd00::1:8080:80", want: []portfwd.Spec{spec("fd00::1", 8080, 80, "tcp")}},
		{in: "65535:1", want: []portfwd.Spec{spec("", 65535, 1, "tcp")}},
		{in: "8000-8002:80-82", want: []portfwd.Spec{
			spec("", 8000, 80, "tcp"), spec("", 8001, 81, "tcp"), spec("", 8002, 82, "tcp"),
		}},
		{in: "127.0.0.1::80-81/udp", want: []portfwd.Spec{spec("127.0.0.1", 0, 80, "udp"), spec("127.0.0.1", 0, 81, "udp")}},
		{in: "80-81", want: []portfwd.Spec{spec("", 0, 80, "tcp"), spec("", 0, 81, "tcp")}},
		{in: "9000-9000:90", want: []portfwd.Spec{spec("", 9000, 90, "tcp")}},

		{in: "", err: "no container port"},
		{in: "8080:", err: "no container port"},
		{in: "0", err: "out of range"},
		{in: "8080:0", err: "out of range"},
		{in: "65536", err: "out of range"},
		{in: "70000:80", err: "host port"},
		{in: "-1", err: "bad port"},
		{in: "+80", err: "bad port"},
		{in: "0x50", err: "bad port"},
		{in: "080080", err: "bad port"},
		{in: "http", err: "bad port"},
		{in: "80/sctp", err: "sctp is not supported"},
		{in: "80/icmp", err: "bad protocol"},
		{in: "80/", err: "bad protocol"},
		{in: "80/tcp/udp", err: "bad protocol"},
		{in: "8000-8010:80", err: "differ in number"}, // Docker allocates one port of the range; box does not
		{in: "8080:80-81", err: "differ in number"},
		{in: "8000-8001:80-82", err: "differ in number"},
		{in: "82-80", err: "backwards"},
		{in: "80-", err: "bad port"},
		{in: "localhost:8080:80", err: "bad host IP"},
		{in: "1.2.3:8080:80", err: "bad host IP"},
		{in: "::8080:80", err: "bad host IP"}, // Docker reads ":" as the IP too
		{in: "[::1:8080:80", err: "no ]"},
		{in: "[::1]:80", err: "want [IP]:hostPort:containerPort"},
		{in: "[::1]8080:80", err: "want [IP]:hostPort:containerPort"},
		{in: "[::1]:1:2:3", err: "want [IP]:hostPort:containerPort"},
		{in: "[127.0.0.1]:8080:80", err: "bad IPv6 address"},
		{in: "[fe80::1%eth0]:8080:80", err: "bad IPv6 address"},
	}
	for _, tc := range tests {
		got, err := portfwd.Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			} else if !strings.Contains(err.Error(), `"`+tc.in+`"`) {
				t.Errorf("Parse(%q) = %v; the error does not name the spec", tc.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseExposed(t *testing.T) {
	tests := []struct {
		in   string
		want []portfwd.Spec
		err  string
	}{
		{in: "80/tcp", want: []portfwd.Spec{spec("", 0, 80, "tcp")}},
		{in: "53/udp", want: []portfwd.Spec{spec("", 0, 53, "udp")}},
		{in: "80", want: []portfwd.Spec{spec("", 0, 80, "tcp")}},
		{in: "8000-8002/tcp", want: []portfwd.Spec{spec("", 0, 8000, "tcp"), spec("", 0, 8001, "tcp"), spec("", 0, 8002, "tcp")}},
		{in: "80/sctp", err: "sctp"},
		{in: "8080:80/tcp", err: "bad port"},
		{in: "0/tcp", err: "out of range"},
		{in: "", err: "bad port"},
	}
	for _, tc := range tests {
		got, err := portfwd.ParseExposed(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), `"`+tc.in+`"`) {
				t.Errorf("ParseExposed(%q) = %v, %v; want an error with %q naming the key", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseExposed(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestPublishAll(t *testing.T) {
	published := []portfwd.Spec{spec("127.0.0.1", 8080, 80, "tcp")}
	got, err := portfwd.PublishAll([]string{"443/tcp", "80/tcp", "53/udp", "53/tcp", "80/udp", "443/tcp", "8000-8001/tcp"}, published)
	want := []portfwd.Spec{
		spec("", 0, 53, "tcp"), spec("", 0, 53, "udp"), spec("", 0, 80, "udp"),
		spec("", 0, 443, "tcp"), spec("", 0, 8000, "tcp"), spec("", 0, 8001, "tcp"),
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("PublishAll = %v, %v\nwant %v", got, err, want)
	}
	if got, err := portfwd.PublishAll(nil, nil); err != nil || len(got) != 0 {
		t.Errorf("PublishAll(nil, nil) = %v, %v; want nothing", got, err)
	}
	if _, err := portfwd.PublishAll([]string{"80/tcp", "x/tcp"}, nil); err == nil || !strings.Contains(err.Error(), `"x/tcp"`) {
		t.Errorf("PublishAll(x/tcp) = %v, want an error naming it", err)
	}
}

func TestSpecString(t *testing.T) {
	for _, tc := range []struct {
		s    portfwd.Spec
		want string
	}{
		{spec("", 0, 80, "tcp"), "80/tcp"},
		{spec("", 8080, 80, "tcp"), "8080:80/tcp"},
		{spec("127.0.0.1", 0, 53, "udp"), "127.0.0.1::53/udp"},
		{spec("127.0.0.1", 8080, 80, "udp"), "127.0.0.1:8080:80/udp"},
		{spec("::1", 0, 80, "tcp"), "[::1]::80/tcp"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is in
// range, and that every spec reads back from its String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"80", "8080:80/udp", "127.0.0.1::80", "[::1]:8080:80", "8000-8010:80-90", "0:1",
		"fd00::1:8080:80", "[::]::1-3/TCP", "80/sctp", "[", "::::", "1-65535",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		specs, err := portfwd.Parse(s)
		if err != nil {
			return
		}
		if len(specs) == 0 || len(specs) > 65535 {
			t.Fatalf("Parse(%q) gave %d specs", s, len(specs))
		}
		for _, sp := range specs {
			if sp.ContainerPort < 1 || sp.ContainerPort > 65535 || sp.HostPort < 0 || sp.HostPort > 65535 {
				t.Fatalf("Parse(%q) = %+v: port out of range", s, sp)
			}
			if sp.Proto != "tcp" && sp.Proto != "udp" {
				t.Fatalf("Parse(%q) = %+v: protocol", s, sp)
			}
			if sp.HostIP != "" {
				if _, err := netip.ParseAddr(sp.HostIP); err != nil {
					t.Fatalf("Parse(%q) = %+v: host IP: %v", s, sp, err)
				}
			}
			back, err := portfwd.Parse(sp.String())
			if err != nil || len(back) != 1 || back[0] != sp {
				t.Fatalf("Parse(%q) = %+v, but Parse(%q) = %v, %v", s, sp, sp.String(), back, err)
			}
		}
	})
}
