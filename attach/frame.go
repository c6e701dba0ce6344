// Package attach connects a terminal or a script to a detached container:
// the container's monitor serves a unix socket (Server), and box attach,
// start -a and run -dit's later attaches dial it (Dial).
//
// On the socket both sides send frames: one byte of kind, four bytes of
// big-endian length, the payload. The monitor sends the container's
// output (stdout and stderr apart) and, when the container ends, its exit
// status; the client sends a hello, then input, end of input and terminal
// sizes. Detaching is the client's business: it stops reading its stdin
// and hangs up (see DetachReader), which leaves the container running.
//
// Not for foreground containers: box run without -d hands the container
// its stdio and pty directly, with nothing in between.
package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame kinds. Output goes from the monitor to clients, input the other way.
const (
	kindStdout byte = 1
	kindStderr byte = 2
	kindExit   byte = 3 // payload: the exit status, 4 bytes, signed

	kindHello      byte = 16 // payload: JSON Hello
	kindStdin      byte = 17
	kindStdinClose byte = 18
	kindResize     byte = 19 // payload: rows, cols, 2 bytes each
)

// maxFrame bounds what a peer may make the other allocate.
const maxFrame = 1 << 20

// Hello is the client's first frame: what it attaches.
type Hello struct {
	Stdin  bool `json:"stdin"`
	Stdout bool `json:"stdout"`
	Stderr bool `json:"stderr"`
	Rows   int  `json:"rows,omitempty"`
	Cols   int  `json:"cols,omitempty"`
}

func writeFrame(w io.Writer, kind byte, p []byte) error {
	if len(p) > maxFrame {
		return fmt.Errorf("attach frame of %d bytes is too large", len(p))
	}
	_, err := w.Write(encodeFrame(kind, p))
	return err
}

// encodeFrame is one whole frame; p must not exceed maxFrame.
func encodeFrame(kind byte, p []byte) []byte {
	buf := make([]byte, 5+len(p))
	buf[0] = kind
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(p)))
	copy(buf[5:], p)
	return buf
}

// readFrame reads one frame; io.EOF only at a frame boundary.
func readFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return h[0], p, nil
}

func exitPayload(code int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(int32(code)))
}

func resizePayload(rows, cols uint16) []byte {
	p := binary.BigEndian.AppendUint16(nil, rows)
	return binary.BigEndian.AppendUint16(p, cols)
}
