package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

func TestIDRanges(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []idRange
		wantErr bool
	}{
		{"         0       1001          1\n         1     100000      65536\n", []idRange{{0, 1}, {1, 65536}}, false},
		{"0 0 4294967295\n", []idRange{{0, 4294967295}}, false},
		{"", nil, false},
		{"0 1001\n", nil, true},
		{"x 1 1\n", nil, true},
	} {
		got, err := idRanges(strings.NewReader(tc.in))
		if (err != nil) != tc.wantErr || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("idRanges(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	m := idMaps{uids: []idRange{{0, 1}, {1, 65536}}, gids: []idRange{{0, 65537}}, overflowUID: overflowID, overflowGID: overflowID}
	for _, tc := range []struct {
		uid, gid, wantUID, wantGID int
		changed                    bool
	}{
		{0, 0, 0, 0, false},
		{65536, 65536, 65536, 65536, false},
		{65537, 0, overflowID, 0, true},
		{0, 200000, 0, overflowID, true},
		{-1, 4294967295, overflowID, overflowID, true},
	} {
		u, g, c := m.remap(tc.uid, tc.gid)
		if u != tc.wantUID || g != tc.wantGID || c != tc.changed {
			t.Errorf("remap(%d, %d) = %d, %d, %v; want %d, %d, %v", tc.uid, tc.gid, u, g, c, tc.wantUID, tc.wantGID, tc.changed)
		}
	}
	if m.fits([]uint32{0, 65536}, []uint32{65536}) != true || m.fits([]uint32{65537}, nil) != false {
		t.Error("fits() disagrees with remap()")
	}
}

// TestOverflowIDs loads an image whose files belong to ids beyond the
// namespace (200000 and up, where the user has 65536): the load succeeds,
// those files belong to 65534 in the container, one warning names the first,
// and the stored layer still reproduces the original tar bit for bit.
func TestOverflowIDs(t *testing.T) {
	if harnessMode() == fullMap {
		defer runSingleIDMap(t, t.Name())
	}
	ctx := context.Background()
	canary := t.TempDir()
	data := layerTar(t, []hostileEntry{
		dir("etc/"),
		{tar.Header{Name: "etc/ok", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 100, Gid: 100}, "ok\n"},
		{tar.Header{Name: "pwn-big", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 200000, Gid: 200000}, "big\n"},
		{tar.Header{Name: "bigdir/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 300000}, ""},
		{tar.Header{Name: "bigdir/f", Typeflag: tar.TypeReg, Mode: 0o644, Gid: 300001}, "f\n"},
		{tar.Header{Name: "pwn-suid", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 200001}, "#!/bin/sh\n"},
		{tar.Header{Name: "biglink", Typeflag: tar.TypeSymlink, Linkname: "etc/ok", Mode: 0o777, Uid: 200000, Gid: 200000}, ""},
		{tar.Header{Name: "pwn-hl", Typeflag: tar.TypeLink, Linkname: "pwn-big", Mode: 0o644, Uid: 200000, Gid: 200000}, ""},
	})
	img := imageOf(t, data)

	var warnings []string
	root := t.TempDir()
	st, err := Open(Options{
		GraphRoot: filepath.Join(root, "graph"), RunRoot: filepath.Join(root, "run"),
		Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		cleanRoot(t, root)
	})
	src := filepath.Join(root, "big.tar")
	writeDockerArchive(t, src, map[string]v1.Image{"localhost/big:1": img})
	beforeCanary := snapshot(t, canary)

	if _, err := st.Load(ctx, src); err != nil {
		t.Fatalf("Load() = %v, want the ids beyond the range mapped, not a failure", err)
	}
	checkSnapshot(t, "canary", beforeCanary, snapshot(t, canary))
	single := harnessMode() == singleMap
	if single {
		// every owner but root already collapses to root; box warned about
		// the single-ID map once, elsewhere
		if len(warnings) != 0 {
			t.Errorf("warnings = %q, want none with a single-ID map", warnings)
		}
	} else if len(warnings) != 1 || !strings.Contains(warnings[0], "/pwn-big is owned by 200000:200000") || !strings.Contains(warnings[0], "65534:65534") {
		t.Errorf("warnings = %q, want one naming /pwn-big and 200000:200000 -> 65534:65534", warnings)
	}

	ids, err := st.store.Layers()
	if err != nil || len(ids) != 1 {
		t.Fatalf("Layers() = %v, %v", ids, err)
	}
	// The stored layer is still the image's: same tar, same digest.
	uncompressed := archive.Uncompressed
	rc, err := st.store.Diff("", ids[0].ID, &storage.DiffOptions{Compression: &uncompressed})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, rc)
	rc.Close()
	if want := fmt.Sprintf("sha256:%x", sha256.Sum256(data)); err != nil || fmt.Sprintf("sha256:%x", h.Sum(nil)) != want {
		t.Errorf("stored layer's tar = sha256:%x, %v; want the original %s", h.Sum(nil), err, want)
	}

	if err := st.CreateContainer(containerID, imageID(t, img), ContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	rootfs, err := st.Mount(containerID)
	if err != nil {
		t.Fatal(err)
	}
	o, hundred := uint32(overflowID), uint32(100)
	if single {
		o, hundred = 0, 0
	}
	for _, tc := range []struct {
		name     string
		uid, gid uint32
	}{
		{"etc/ok", hundred, hundred},
		{"pwn-big", o, o},
		{"bigdir", o, 0},
		{"bigdir/f", 0, o},
		{"pwn-suid", o, 0},
		{"biglink", o, o},
	} {
		if uid, gid := owner(t, filepath.Join(rootfs, tc.name)); uid != tc.uid || gid != tc.gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", tc.name, uid, gid, tc.uid, tc.gid)
		}
	}
	if b, err := os.ReadFile(filepath.Join(rootfs, "pwn-big")); err != nil || string(b) != "big\n" {
		t.Errorf("pwn-big = %q, %v", b, err)
	}
	// the set-uid bit named uid 200001, not nobody: it is dropped (with a
	// single-ID map the file stays root's, as every file there does, and
	// keeps it, as podman does)
	fi, err := os.Lstat(filepath.Join(rootfs, "pwn-suid"))
	wantMode := fs.FileMode(0o755)
	if single {
		wantMode |= fs.ModeSetuid
	}
	if err != nil || fi.Mode() != wantMode {
		t.Errorf("pwn-suid mode = %v, %v; want %v", fi.Mode(), err, wantMode)
	}
	if err := st.Unmount(containerID); err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, "canary", beforeCanary, snapshot(t, canary))

	// Loading it again reuses the layer, finds it fixed already, and warns
	// again, since this load also brought such files.
	writeDockerArchive(t, src, map[string]v1.Image{"localhost/big:2": img})
	if _, err := st.Load(ctx, src); err != nil {
		t.Fatal(err)
	}
	if want := 2; !single && len(warnings) != want {
		t.Errorf("after a second load, %d warnings, want %d", len(warnings), want)
	}
}

// TestOverflowThroughSymlink: a file written through a symlink that points
// out of the layer lands inside it (see hostile_test.go), but
// containers/storage can then not read the layer back (it looks for the
// file under the symlink's name), so the fix-up cannot read its headers:
// with ids beyond the range such a layer fails to load, cleanly, and
// nothing outside the store changes.
func TestOverflowThroughSymlink(t *testing.T) {
	canary := t.TempDir()
	st, root := testStore(t, "")
	src := filepath.Join(root, "through.tar")
	writeDockerArchive(t, src, map[string]v1.Image{"localhost/through:1": imageOf(t, layerTar(t, []hostileEntry{
		symlink("lnk", canary),
		{tar.Header{Name: "lnk/pwn-through", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 200000, Gid: 200000}, "through\n"},
	}))})
	before := snapshot(t, canary)
	_, err := st.Load(context.Background(), src)
	checkSnapshot(t, "canary", before, snapshot(t, canary))
	if harnessMode() == singleMap {
		if err != nil {
			t.Fatalf("Load() = %v; with a single-ID map no fix-up runs", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "map ids beyond the user namespace") {
		t.Fatalf("Load() = %v, want the fix-up to fail", err)
	}
	if imgs, _ := st.Images(); len(imgs) != 0 {
		t.Errorf("after a failed load the store holds %+v", imgs)
	}
}
