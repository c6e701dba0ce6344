package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// lowerTree is a tree below a layer for checkWhiteouts: name -> type, and
// a symlink's target after a space.
func lowerTree(m map[string]string) func(string) (fs.FileMode, string, bool) {
	return func(name string) (fs.FileMode, string, bool) {
		v, ok := m[name]
		if !ok {
			return 0, "", false
		}
		kind, target, _ := strings.Cut(v, " ")
		return map[string]fs.FileMode{"dir": fs.ModeDir, "fifo": fs.ModeNamedPipe, "file": 0, "symlink": fs.ModeSymlink}[kind], target, true
	}
}

func guardTar(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		h.Mode = 0o644
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckWhiteouts(t *testing.T) {
	fifo := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeFifo} }
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir} }
	file := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg} }
	link := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: to} }
	hard := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: to} }
	for _, tc := range []struct {
		name    string
		entries []tar.Header
		lower   map[string]string
		refused bool
	}{
		{name: "fifo then a whiteout below it", entries: []tar.Header{fifo("x"), file("x/.wh.y")}, refused: true},
		{name: "below a fifo of the layer below", entries: []tar.Header{file("x/.wh.y")}, lower: map[string]string{"x": "fifo"}, refused: true},
		{name: "deeper, below the layer's fifo", entries: []tar.Header{dir("a/"), fifo("a/b"), file("a/b/.wh.c")}, refused: true},
		// containers/storage makes a missing directory of an entry
		{name: "in a directory the layer did not list", entries: []tar.Header{fifo("a/b"), file("a/b/.wh.c")}, refused: true},
		// FuzzLayerWhiteouts found it: a whiteout of ".wh." is one too
		{name: "of a name like a whiteout", entries: []tar.Header{fifo("a/b"), file("a/b/.wh..wh.")}, refused: true},
		{name: "through a symlink to a fifo below", entries: []tar.Header{link("l", "f"), file("l/.wh.y")}, lower: map[string]string{"f": "fifo"}, refused: true},
		{name: "through an absolute symlink", entries: []tar.Header{fifo("d/f"), link("l", "/d/f"), file("l/.wh.y")}, lower: map[string]string{"d": "dir"}, refused: true},
		{name: "through a symlink of the layer below", entries: []tar.Header{file("l/.wh.y")}, lower: map[string]string{"l": "symlink ../../f", "f": "fifo"}, refused: true},
		{name: "through a hardlink to a fifo", entries: []tar.Header{fifo("f"), hard("h", "f"), file("h/.wh.y")}, refused: true},
		{name: "dotdot stays in the layer", entries: []tar.Header{fifo("x"), file("../../x/.wh.y")}, refused: true},
		{name: "the fifo replaced by a directory", entries: []tar.Header{dir("x/"), file("x/.wh.y")}, lower: map[string]string{"x": "fifo"}},
		{name: "the fifo whited out first", entries: []tar.Header{file(".wh.x"), file("x/.wh.y")}, lower: map[string]string{"x": "fifo"}},
		{name: "an opaque marker in a fifo", entries: []tar.Header{fifo("x"), file("x/.wh..wh..opq")}},
		{name: "below a directory", entries: []tar.Header{dir("x/"), file("x/.wh.y")}, lower: map[string]string{"x": "dir", "x/y": "fifo"}},
		{name: "below a file", entries: []tar.Header{file("x"), file("x/.wh.y")}},
		{name: "below a fifo's name in a directory", entries: []tar.Header{file("x/f/.wh.y")}, lower: map[string]string{"x": "file", "x/f": "fifo"}},
		{name: "a symlink loop", entries: []tar.Header{link("a", "b"), link("b", "a"), file("a/.wh.y")}},
		{name: "a whiteout of the fifo itself", entries: []tar.Header{fifo("x"), file(".wh.x")}},
		{name: "nothing below", entries: []tar.Header{file("x/.wh.y")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkWhiteouts(bytes.NewReader(guardTar(t, tc.entries...)), lowerTree(tc.lower))
			switch {
			case tc.refused && !errors.Is(err, ErrHostileLayer):
				t.Errorf("checkWhiteouts = %v, want ErrHostileLayer", err)
			case !tc.refused && err != nil:
				t.Errorf("checkWhiteouts = %v, want nil", err)
			case err != nil && strings.ContainsAny(err.Error(), "\n"):
				t.Errorf("checkWhiteouts error %q spans lines", err)
			}
		})
	}
}

// A tar that is not one is left for containers/storage to refuse.
func TestCheckWhiteoutsGarbage(t *testing.T) {
	if err := checkWhiteouts(strings.NewReader("not a tar at all, but long enough to be read as a header block"), lowerTree(nil)); err != nil {
		t.Errorf("checkWhiteouts(garbage) = %v, want nil", err)
	}
}
