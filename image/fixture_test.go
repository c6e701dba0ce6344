package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// rootfsTar is a small root filesystem: a directory, files, one owned by
// 100:100, a symlink. seed makes layers (and so images) differ.
func rootfsTar(t *testing.T, seed string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mod := time.Unix(1700000000, 0)
	add := func(h *tar.Header, body string) {
		h.ModTime = mod
		h.Size = int64(len(body))
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "etc/hello", Typeflag: tar.TypeReg, Mode: 0o644}, "hello "+seed+"\n")
	add(&tar.Header{Name: "owned", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 100, Gid: 100}, "mine\n")
	add(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 100, Gid: 100}, "")
	add(&tar.Header{Name: "data/sub/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "data/sub/file", Typeflag: tar.TypeReg, Mode: 0o600}, "deep\n")
	add(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "etc/hello", Mode: 0o777}, "")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testImage builds a one-layer image; oci selects OCI media types.
func testImage(t *testing.T, seed string, oci bool) v1.Image {
	t.Helper()
	data := rootfsTar(t, seed)
	var opts []tarball.LayerOption
	base := empty.Image
	if oci {
		opts = append(opts, tarball.WithMediaType(ggcrtypes.OCILayer))
		base = mutate.MediaType(base, ggcrtypes.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, ggcrtypes.OCIConfigJSON)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0).UTC()}
	cf.Config.Cmd = []string{"/bin/sh", "-c", "echo " + seed}
	cf.Config.Env = []string{"PATH=/usr/bin:/bin", "SEED=" + seed}
	cf.Config.WorkingDir = "/data"
	cf.Config.Labels = map[string]string{"seed": seed}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func imageID(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.Hex
}

// writeDockerArchive writes images under their refs; a name.Digest ref
// leaves the image untagged.
func writeDockerArchive(t *testing.T, path string, refs map[string]v1.Image) {
	t.Helper()
	m := map[name.Reference]v1.Image{}
	for r, img := range refs {
		var ref name.Reference
		var err error
		if strings.Contains(r, "@") {
			ref, err = name.NewDigest(r)
		} else {
			ref, err = name.NewTag(r)
		}
		if err != nil {
			t.Fatal(err)
		}
		m[ref] = img
	}
	if err := tarball.MultiRefWriteToFile(path, m); err != nil {
		t.Fatal(err)
	}
}

// writeOCILayout writes images with the given index annotations, in order.
func writeOCILayout(t *testing.T, dir string, imgs []v1.Image, anns []map[string]string) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		if err := p.AppendImage(img, layout.WithAnnotations(anns[i])); err != nil {
			t.Fatal(err)
		}
	}
}

// tarDir writes dir's regular files and directories to a tar file.
func tarDir(t *testing.T, dir, file string) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// testStore opens a store in a fresh directory. At cleanup it closes the
// store if the test did not, checks that nothing under the directory is
// still mounted, and makes the overlay work directories removable.
func testStore(t *testing.T, driver string) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	st, err := Open(Options{
		GraphRoot: filepath.Join(root, "graph"),
		RunRoot:   filepath.Join(root, "run"),
		Driver:    driver,
		Warnf:     t.Logf,
	})
	if err != nil {
		cleanRoot(t, root)
		t.Fatalf("Open(driver %q) = %v", driver, err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if m := mountsUnder(t, root); len(m) > 0 {
			t.Errorf("still mounted under the store after Close: %v", m)
		}
		cleanRoot(t, root)
	})
	return st, root
}

// cleanRoot unmounts whatever is left and makes everything writable so
// that t.TempDir's removal works.
func cleanRoot(t *testing.T, root string) {
	for _, m := range mountsUnder(t, root) {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
}

func mountsUnder(t *testing.T, root string) []string {
	t.Helper()
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(root))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Mountpoint+" ("+m.FSType+")")
	}
	return out
}

func fsType(t *testing.T, dir string) string {
	t.Helper()
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("%s: %d mount entries, want 1", dir, len(ms))
	}
	return ms[0].FSType
}

func owner(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// fuseUsable says why fuse-overlayfs cannot be tested here, or "".
func fuseUsable() string {
	if _, err := fuseOverlayfs(); err != nil {
		return err.Error()
	}
	return ""
}

// checkRootfs checks the files of rootfsTar(seed) in a mounted rootfs,
// then changes it the way a container would, through the lower layer.
func checkRootfs(t *testing.T, dir, seed string, wantOwner uint32) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "etc/hello"))
	if err != nil || string(b) != "hello "+seed+"\n" {
		t.Errorf("etc/hello = %q, %v; want %q", b, err, "hello "+seed+"\n")
	}
	if l, err := os.Readlink(filepath.Join(dir, "link")); err != nil || l != "etc/hello" {
		t.Errorf("link -> %q, %v; want etc/hello", l, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data/sub/file")); err != nil || string(b) != "deep\n" {
		t.Errorf("data/sub/file = %q, %v", b, err)
	}
	for _, p := range []string{"owned", "data"} {
		if uid, gid := owner(t, filepath.Join(dir, p)); uid != wantOwner || gid != wantOwner {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, uid, gid, wantOwner, wantOwner)
		}
	}
	if uid, gid := owner(t, filepath.Join(dir, "etc/hello")); uid != 0 || gid != 0 {
		t.Errorf("etc/hello owned by %d:%d, want 0:0", uid, gid)
	}
	// Renaming and deleting directories from the image is where a mount
	// without userxattr fails with EIO.
	// Without redirect_dir a rename gives EXDEV and mv copies instead.
	if err := os.Rename(filepath.Join(dir, "data"), filepath.Join(dir, "moved")); errors.Is(err, unix.EXDEV) {
		if err := os.CopyFS(filepath.Join(dir, "moved"), os.DirFS(filepath.Join(dir, "data"))); err != nil {
			t.Errorf("copy lower dir: %v", err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
			t.Errorf("delete lower dir: %v", err)
		}
	} else if err != nil {
		t.Errorf("rename lower dir: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "moved")); err != nil {
		t.Errorf("delete lower dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new"), []byte("x"), 0o644); err != nil {
		t.Errorf("write new file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "moved")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted dir still there: %v", err)
	}
}
