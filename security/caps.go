package security

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
)

// defaultCaps is Docker's default capability set.
func defaultCaps() []capability.Cap {
	return []capability.Cap{
		capability.CAP_CHOWN, capability.CAP_DAC_OVERRIDE, capability.CAP_FSETID, capability.CAP_FOWNER,
		capability.CAP_MKNOD, capability.CAP_NET_RAW, capability.CAP_SETGID, capability.CAP_SETUID,
		capability.CAP_SETFCAP, capability.CAP_SETPCAP, capability.CAP_NET_BIND_SERVICE,
		capability.CAP_SYS_CHROOT, capability.CAP_KILL, capability.CAP_AUDIT_WRITE,
	}
}

// CapName is the name Docker prints for c: CAP_NET_ADMIN.
func CapName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// normalizeCaps turns what the user typed (net_admin, NET_ADMIN,
// CAP_NET_ADMIN, all) into canonical names, refusing unknown ones.
func normalizeCaps(flag string, names []string) ([]string, error) {
	known := map[string]bool{}
	for _, c := range capability.ListKnown() {
		known[CapName(c)] = true
	}
	var out []string
	for _, n := range names {
		u := strings.ToUpper(strings.TrimSpace(n))
		if u != all && !strings.HasPrefix(u, "CAP_") {
			u = "CAP_" + u
		}
		if u != all && !known[u] {
			return nil, invalid("%s %q: unknown capability (see capabilities(7); ALL means every one)", flag, n)
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// Caps is the container's capability set, Docker's way: --privileged
// keeps every capability; --cap-add=ALL starts from every one and
// --cap-drop=ALL from none; otherwise the default set, less the dropped,
// plus the added. Capabilities the running kernel lacks are left out.
func (o Options) Caps() ([]capability.Cap, error) {
	supported, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("list the kernel's capabilities: %w", err)
	}
	byName := map[string]capability.Cap{}
	for _, c := range supported {
		byName[CapName(c)] = c
	}
	var set []capability.Cap
	keep := func(c capability.Cap) {
		if !slices.Contains(set, c) {
			set = append(set, c)
		}
	}
	switch {
	case o.Privileged || slices.Contains(o.CapAdd, all):
		for _, c := range supported {
			if o.Privileged || !slices.Contains(o.CapDrop, CapName(c)) {
				keep(c)
			}
		}
		return set, nil
	case slices.Contains(o.CapDrop, all):
	default:
		for _, c := range defaultCaps() {
			if !slices.Contains(o.CapDrop, CapName(c)) {
				keep(c)
			}
		}
	}
	for _, n := range o.CapAdd {
		if c, ok := byName[n]; ok {
			keep(c)
		}
	}
	slices.Sort(set)
	return set, nil
}

// CapNames are Caps' names, for inspect and the seccomp profile's
// capability conditions.
func CapNames(caps []capability.Cap) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = CapName(c)
	}
	return out
}

// MayMount says whether the container holds CAP_SYS_ADMIN, and so may
// mount, remount and unmount in its own mount namespace.
func (o Options) MayMount() (bool, error) {
	caps, err := o.Caps()
	if err != nil {
		return false, err
	}
	return slices.Contains(caps, capability.CAP_SYS_ADMIN), nil
}
