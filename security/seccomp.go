package security

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter is the container's seccomp program, nil when it runs unconfined
// (seccomp=unconfined, or --privileged without a profile of its own).
//
// The profile (Docker's default, or the user's in the same OCI/Docker
// format) is resolved for this architecture and the container's
// capabilities by moby's profile package, then compiled by box (compile.go)
// in pure Go, since libseccomp would need cgo.
func (o Options) Filter() ([]unix.SockFilter, error) {
	if o.Seccomp == Unconfined || (o.Privileged && o.SeccompProfile == "") {
		return nil, nil
	}
	caps, err := o.Caps()
	if err != nil {
		return nil, err
	}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: CapNames(caps)}}}
	var profile *specs.LinuxSeccomp
	if o.SeccompProfile == "" {
		profile, err = seccomp.GetDefaultProfile(spec)
	} else {
		profile, err = seccomp.LoadProfile(o.SeccompProfile, spec)
	}
	if err != nil {
		return nil, invalid("seccomp profile %s: %v", o.Seccomp, err)
	}
	if profile == nil {
		return nil, nil // an empty profile means no filter, as in Docker
	}
	prog, err := compile(profile)
	if err != nil {
		return nil, invalid("seccomp profile %s: %v", o.Seccomp, err)
	}
	return prog, nil
}

// bpfMaxInsns is the kernel's BPF_MAXINSNS.
const bpfMaxInsns = 4096

// Load installs prog on every thread of this process (TSYNC), so that
// what the init or box exec starts from any of them is filtered. The
// caller must have set no_new_privs or hold CAP_SYS_ADMIN.
func Load(prog []unix.SockFilter) error {
	if len(prog) == 0 {
		return nil
	}
	if len(prog) > bpfMaxInsns {
		return fmt.Errorf("load seccomp filter: %d instructions, the kernel takes at most %d", len(prog), bpfMaxInsns)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("load seccomp filter: %w", errno)
	}
	if r != 0 {
		// TSYNC names the thread it could not move onto the filter.
		return fmt.Errorf("load seccomp filter: thread %d cannot take it", r)
	}
	return nil
}
