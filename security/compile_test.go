package security

import (
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// call is one syscall as seccomp sees it.
type call struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// run interprets prog the way the kernel does, for the instructions the
// compiler emits, and returns its verdict.
func run(t testing.TB, prog []unix.SockFilter, c call) uint32 {
	data := make([]byte, 64)
	binary.NativeEndian.PutUint32(data[0:], c.nr)
	binary.NativeEndian.PutUint32(data[4:], c.arch)
	for i, a := range c.args {
		binary.NativeEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.NativeEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			var ok bool
			switch in.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				ok = acc == in.K
			case unix.BPF_JGT:
				ok = acc > in.K
			case unix.BPF_JGE:
				ok = acc >= in.K
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		default:
			t.Fatalf("unknown instruction %#x at %d", in.Code, pc)
		}
	}
	t.Fatalf("program ran off its end:\n%s", dump(prog))
	return 0
}

// reference decides a call from the profile directly: the first rule
// naming the syscall whose arguments all hold.
func reference(t testing.TB, p *specs.LinuxSeccomp, c call) uint32 {
	native, _ := arch.GetInfo("")
	if c.arch != uint32(native.ID) || (native.ID == arch.X86_64.ID && c.nr >= x32SyscallBit) {
		return unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	}
	for _, r := range p.Syscalls {
		named := false
		for _, n := range r.Names {
			if nr, ok := native.SyscallNames[n]; ok && uint32(nr) == c.nr {
				named = true
			}
		}
		if !named || !argsHold(r.Args, c.args) {
			continue
		}
		v, err := retValue(r.Action, p.DefaultErrnoRet, r.ErrnoRet)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v, err := retValue(p.DefaultAction, p.DefaultErrnoRet, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func argsHold(args []specs.LinuxSeccompArg, vals [6]uint64) bool {
	for _, a := range args {
		v := vals[a.Index]
		var ok bool
		switch a.Op {
		case specs.OpEqualTo:
			ok = v == a.Value
		case specs.OpNotEqual:
			ok = v != a.Value
		case specs.OpLessThan:
			ok = v < a.Value
		case specs.OpLessEqual:
			ok = v <= a.Value
		case specs.OpGreaterThan:
			ok = v > a.Value
		case specs.OpGreaterEqual:
			ok = v >= a.Value
		case specs.OpMaskedEqual:
			ok = v&a.Value == a.ValueTwo
		}
		if !ok {
			return false
		}
	}
	return true
}

func nativeArch() uint32 {
	a, _ := arch.GetInfo("")
	return uint32(a.ID)
}

func sysnr(name string) uint32 {
	a, _ := arch.GetInfo("")
	return uint32(a.SyscallNames[name])
}

func TestDefaultProfileVerdicts(t *testing.T) {
	prog, err := Options{}.Filter()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default filter: %d instructions", len(prog))
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	enosys := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	a := nativeArch()
	tests := []struct {
		name string
		c    call
		want uint32
	}{
		{"read", call{nr: sysnr("read"), arch: a}, allow},
		{"socket AF_UNIX", call{nr: sysnr("socket"), arch: a, args: [6]uint64{unix.AF_UNIX}}, allow},
		{"socket AF_INET6", call{nr: sysnr("socket"), arch: a, args: [6]uint64{unix.AF_INET6}}, allow},
		{"socket AF_NETLINK", call{nr: sysnr("socket"), arch: a, args: [6]uint64{unix.AF_NETLINK}}, allow},
		{"socket AF_NETLINK with high bits", call{nr: sysnr("socket"), arch: a, args: [6]uint64{1<<32 | unix.AF_NETLINK}}, eperm},
		{"ioctl after socket rules", call{nr: sysnr("ioctl"), arch: a, args: [6]uint64{16}}, allow},
		{"clone plain", call{nr: sysnr("clone"), arch: a, args: [6]uint64{uint64(unix.SIGCHLD)}}, allow},
		{"clone new user", call{nr: sysnr("clone"), arch: a, args: [6]uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}}, eperm},
		{"clone3", call{nr: sysnr("clone3"), arch: a}, enosys},
		{"unshare", call{nr: sysnr("unshare"), arch: a, args: [6]uint64{unix.CLONE_NEWUSER}}, eperm},
		{"personality linux", call{nr: sysnr("personality"), arch: a, args: [6]uint64{0}}, allow},
		{"personality other", call{nr: sysnr("personality"), arch: a, args: [6]uint64{0x0400000}}, eperm},
		{"mount", call{nr: sysnr("mount"), arch: a}, eperm},
		{"init_module", call{nr: sysnr("init_module"), arch: a}, eperm},
		{"kexec_load", call{nr: sysnr("kexec_load"), arch: a}, eperm},
		{"open_by_handle_at", call{nr: sysnr("open_by_handle_at"), arch: a}, eperm},
		{"bpf", call{nr: sysnr("bpf"), arch: a}, eperm},
		{"unknown number", call{nr: 4000, arch: a}, eperm},
		{"x32 read", call{nr: x32SyscallBit | 0, arch: a}, enosys},
		{"i386 call", call{nr: 3, arch: unix.AUDIT_ARCH_I386}, enosys},
	}
	for _, tc := range tests {
		if got := run(t, prog, tc.c); got != tc.want {
			t.Errorf("%s: verdict %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// FuzzCompile checks the compiled program against the profile read
// directly, for small random profiles and calls.
func FuzzCompile(f *testing.F) {
	f.Add(uint8(0), []byte{1, 2, 3, 4, 5, 6, 7, 8}, uint64(16), uint8(2))
	f.Add(uint8(3), []byte{0, 0, 0, 0xff, 9, 9, 1, 5, 2, 200}, uint64(1<<40|3), uint8(7))
	f.Add(uint8(1), []byte{6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6}, uint64(0), uint8(0))
	names := []string{"read", "write", "socket", "clone", "mkdirat", "personality", "ioctl", "futex", "no_such_call"}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActTrap, specs.ActLog}
	values := []uint64{0, 1, 2, 16, 1 << 32, 1<<32 | 16, ^uint64(0), 0x7fffffff, 0x80000000}
	f.Fuzz(func(t *testing.T, def uint8, spec []byte, arg uint64, pick uint8) {
		p := &specs.LinuxSeccomp{DefaultAction: actions[int(def)%len(actions)]}
		if def&0x80 != 0 {
			e := uint(def & 0x3f)
			p.DefaultErrnoRet = &e
		}
		// Each rule takes 4 bytes: name, action, op, value.
		for i := 0; i+4 <= len(spec) && len(p.Syscalls) < 12; i += 4 {
			r := specs.LinuxSyscall{Names: []string{names[int(spec[i])%len(names)]}, Action: actions[int(spec[i+1])%len(actions)]}
			if spec[i+1]&0x80 != 0 {
				e := uint(spec[i+1] & 0x3f)
				r.ErrnoRet = &e
			}
			if spec[i+2]%8 != 7 {
				a := specs.LinuxSeccompArg{Index: uint(spec[i+2]>>4) % 6, Op: ops[int(spec[i+2]%8)%len(ops)], Value: values[int(spec[i+3])%len(values)]}
				a.ValueTwo = values[int(spec[i+3]>>4)%len(values)] & a.Value
				r.Args = []specs.LinuxSeccompArg{a}
				if spec[i+3]&1 == 1 {
					b := a
					b.Index = (a.Index + 1) % 6
					r.Args = append(r.Args, b)
				}
			}
			p.Syscalls = append(p.Syscalls, r)
		}
		prog, err := compile(p)
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		a := nativeArch()
		for _, name := range names[:len(names)-1] {
			for i := 0; i < 6; i++ {
				var args [6]uint64
				args[i] = arg
				args[(i+int(pick))%6] = values[int(pick)%len(values)]
				c := call{nr: sysnr(name), arch: a, args: args}
				if got, want := run(t, prog, c), reference(t, p, c); got != want {
					js, _ := json.Marshal(p)
					t.Fatalf("%s%v: program says %#x, profile %#x\nprofile: %s\n%s", name, args, got, want, js, dump(prog))
				}
			}
		}
	})
}

func BenchmarkDefaultFilter(b *testing.B) {
	for b.Loop() {
		if _, err := (Options{}).Filter(); err != nil {
			b.Fatal(err)
		}
	}
}
