package portfwd

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Spec is one published port: the host's HostIP:HostPort forwards to
// ContainerPort in the container.
type Spec struct {
	HostIP        string // "" means every IPv4 address (0.0.0.0), as Docker
	HostPort      int    // 0 means one the kernel picks
	ContainerPort int
	Proto         string // "tcp" or "udp"
}

// String is the spec in -p syntax, with the protocol always present.
func (s Spec) String() string {
	ctr := strconv.Itoa(s.ContainerPort) + "/" + s.Proto
	host := ""
	if s.HostPort != 0 {
		host = strconv.Itoa(s.HostPort)
	}
	switch {
	case s.HostIP != "" && strings.Contains(s.HostIP, ":"):
		return "[" + s.HostIP + "]:" + host + ":" + ctr
	case s.HostIP != "":
		return s.HostIP + ":" + host + ":" + ctr
	case host != "":
		return host + ":" + ctr
	}
	return ctr
}

// Parse reads one -p argument in Docker's syntax,
// [hostIP:][hostPort:]containerPort[/proto], where an IPv6 hostIP is in
// brackets, an empty or absent hostPort means a random one, and both ports
// may be ranges of equal length (8000-8010:80-90), giving one Spec a port.
func Parse(s string) ([]Spec, error) {
	specs, err := parse(s)
	if err != nil {
		return nil, fmt.Errorf("port spec %q: %s", s, err)
	}
	return specs, nil
}

func parse(s string) ([]Spec, error) {
	rest, proto, err := splitProto(s)
	if err != nil {
		return nil, err
	}
	var ip, host, ctr string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return nil, fmt.Errorf("no ] after the IPv6 address")
		}
		ip = rest[1:end]
		after, ok := strings.CutPrefix(rest[end+1:], ":")
		if !ok {
			return nil, fmt.Errorf("want [IP]:hostPort:containerPort")
		}
		if host, ctr, ok = strings.Cut(after, ":"); !ok || strings.Contains(ctr, ":") {
			return nil, fmt.Errorf("want [IP]:hostPort:containerPort")
		}
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is6() || a.Zone() != "" {
			return nil, fmt.Errorf("bad IPv6 address %q", ip)
		}
	} else {
		parts := strings.Split(rest, ":")
		switch n := len(parts); n {
		case 1:
			ctr = parts[0]
		case 2:
			host, ctr = parts[0], parts[1]
		case 3:
			ip, host, ctr = parts[0], parts[1], parts[2]
		default:
			// An IPv6 address without brackets, as Docker also takes.
			ip, host, ctr = strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
		}
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("bad host IP %q", ip)
		}
		ip = a.String()
	}
	if ctr == "" {
		return nil, fmt.Errorf("no container port")
	}
	cLo, cHi, err := parseRange(ctr)
	if err != nil {
		return nil, fmt.Errorf("container port: %v", err)
	}
	hLo, hHi := 0, 0
	if host != "" {
		if host == "0" {
			// An explicit 0 asks for a random port, as in Docker.
		} else if hLo, hHi, err = parseRange(host); err != nil {
			return nil, fmt.Errorf("host port: %v", err)
		} else if hHi-hLo != cHi-cLo {
			return nil, fmt.Errorf("host ports %s and container ports %s differ in number", host, ctr)
		}
	}
	specs := make([]Spec, 0, cHi-cLo+1)
	for i := 0; cLo+i <= cHi; i++ {
		hp := 0
		if hLo != 0 {
			hp = hLo + i
		}
		specs = append(specs, Spec{HostIP: ip, HostPort: hp, ContainerPort: cLo + i, Proto: proto})
	}
	return specs, nil
}

// splitProto cuts "/proto" off s; tcp when there is none.
func splitProto(s string) (rest, proto string, err error) {
	rest, proto, ok := strings.Cut(s, "/")
	if !ok {
		return s, "tcp", nil
	}
	switch proto = strings.ToLower(proto); proto {
	case "tcp", "udp":
		return rest, proto, nil
	case "sctp":
		return "", "", fmt.Errorf("sctp is not supported")
	}
	return "", "", fmt.Errorf("bad protocol %q, want tcp or udp", proto)
}

// parseRange reads "N" or "N-M", each 1..65535, N <= M.
func parseRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parsePort(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parsePort(b); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %s runs backwards", s)
	}
	return lo, hi, nil
}

func parsePort(s string) (int, error) {
	// Atoi would take signs and leading zeros past the check below.
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad port %q", s)
	}
	p, _ := strconv.Atoi(s)
	if p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", p)
	}
	return p, nil
}

// ParseExposed reads a key of an image's ExposedPorts (EXPOSE), such as
// "80/tcp", "53/udp" or "8000-8002/tcp", into specs that publish each
// port on a random host port.
func ParseExposed(key string) ([]Spec, error) {
	ports, proto, err := splitProto(key)
	if err == nil {
		var lo, hi int
		if lo, hi, err = parseRange(ports); err == nil {
			specs := make([]Spec, 0, hi-lo+1)
			for p := lo; p <= hi; p++ {
				specs = append(specs, Spec{ContainerPort: p, Proto: proto})
			}
			return specs, nil
		}
	}
	return nil, fmt.Errorf("exposed port %q: %v", key, err)
}

// PublishAll is -P: a random host port for each port the image exposes
// (ExposedPorts keys) that published, from -p, does not already cover, in
// port order.
func PublishAll(exposed []string, published []Spec) ([]Spec, error) {
	type key struct {
		port  int
		proto string
	}
	seen := make(map[key]bool)
	for _, s := range published {
		seen[key{s.ContainerPort, s.Proto}] = true
	}
	var out []Spec
	for _, e := range exposed {
		specs, err := ParseExposed(e)
		if err != nil {
			return nil, err
		}
		for _, s := range specs {
			if k := (key{s.ContainerPort, s.Proto}); !seen[k] {
				seen[k] = true
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b Spec) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), cmp.Compare(a.Proto, b.Proto))
	})
	return out, nil
}
