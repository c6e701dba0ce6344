package attach

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultDetachKeys is Docker's and podman's ctrl-p ctrl-q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ErrDetached is what a DetachReader returns once the user typed the
// detach keys.
var ErrDetached = errors.New("detached from the container")

// ParseDetachKeys reads Docker's --detach-keys: comma-separated keys, each
// a single character or ctrl-X with X one of a-z @ [ \ ] ^ _. An empty
// string turns detaching off (nil keys).
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= '@' && c <= '_' && (c < 'A' || c > 'Z'):
				keys = append(keys, c-'@') // @ [ \ ] ^ _ are 0 and 27..31
			default:
				return nil, fmt.Errorf("invalid detach key %q: ctrl- takes a-z, @, [, \\, ], ^ or _", k)
			}
		default:
			return nil, fmt.Errorf("invalid detach key %q: want a single character or ctrl-X", k)
		}
	}
	return keys, nil
}

// DetachReader passes input through until the detach keys arrive, then
// returns ErrDetached. A partial match is held back until the next key
// shows whether it was the sequence; typed otherwise, it goes through.
type DetachReader struct {
	r        io.Reader
	keys     []byte
	held     int // keys[:held] matched so far, not yet passed on
	pending  []byte
	err      error
	detached bool
}

// NewDetachReader wraps r; with no keys it only passes r through.
func NewDetachReader(r io.Reader, keys []byte) *DetachReader {
	return &DetachReader{r: r, keys: keys}
}

func (d *DetachReader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		switch {
		case d.detached:
			return 0, ErrDetached
		case d.err != nil:
			return 0, d.err
		}
		buf := make([]byte, max(len(p), 1))
		n, err := d.r.Read(buf)
		if len(d.keys) == 0 {
			d.pending = buf[:n]
		} else {
			for _, b := range buf[:n] {
				if d.pending = d.feed(b, d.pending); d.detached {
					break // what follows the keys is not the container's
				}
			}
		}
		if err != nil {
			d.err = err
			// The input ended inside a partial match: those were keys the
			// user meant for the container after all.
			d.pending = append(d.pending, d.keys[:d.held]...)
			d.held = 0
		}
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

// feed matches one input byte, appending to out whatever is certain not
// to be part of the detach keys.
func (d *DetachReader) feed(b byte, out []byte) []byte {
	if b == d.keys[d.held] {
		d.held++
		if d.held == len(d.keys) {
			d.detached, d.held = true, 0
		}
		return out
	}
	if d.held == 0 {
		return append(out, b)
	}
	// The held prefix was not the sequence: its first byte goes on and the
	// rest is matched again, since the sequence may start inside it.
	replay := append(append([]byte{}, d.keys[1:d.held]...), b)
	out = append(out, d.keys[0])
	d.held = 0
	for _, r := range replay {
		if out = d.feed(r, out); d.detached {
			break
		}
	}
	return out
}
