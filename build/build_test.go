package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/boxcli/box/buildctx"
	"github.com/boxcli/box/dockerfile"
)

func TestParseChown(t *testing.T) {
	passwd := []byte("root:x:0:0::/root:/bin/sh\n# comment\nbox:x:1000:1001:box:/home/box:/bin/sh\n")
	group := []byte("root:x:0:\nusers:x:100:box\n")
	for _, tc := range []struct {
		spec string
		want ids
		err  error
	}{
		{"0", ids{0, 0}, nil},
		{"1234", ids{1234, 1234}, nil}, // a number alone: the gid too
		{"1234:5", ids{1234, 5}, nil},
		{"box", ids{1000, 1001}, nil}, // a name alone: its primary group
		{"box:users", ids{1000, 100}, nil},
		{"1234:users", ids{1234, 100}, nil},
		{"nosuch", ids{}, ErrUnknownUser},
		{"box:nosuch", ids{}, ErrUnknownUser},
		{":1", ids{}, nil},
		{"1:", ids{}, nil},
	} {
		got, err := parseChown(tc.spec, passwd, group)
		switch {
		case tc.spec == ":1" || tc.spec == "1:":
			if err == nil {
				t.Errorf("parseChown(%q) accepted it", tc.spec)
			}
		case !errors.Is(err, tc.err) || err == nil && got != tc.want:
			t.Errorf("parseChown(%q) = %v, %v; want %v, %v", tc.spec, got, err, tc.want, tc.err)
		}
	}
}

// TestCopyStaysInTheLayer: a symlink an earlier step left in the layer,
// however it points, cannot send a COPY out of it.
func TestCopyStaysInTheLayer(t *testing.T) {
	// --chown to ourselves: any user may, so the test needs no root.
	self := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	outside := t.TempDir()
	root := t.TempDir()
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The layer's /app and /etc/x point outside, absolutely and upwards.
	if err := os.Symlink(outside, filepath.Join(root, "app")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../.."+outside, filepath.Join(root, "etc", "x")); err != nil {
		t.Fatal(err)
	}
	tree, err := buildctx.Open(ctxDir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{"/app/", "/app/sub/f", "/etc/x/", "/etc/x/f2"} {
		err := copyInto(context.Background(), root, copySpec{tree: tree, step: &dockerfile.CopyStep{Sources: []string{"f"}, Dest: dest, Chown: self}})
		if err != nil {
			t.Fatalf("COPY f %s: %v", dest, err)
		}
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("COPY wrote outside the layer: %v", entries)
	}
	// What it wrote went where the links lead inside the layer.
	for _, p := range []string{outside + "/f", outside + "/sub/f", outside + "/f2"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s inside the layer: %v", p, err)
		}
	}
}
