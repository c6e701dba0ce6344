// Package security turns a container's security settings (Docker's
// --privileged, --cap-add, --cap-drop and --security-opt) into what the
// container's init and box exec apply before the command runs: the
// capability set, the seccomp filter, no_new_privs, and the paths that are
// masked or read-only.
package security

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Options are a container's security settings, as kept in its record. The
// zero value is Docker's default: its capability set, its seccomp profile,
// runc's masked and read-only paths, and (as bubblewrap does, unlike
// Docker) no_new_privs.
type Options struct {
	Privileged bool `json:"privileged,omitempty"`
	// CapAdd and CapDrop are canonical names (CAP_NET_ADMIN) or ALL.
	CapAdd  []string `json:"capAdd,omitempty"`
	CapDrop []string `json:"capDrop,omitempty"`
	// Seccomp is "" (Docker's default profile), "unconfined", or the path
	// of the profile the user gave; its content is kept in SeccompProfile,
	// so the container keeps the profile it was created with.
	Seccomp        string `json:"seccomp,omitempty"`
	SeccompProfile string `json:"seccompProfile,omitempty"`
	// NoNewPrivileges, when set, overrides the default (on, but off with
	// --privileged, whose users expect sudo to work).
	NoNewPrivileges *bool `json:"noNewPrivileges,omitempty"`
	// Mask adds paths to hide; Unmask takes paths (or ALL) away from the
	// default masked and read-only ones.
	Mask   []string `json:"mask,omitempty"`
	Unmask []string `json:"unmask,omitempty"`
	// Given is --security-opt as typed, for inspect.
	Given []string `json:"securityOpt,omitempty"`
}

// Unconfined is the value of seccomp= that turns the filter off.
const Unconfined = "unconfined"

// all is the word for every capability, or every path for unmask.
const all = "ALL"

// ErrInvalid marks a setting that cannot be used; the message says which.
var ErrInvalid = errors.New("invalid security option")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse checks the flags and returns the options. readFile reads a
// seccomp profile named by seccomp=PATH.
func Parse(privileged bool, capAdd, capDrop, securityOpt []string, readFile func(string) ([]byte, error)) (Options, error) {
	o := Options{Privileged: privileged}
	var err error
	if o.CapAdd, err = normalizeCaps("--cap-add", capAdd); err != nil {
		return Options{}, err
	}
	if o.CapDrop, err = normalizeCaps("--cap-drop", capDrop); err != nil {
		return Options{}, err
	}
	for _, opt := range securityOpt {
		if err := o.parseOpt(opt, readFile); err != nil {
			return Options{}, err
		}
		o.Given = append(o.Given, opt)
	}
	// Compile once now, so a profile the kernel or box cannot use fails
	// before anything is created.
	if _, err := o.Filter(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// parseOpt reads one --security-opt. Docker spells them KEY=VALUE and,
// in older releases, KEY:VALUE; both are taken.
func (o *Options) parseOpt(opt string, readFile func(string) ([]byte, error)) error {
	key, val, hasVal := strings.Cut(opt, "=")
	if !hasVal {
		if k, v, ok := strings.Cut(opt, ":"); ok {
			key, val, hasVal = k, v, true
		}
	}
	switch key {
	case "seccomp":
		switch {
		case val == "":
			return invalid("seccomp needs a value: seccomp=unconfined or seccomp=PROFILE.json")
		case val == Unconfined:
			o.Seccomp, o.SeccompProfile = Unconfined, ""
		default:
			b, err := readFile(val)
			if err != nil {
				return invalid("read seccomp profile %s: %v", val, err)
			}
			o.Seccomp, o.SeccompProfile = val, string(b)
		}
	case "no-new-privileges":
		on := true
		if hasVal {
			b, err := strconv.ParseBool(val)
			if err != nil {
				return invalid("no-new-privileges=%q: want true or false", val)
			}
			on = b
		}
		o.NoNewPrivileges = &on
	case "mask", "unmask":
		paths, err := pathList(key, val, key == "unmask")
		if err != nil {
			return err
		}
		if key == "mask" {
			o.Mask = append(o.Mask, paths...)
		} else {
			o.Unmask = append(o.Unmask, paths...)
		}
	case "systempaths":
		// Docker's spelling of unmask=ALL.
		if val != Unconfined {
			return invalid("systempaths=%q: only systempaths=unconfined is known", val)
		}
		o.Unmask = append(o.Unmask, all)
	case "label":
		// Podman users pass label=disable out of habit; box applies no
		// SELinux label, so there is nothing to disable.
		if val != "disable" {
			return invalid("label=%s: box applies no SELinux labels; only label=disable is accepted", val)
		}
	case "apparmor":
		if val != Unconfined {
			return invalid("apparmor=%s: box loads no AppArmor profile; only apparmor=unconfined is accepted", val)
		}
	default:
		return invalid("unknown --security-opt %q: box knows seccomp=, no-new-privileges, mask=, unmask=, systempaths=unconfined, label=disable, apparmor=unconfined", opt)
	}
	return nil
}

// pathList splits mask=/unmask='s colon-separated absolute paths.
func pathList(key, val string, allowAll bool) ([]string, error) {
	if val == "" {
		return nil, invalid("%s needs paths: %s=/proc/x:/sys/y", key, key)
	}
	if allowAll && val == all {
		return []string{all}, nil
	}
	var out []string
	for _, p := range strings.Split(val, ":") {
		if !path.IsAbs(p) || strings.ContainsRune(p, 0) {
			return nil, invalid("%s=%s: %q is not an absolute path", key, val, p)
		}
		out = append(out, path.Clean(p))
	}
	return out, nil
}

// NoNewPrivs reports whether the command runs with no_new_privs.
func (o Options) NoNewPrivs() bool {
	if o.NoNewPrivileges != nil {
		return *o.NoNewPrivileges
	}
	return !o.Privileged
}

// maskedPaths are runc's defaults, which Docker and Podman share: hidden
// from the container (an empty read-only tmpfs on a directory, /dev/null on
// a file).
func maskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

// readonlyPaths may be read but not written.
func readonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// MaskedPaths are the paths to hide, after --privileged and mask/unmask.
func (o Options) MaskedPaths() []string {
	var base []string
	if !o.Privileged {
		base = maskedPaths()
	}
	out := o.unmasked(base)
	for _, p := range o.Mask {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// ReadonlyPaths are the paths to make read-only.
func (o Options) ReadonlyPaths() []string {
	if o.Privileged {
		return nil
	}
	return o.unmasked(readonlyPaths())
}

func (o Options) unmasked(paths []string) []string {
	if slices.Contains(o.Unmask, all) {
		return []string{}
	}
	out := []string{}
	for _, p := range paths {
		if !slices.Contains(o.Unmask, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
