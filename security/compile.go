package security

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// compile turns an OCI seccomp profile, already resolved for this
// architecture and the container's capabilities, into a classic BPF
// program for seccomp(2).
//
// box assembles the program itself and takes only the syscall tables from
// elastic/go-seccomp-bpf: elastic's assembler (v1.6.0) loads the syscall
// number once and never again, so after a rule's argument checks every
// later rule compares an argument against syscall numbers (with Docker's
// profile, socket(AF_NETLINK) was refused). It also returns EPERM for every
// errno action. Here:
//
//   - a foreign architecture's calls (a 32-bit x86 program on x86_64) and
//     the x32 ABI answer ENOSYS: only the native ABI's numbers are
//     checked, and a filter must not let another ABI past it;
//   - the syscall number is found by binary search over ranges of numbers
//     that share an outcome, so a call costs about a dozen instructions;
//   - a syscall's rules are tried in profile order, and the first whose
//     argument checks all hold decides (OCI's AND within a rule, OR across
//     rules); names this architecture lacks are skipped, as libseccomp does
//     for names it does not know.
func compile(p *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	native, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	def, err := retValue(p.DefaultAction, p.DefaultErrnoRet, nil)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	rules := map[int][]clause{}
	for i, r := range p.Syscalls {
		ret, err := retValue(r.Action, p.DefaultErrnoRet, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		for _, a := range r.Args {
			if err := checkArg(a); err != nil {
				return nil, fmt.Errorf("rule %d: %w", i+1, err)
			}
		}
		for _, name := range r.Names {
			nr, ok := native.SyscallNames[name]
			if !ok {
				continue
			}
			cl := rules[nr]
			if slices.ContainsFunc(cl, func(c clause) bool { return len(c.args) == 0 }) {
				continue // an earlier unconditional rule decides
			}
			rules[nr] = append(cl, clause{args: r.Args, ret: ret})
		}
	}

	var c compiler
	c.load(offArch)
	c.jumpIfNot(unix.BPF_JEQ, uint32(native.ID), c.enosys())
	c.load(offNr)
	if native.ID == arch.X86_64.ID {
		c.jumpIf(unix.BPF_JGE, x32SyscallBit, c.enosys())
	}
	c.search(intervals(rules, def))
	c.place(c.enosysLabel)
	c.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	return c.finish()
}

// x32SyscallBit marks the x32 ABI's syscall numbers on x86_64.
const x32SyscallBit = 0x40000000

// Offsets into struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// clause is one rule for one syscall: all args must hold for ret.
type clause struct {
	args []specs.LinuxSeccompArg
	ret  uint32
}

// interval is the syscall numbers from start up to the next interval's
// start, which all end the same way: ret, or for a single syscall with
// argument checks, its clauses and then def.
type interval struct {
	start   uint32
	clauses []clause // nil: ret
	ret     uint32
	def     uint32
}

// intervals covers every syscall number, merging neighbours that end
// alike so the search has fewer places to look.
func intervals(rules map[int][]clause, def uint32) []interval {
	var out []interval
	add := func(start int, iv interval) {
		iv.start = uint32(start)
		if n := len(out); n > 0 && out[n-1].clauses == nil && iv.clauses == nil && out[n-1].ret == iv.ret {
			return
		}
		out = append(out, iv)
	}
	next := 0
	for _, nr := range slices.Sorted(func(yield func(int) bool) {
		for nr := range rules {
			if !yield(nr) {
				return
			}
		}
	}) {
		if nr > next {
			add(next, interval{ret: def})
		}
		cl := rules[nr]
		if len(cl) == 1 && len(cl[0].args) == 0 {
			add(nr, interval{ret: cl[0].ret})
		} else {
			add(nr, interval{clauses: cl, def: def})
		}
		next = nr + 1
	}
	add(next, interval{ret: def})
	return out
}

// retValue is what seccomp returns for an OCI action.
func retValue(a specs.LinuxSeccompAction, defaultErrno, ruleErrno *uint) (uint32, error) {
	data := func() (uint32, error) {
		errno := uint(unix.EPERM)
		if ruleErrno != nil {
			errno = *ruleErrno
		} else if defaultErrno != nil {
			errno = *defaultErrno
		}
		if errno > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errno %d out of range", errno)
		}
		return uint32(errno), nil
	}
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		// With no tracer attached the kernel answers ENOSYS.
		d, err := data()
		return unix.SECCOMP_RET_TRACE | d, err
	case specs.ActErrno:
		d, err := data()
		return unix.SECCOMP_RET_ERRNO | d, err
	}
	return 0, fmt.Errorf("action %q is not supported", a)
}

func checkArg(a specs.LinuxSeccompArg) error {
	if a.Index > 5 {
		return fmt.Errorf("argument index %d: a syscall has 6 arguments", a.Index)
	}
	switch a.Op {
	case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		return nil
	}
	return fmt.Errorf("comparison %q is not supported", a.Op)
}

// compiler emits a program whose forward jumps name labels. Every jump to
// a label is a conditional jump over an unconditional one (whose offset
// has 32 bits), so no distance is too long for classic BPF's 8-bit ones.
type compiler struct {
	insns       []unix.SockFilter
	labels      []int // label → instruction index, -1 until placed
	fixups      map[int]int
	enosysLabel int
	hasEnosys   bool
}

func (c *compiler) newLabel() int {
	c.labels = append(c.labels, -1)
	return len(c.labels) - 1
}

func (c *compiler) place(l int) { c.labels[l] = len(c.insns) }

func (c *compiler) enosys() int {
	if !c.hasEnosys {
		c.enosysLabel, c.hasEnosys = c.newLabel(), true
	}
	return c.enosysLabel
}

func (c *compiler) emit(code uint16, jt, jf uint8, k uint32) {
	c.insns = append(c.insns, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
}

func (c *compiler) load(off uint32) { c.emit(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, off) }
func (c *compiler) and(k uint32)    { c.emit(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, 0, 0, k) }
func (c *compiler) ret(k uint32)    { c.emit(unix.BPF_RET|unix.BPF_K, 0, 0, k) }

func (c *compiler) jumpTo(l int) {
	if c.fixups == nil {
		c.fixups = map[int]int{}
	}
	c.fixups[len(c.insns)] = l
	c.emit(unix.BPF_JMP|unix.BPF_JA, 0, 0, 0)
}

// jumpIf goes to l when A <op> k (op: BPF_JEQ, BPF_JGT, BPF_JGE).
func (c *compiler) jumpIf(op uint16, k uint32, l int) {
	c.emit(unix.BPF_JMP|op|unix.BPF_K, 0, 1, k)
	c.jumpTo(l)
}

// jumpIfNot goes to l unless A <op> k.
func (c *compiler) jumpIfNot(op uint16, k uint32, l int) {
	c.emit(unix.BPF_JMP|op|unix.BPF_K, 1, 0, k)
	c.jumpTo(l)
}

// search finds the interval holding the syscall number in A.
func (c *compiler) search(ivs []interval) {
	if len(ivs) == 1 {
		c.leaf(ivs[0])
		return
	}
	mid := len(ivs) / 2
	right := c.newLabel()
	c.jumpIf(unix.BPF_JGE, ivs[mid].start, right)
	c.search(ivs[:mid])
	c.place(right)
	c.search(ivs[mid:])
}

func (c *compiler) leaf(iv interval) {
	if iv.clauses == nil {
		c.ret(iv.ret)
		return
	}
	for _, cl := range iv.clauses {
		next := c.newLabel()
		for _, a := range cl.args {
			c.arg(a, next)
		}
		c.ret(cl.ret)
		c.place(next)
	}
	c.ret(iv.def)
}

// argHalves are the offsets of an argument's upper and lower 32 bits.
func argHalves(i uint) (hi, lo uint32) {
	base := uint32(offArgs + 8*i)
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return base + 4, base
	}
	return base, base + 4
}

// arg checks one 64-bit argument comparison in 32-bit halves, going to
// fail when it does not hold and on to the next instruction when it does.
func (c *compiler) arg(a specs.LinuxSeccompArg, fail int) {
	offHi, offLo := argHalves(a.Index)
	hi, lo := uint32(a.Value>>32), uint32(a.Value)
	pass := c.newLabel()
	switch a.Op {
	case specs.OpEqualTo:
		c.load(offHi)
		c.jumpIfNot(unix.BPF_JEQ, hi, fail)
		c.load(offLo)
		c.jumpIfNot(unix.BPF_JEQ, lo, fail)
	case specs.OpNotEqual:
		c.load(offHi)
		c.jumpIfNot(unix.BPF_JEQ, hi, pass)
		c.load(offLo)
		c.jumpIf(unix.BPF_JEQ, lo, fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		c.load(offHi)
		c.jumpIf(unix.BPF_JGT, hi, pass)
		c.jumpIfNot(unix.BPF_JEQ, hi, fail)
		c.load(offLo)
		op := uint16(unix.BPF_JGT)
		if a.Op == specs.OpGreaterEqual {
			op = unix.BPF_JGE
		}
		c.jumpIfNot(op, lo, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		c.load(offHi)
		c.jumpIf(unix.BPF_JGT, hi, fail)
		c.jumpIfNot(unix.BPF_JEQ, hi, pass)
		c.load(offLo)
		op := uint16(unix.BPF_JGE)
		if a.Op == specs.OpLessEqual {
			op = unix.BPF_JGT
		}
		c.jumpIf(op, lo, fail)
	case specs.OpMaskedEqual:
		m, want := a.Value, a.ValueTwo
		c.load(offHi)
		c.and(uint32(m >> 32))
		c.jumpIfNot(unix.BPF_JEQ, uint32(want>>32), fail)
		c.load(offLo)
		c.and(uint32(m))
		c.jumpIfNot(unix.BPF_JEQ, uint32(want), fail)
	}
	c.place(pass)
}

// finish resolves the jumps.
func (c *compiler) finish() ([]unix.SockFilter, error) {
	for at, l := range c.fixups {
		to := c.labels[l]
		if to <= at {
			return nil, fmt.Errorf("jump at %d to label %d (at %d) is not forward", at, l, to)
		}
		c.insns[at].K = uint32(to - at - 1)
	}
	if len(c.insns) > bpfMaxInsns {
		return nil, fmt.Errorf("the filter has %d instructions; the kernel takes at most %d", len(c.insns), bpfMaxInsns)
	}
	return c.insns, nil
}

// String prints a program, one instruction a line, for tests' messages.
func dump(prog []unix.SockFilter) string {
	var b []byte
	for i, in := range prog {
		b = strconv.AppendInt(b, int64(i), 10)
		b = fmt.Appendf(b, ": code=%#04x jt=%d jf=%d k=%#x\n", in.Code, in.Jt, in.Jf, in.K)
	}
	return string(b)
}
