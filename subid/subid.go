// Package subid parses /etc/subuid and /etc/subgid. It opens no files: the
// caller reads the file and adds its path to errors, so the parser can be
// fed anything that looks like those files (tests, fuzzing, getent output).
//
// It does not consult NSS or any other source of subordinate ids, and it
// does not decide what to do when a user has none: that is ErrNoRange,
// returned by callers.
package subid

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrNoRange says a user has no subordinate ids. Parse never returns it (an
// empty result is not a syntax problem); callers wrap it so the CLI can
// recognise the case and suggest usermod or --userns=single.
var ErrNoRange = errors.New("no subordinate ids")

// Range is Count subordinate ids starting at Start.
type Range struct{ Start, Count uint32 }

// SyntaxError is a malformed line belonging to the user being looked up.
type SyntaxError struct {
	Line int    // 1-based
	Text string // the line as read, without its newline
	Err  error
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *SyntaxError) Unwrap() error { return e.Err }

// Parse returns, in file order, the ranges that belong to the user: entries
// whose first field is the user's name or, like shadow, the user's uid as a
// decimal number. A negative uid or an empty name matches nothing.
//
// Lines are "owner:start:count". Surrounding whitespace is ignored; blank
// lines and lines starting with '#' are skipped. Start and count are
// decimal, count is at least 1, and Start+Count must stay below 2^32 because
// the kernel rejects an extent that wraps (and id 2^32-1 is invalid).
//
// A line that belongs to someone else is never an error, even if malformed:
// shadow's tools skip lines they cannot parse, and one bad entry for another
// user must not stop this one from running containers. A malformed line whose
// owner is this user is a *SyntaxError, because silently using fewer ids than
// the administrator granted would be worse.
func Parse(r io.Reader, user string, uid int) ([]Range, error) {
	var ranges []Range
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read line %d: %w", n, err)
		}
		if line == "" && err == io.EOF {
			return ranges, nil
		}
		text := strings.TrimRight(line, "\n")
		rg, mine, perr := parseLine(text, user, uid)
		switch {
		case !mine:
		case perr != nil:
			return nil, &SyntaxError{Line: n, Text: text, Err: perr}
		case rg != nil:
			ranges = append(ranges, *rg)
		}
		if err == io.EOF {
			return ranges, nil
		}
	}
}

// parseLine reports whether the line belongs to the user and, if so, its
// range or what is wrong with it. Comments and blank lines belong to nobody.
func parseLine(text, user string, uid int) (*Range, bool, error) {
	s := strings.TrimSpace(text)
	if s == "" || s[0] == '#' {
		return nil, false, nil
	}
	fields := strings.Split(s, ":")
	if !owns(fields[0], user, uid) {
		return nil, false, nil
	}
	if len(fields) != 3 {
		return nil, true, fmt.Errorf("want owner:start:count, got %d field(s)", len(fields))
	}
	start, err := number("start", fields[1])
	if err != nil {
		return nil, true, err
	}
	count, err := number("count", fields[2])
	if err != nil {
		return nil, true, err
	}
	if count == 0 {
		return nil, true, errors.New("count is 0")
	}
	if uint64(start)+uint64(count) > 1<<32-1 {
		return nil, true, fmt.Errorf("range %d+%d goes past the largest id %d", start, count, uint32(1<<32-2))
	}
	return &Range{Start: start, Count: count}, true, nil
}

// owns compares numerically, like shadow, so "01000" is uid 1000 too.
func owns(owner, user string, uid int) bool {
	if user != "" && owner == user {
		return true
	}
	if uid < 0 || owner == "" {
		return false
	}
	n, err := strconv.ParseUint(owner, 10, 64)
	return err == nil && n == uint64(uid)
}

func number(what, s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a decimal number below 2^32", what, s)
	}
	return uint32(n), nil
}

// Total is the number of ids in rs, saturating at 2^32-1, the most a user
// namespace can map. Overlapping ranges are counted twice.
func Total(rs []Range) uint64 {
	var t uint64
	for _, r := range rs {
		t += uint64(r.Count)
		if t >= 1<<32-1 {
			return 1<<32 - 1
		}
	}
	return t
}
