package dockerfile

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Mode is a --chmod: an octal mode, or chmod's symbolic clauses.
type Mode struct {
	octal   *fs.FileMode
	clauses []modeClause
}

type modeClause struct {
	who   fs.FileMode // the permission bits the clause touches (u, g, o)
	ops   []modeOp
	whoed bool // who was given (else the umask rule: here, a)
}

type modeOp struct {
	op    byte   // + - =
	perms string // rwxXst, or one of u g o (copy)
}

// ParseMode reads a --chmod value.
func ParseMode(s string) (Mode, error) {
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		if n > 0o7777 {
			return Mode{}, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
		}
		m := fileMode(uint32(n))
		return Mode{octal: &m}, nil
	}
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return Mode{}, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	}
	return ParseSymbolicMode(s)
}

// ParseSymbolicMode reads chmod's symbolic form: clauses such as u+x,
// go-w, a=rX, u+s, joined by commas.
func ParseSymbolicMode(s string) (Mode, error) {
	var m Mode
	for _, part := range strings.Split(s, ",") {
		var c modeClause
		i := 0
	who:
		for ; i < len(part); i++ {
			switch part[i] {
			case 'u':
				c.who |= 0o4700
			case 'g':
				c.who |= 0o2070
			case 'o':
				c.who |= 0o1007
			case 'a':
				c.who |= 0o7777
			default:
				break who
			}
			c.whoed = true
		}
		if !c.whoed {
			c.who = 0o7777
		}
		if i == len(part) {
			return Mode{}, fmt.Errorf("invalid chmod parameter %q: want [ugoa...][+-=][rwxXst...]", s)
		}
		for i < len(part) {
			op := part[i]
			if op != '+' && op != '-' && op != '=' {
				return Mode{}, fmt.Errorf("invalid chmod parameter %q: %q is not +, - or =", s, op)
			}
			i++
			j := i
			for j < len(part) && strings.IndexByte("rwxXstugo", part[j]) >= 0 {
				j++
			}
			perms := part[i:j]
			if strings.ContainsAny(perms, "ugo") && len(perms) != 1 {
				return Mode{}, fmt.Errorf("invalid chmod parameter %q", s)
			}
			c.ops = append(c.ops, modeOp{op: op, perms: perms})
			i = j
		}
		m.clauses = append(m.clauses, c)
	}
	return m, nil
}

// fileMode turns Unix permission bits into an fs.FileMode.
func fileMode(n uint32) fs.FileMode {
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// unixBits is the inverse of fileMode.
func unixBits(m fs.FileMode) uint32 {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return n
}

// Apply is the permission bits (with setuid, setgid and sticky) that a
// file of mode old gets.
func (m Mode) Apply(old fs.FileMode, isDir bool) fs.FileMode {
	if m.octal != nil {
		return *m.octal
	}
	bits := unixBits(old)
	for _, c := range m.clauses {
		for _, op := range c.ops {
			var set uint32
			switch op.perms {
			case "u":
				set = (bits >> 6) & 7 * 0o111
			case "g":
				set = (bits >> 3) & 7 * 0o111
			case "o":
				set = bits & 7 * 0o111
			default:
				for _, p := range op.perms {
					switch p {
					case 'r':
						set |= 0o444
					case 'w':
						set |= 0o222
					case 'x':
						set |= 0o111
					case 'X':
						if isDir || bits&0o111 != 0 {
							set |= 0o111
						}
					case 's':
						set |= 0o6000
					case 't':
						set |= 0o1000
					}
				}
			}
			who := uint32(c.who)
			set &= who
			switch op.op {
			case '+':
				bits |= set
			case '-':
				bits &^= set
			case '=':
				clear := who & 0o777
				if strings.ContainsAny(op.perms, "s") || !isDir {
					clear |= who & 0o6000
				}
				bits = bits&^clear | set
			}
		}
	}
	return fileMode(bits)
}
