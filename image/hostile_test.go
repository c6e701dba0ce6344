package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/registrytest"
)

// Layers come from strangers. These tests build hostile layer tars, load
// them into a fresh store through the same containers/image →
// containers/storage path a pull takes, and then look at the host: nothing
// may appear or change outside the store's layer directories. The *Pull
// variants push the same images to a test registry (Debian's
// docker-registry on 127.0.0.1) and pull them: the outcome must be the
// load's, refused stays refused and neutralised stays neutralised.
//
// What containers/storage does with each (v1.64, rootless: box's stage sets
// _CONTAINERS_USERNS_CONFIGURED, so even as real root it takes the rootless
// path, and extraction runs in a re-executed helper chrooted into the layer):
//   - "../" names: refused, `"../x" is outside of "<layer>"`.
//   - absolute names: taken relative to the layer ("/etc/x" → <layer>/etc/x).
//   - symlinks are stored as they are (they are data); entries below one are
//     resolved with the symlink confined to the layer (SecureJoin), so
//     "link/x" with link → /tmp/canary lands in <layer>/tmp/canary/x.
//   - hardlinks whose target leaves the layer: refused ("invalid hardlink");
//     absolute or symlinked targets resolve inside the layer, where they do
//     not exist: refused (no such file).
//   - block and char devices: skipped, not created (a user namespace cannot
//     make them, not even as real root's identity map); fifos are made.
//   - set-uid/set-gid bits: kept, as rootless podman keeps them. They cannot
//     reach beyond the user's own ids (the owner is one of the user's
//     subordinate ids, set-id execution inside the container is bounded by
//     the user namespace, and box sets no_new_privs); on the host the graph
//     root is 0700, so no other user can reach such a file.
//   - whiteouts: ".wh.." and ".wh..." are refused ("invalid whiteout path");
//     opaque markers and whiteouts below a symlink act on the resolved path
//     inside the layer.
//   - a decompression bomb: no size limit exists in containers/image or
//     containers/storage (nor in podman or docker); a layer that expands
//     beyond the disk fails with ENOSPC, and the half-extracted layer and the
//     image are removed, so the disk is free again (TestHostileBomb).

// hostileEntry is one tar entry; body is the file's content.
type hostileEntry struct {
	h    tar.Header
	body string
}

func reg(name, body string) hostileEntry {
	return hostileEntry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body}
}

func dir(name string) hostileEntry {
	return hostileEntry{tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}, ""}
}

func symlink(name, target string) hostileEntry {
	return hostileEntry{tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}, ""}
}

func hardlink(name, target string) hostileEntry {
	return hostileEntry{tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}, ""}
}

func layerTar(t *testing.T, entries []hostileEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.h
		h.ModTime = time.Unix(1700000000, 0)
		h.Size = int64(len(e.body))
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %q: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageOf builds an image from raw uncompressed layer tars; ggcr gzips them.
func imageOf(t *testing.T, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, data := range layers {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return withPlatform(t, img)
}

func withPlatform(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// snapshot describes every file under dir: type, mode, owner, link count,
// size, content or link target, and extended attribute names, so that any
// write, new hardlink, chown, chmod or xattr shows as a difference.
func snapshot(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if slices.Contains(skip, rel) {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d nlink=%d size=%d", fi.Mode(), st.Uid, st.Gid, st.Nlink, fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case fi.Mode().IsRegular() && fi.Size() < 1<<20:
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" sha256=%x", sha256.Sum256(b))
		}
		buf := make([]byte, 4096)
		if n, err := unix.Llistxattr(p, buf); err == nil {
			desc += " xattrs=" + strings.ReplaceAll(string(buf[:n]), "\x00", ",")
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, d := range after {
		if b, ok := before[p]; !ok {
			t.Errorf("%s: %s appeared: %s", what, p, d)
		} else if b != d {
			t.Errorf("%s: %s changed: %s, was %s", what, p, d, b)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s vanished", what, p)
		}
	}
}

// layerContent matches the places in a graph root that hold a layer's own
// files; everything a layer tar names must stay below one of them.
var layerContent = regexp.MustCompile(`^(overlay/[^/]+/(diff|merged)|vfs/dir/[^/]+)(/|$)`)

// scanGraph checks the whole graph root on the host: no file whose name
// marks it as a test payload ("pwn") outside a layer's content, and no
// device node but overlay's whiteouts (char 0:0). It returns the set-id
// files it saw, by layer-relative name.
func scanGraph(t *testing.T, graph string) (setid map[string]fs.FileMode) {
	t.Helper()
	setid = map[string]fs.FileMode{}
	err := filepath.WalkDir(graph, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(graph, p)
		if strings.Contains(d.Name(), "pwn") && !layerContent.MatchString(rel) {
			t.Errorf("payload %s written outside any layer's files", rel)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeDevice != 0 && (fi.Mode()&fs.ModeCharDevice == 0 || st.Rdev != 0) {
			t.Errorf("device node %s (%v, rdev %d:%d) in the store", rel, fi.Mode(), unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 && !fi.IsDir() {
			setid[filepath.Base(p)] = fi.Mode()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return setid
}

type hostileCase struct {
	name string
	// layers builds the layer tars; canary is an absolute directory outside
	// the store that the layers try to reach.
	layers func(t *testing.T, canary string) [][]byte
	// wantErr is a substring of Load's error; "" means the load must succeed.
	wantErr string
	// check looks at the mounted root filesystem of a loaded image.
	check func(t *testing.T, rootfs, canary string)
	// setid lists the set-id files the layer must keep, by name.
	setid []string
}

func one(entries ...hostileEntry) func(*testing.T, string) [][]byte {
	return func(t *testing.T, _ string) [][]byte { return [][]byte{layerTar(t, entries)} }
}

// up climbs far enough that any relative path reaches the host's /.
var up = strings.Repeat("../", 24)

func hostileCases() []hostileCase {
	base := []hostileEntry{dir("etc/"), reg("etc/hello", "hello\n"), dir("keep/"), reg("keep/file", "kept\n")}
	return []hostileCase{
		{
			name: "dotdot",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{reg(up+c[1:]+"/pwn-dotdot", "x")})}
			},
			// the extraction helper is chrooted into the layer: ".." stops there
			check: func(t *testing.T, rootfs, c string) { wantFile(t, filepath.Join(rootfs, c, "pwn-dotdot"), "x") },
		},
		{
			name:   "dotdot-shallow",
			layers: one(reg("../pwn-shallow", "x")),
			check:  func(t *testing.T, rootfs, _ string) { wantFile(t, filepath.Join(rootfs, "pwn-shallow"), "x") },
		},
		{
			name: "dotdot-inside-name",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{dir("etc/"), reg("etc/"+up+c[1:]+"/pwn-mid", "x")})}
			},
			check: func(t *testing.T, rootfs, c string) { wantFile(t, filepath.Join(rootfs, c, "pwn-mid"), "x") },
		},
		{
			name: "absolute",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{reg(c+"/pwn-abs", "abs"), reg("/etc/pwn-abs", "abs")})}
			},
			check: func(t *testing.T, rootfs, c string) {
				wantFile(t, filepath.Join(rootfs, c, "pwn-abs"), "abs")
				wantFile(t, filepath.Join(rootfs, "etc/pwn-abs"), "abs")
			},
		},
		{
			name: "symlink-then-write-through",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{
					symlink("lnk", c), reg("lnk/pwn-through", "through"),
					symlink("rel", up), reg("rel/"+c[1:]+"/pwn-rel", "rel"),
					symlink("etclink", "/etc"), reg("etclink/pwn-etc", "etc"),
				})}
			},
			check: func(t *testing.T, rootfs, c string) {
				if l, err := os.Readlink(filepath.Join(rootfs, "lnk")); err != nil || l != c {
					t.Errorf("lnk -> %q, %v; want the symlink kept as data, -> %s", l, err, c)
				}
				wantFile(t, filepath.Join(rootfs, c, "pwn-through"), "through")
				wantFile(t, filepath.Join(rootfs, c, "pwn-rel"), "rel")
				wantFile(t, filepath.Join(rootfs, "etc/pwn-etc"), "etc")
			},
		},
		{
			name: "symlink-as-layer-root",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{symlink("./", c), reg("pwn-root", "x")})}
			},
			wantErr: "non-directory entry as the archive root",
		},
		{
			name: "hardlink-dotdot",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{hardlink("pwn-hl", up+c[1:]+"/target")})}
			},
			// resolved inside the chroot, where the target does not exist
			wantErr: "no such file",
		},
		{
			name: "hardlink-absolute",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{hardlink("pwn-hl", c+"/target")})}
			},
			wantErr: "no such file",
		},
		{
			name: "hardlink-through-symlink",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{symlink("lnk", c), hardlink("pwn-hl", "lnk/target")})}
			},
			wantErr: "no such file",
		},
		{
			name: "hardlink-to-escaping-symlink",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, []hostileEntry{symlink("lnk", c+"/target"), hardlink("pwn-hl", "lnk"), reg("pwn-hl/pwn-more", "x")})}
			},
			// the link is a second name for the symlink itself; a file
			// "below" it resolves inside the layer.
			check: func(t *testing.T, rootfs, c string) {
				if l, err := os.Readlink(filepath.Join(rootfs, "pwn-hl")); err != nil || l != c+"/target" {
					t.Errorf("pwn-hl -> %q, %v; want a hardlink of the symlink", l, err)
				}
				wantFile(t, filepath.Join(rootfs, c, "target/pwn-more"), "x")
			},
		},
		{
			name: "devices",
			layers: one(dir("dev/"),
				hostileEntry{tar.Header{Name: "dev/pwn-null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}, ""},
				hostileEntry{tar.Header{Name: "dev/pwn-mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1, Mode: 0o666}, ""},
				hostileEntry{tar.Header{Name: "dev/pwn-sda", Typeflag: tar.TypeBlock, Devmajor: 8, Devminor: 0, Mode: 0o666}, ""},
				hostileEntry{tar.Header{Name: "dev/pwn-fifo", Typeflag: tar.TypeFifo, Mode: 0o644}, ""},
				reg("dev/after", "after\n")),
			check: func(t *testing.T, rootfs, _ string) {
				// skipped, as rootless podman does: no device the user could not make.
				for _, n := range []string{"pwn-null", "pwn-mem", "pwn-sda"} {
					if fi, err := os.Lstat(filepath.Join(rootfs, "dev", n)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("dev/%s: %v, %v; want it skipped", n, fi, err)
					}
				}
				if fi, err := os.Lstat(filepath.Join(rootfs, "dev/pwn-fifo")); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
					t.Errorf("dev/pwn-fifo = %v, %v; want a fifo", fi, err)
				}
				wantFile(t, filepath.Join(rootfs, "dev/after"), "after\n")
			},
		},
		{
			name: "setid",
			layers: one(dir("bin/"),
				hostileEntry{tar.Header{Name: "bin/pwn-suid", Typeflag: tar.TypeReg, Mode: 0o4755}, "#!/bin/sh\n"},
				hostileEntry{tar.Header{Name: "bin/pwn-sgid", Typeflag: tar.TypeReg, Mode: 0o2755}, "#!/bin/sh\n"},
				hostileEntry{tar.Header{Name: "bin/pwn-suid100", Typeflag: tar.TypeReg, Mode: 0o6755, Uid: 100, Gid: 100}, "#!/bin/sh\n"}),
			check: func(t *testing.T, rootfs, _ string) {
				for n, want := range map[string]fs.FileMode{
					"pwn-suid": fs.ModeSetuid | 0o755, "pwn-sgid": fs.ModeSetgid | 0o755, "pwn-suid100": fs.ModeSetuid | fs.ModeSetgid | 0o755,
				} {
					fi, err := os.Lstat(filepath.Join(rootfs, "bin", n))
					if err != nil || fi.Mode() != want {
						t.Errorf("bin/%s = %v, %v; want mode %v (kept, as rootless podman does)", n, fi.Mode(), err, want)
					}
				}
				if uid, gid := owner(t, filepath.Join(rootfs, "bin/pwn-suid100")); uid != wantOwner() || gid != wantOwner() {
					t.Errorf("bin/pwn-suid100 owned by %d:%d, want %d", uid, gid, wantOwner())
				}
			},
			setid: []string{"pwn-suid", "pwn-sgid", "pwn-suid100"},
		},
		{
			name: "whiteout-control",
			layers: func(t *testing.T, _ string) [][]byte {
				return [][]byte{layerTar(t, base), layerTar(t, []hostileEntry{dir("etc/"), reg("etc/.wh.hello", "")})}
			},
			// proves the whiteout machinery runs, so that the cases below mean something
			check: func(t *testing.T, rootfs, _ string) {
				if _, err := os.Lstat(filepath.Join(rootfs, "etc/hello")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("etc/hello after its whiteout: %v", err)
				}
				wantFile(t, filepath.Join(rootfs, "keep/file"), "kept\n")
			},
		},
		{
			name: "whiteout-dot",
			layers: func(t *testing.T, _ string) [][]byte {
				return [][]byte{layerTar(t, base), layerTar(t, []hostileEntry{dir("etc/"), reg("etc/.wh..", "")})}
			},
			wantErr: "invalid whiteout path",
		},
		{
			name: "whiteout-dotdot",
			layers: func(t *testing.T, _ string) [][]byte {
				return [][]byte{layerTar(t, base), layerTar(t, []hostileEntry{reg(".wh...", "")})}
			},
			wantErr: "invalid whiteout path",
		},
		{
			name: "whiteout-with-slashes",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, base), layerTar(t, []hostileEntry{reg("etc/.wh."+up+c[1:]+"/target", "pwn")})}
			},
			// the name cleans to a plain file below the layer's root
			check: func(t *testing.T, rootfs, c string) { wantFile(t, filepath.Join(rootfs, c, "target"), "pwn") },
		},
		{
			name: "whiteout-through-symlink",
			layers: func(t *testing.T, c string) [][]byte {
				return [][]byte{layerTar(t, base), layerTar(t, []hostileEntry{symlink("lnk", c), reg("lnk/.wh.target", ""), reg("lnk/.wh..wh..opq", "")})}
			},
			check: func(t *testing.T, rootfs, _ string) {
				wantFile(t, filepath.Join(rootfs, "keep/file"), "kept\n")
			},
		},
		{
			name: "opaque-odd-places",
			layers: func(t *testing.T, _ string) [][]byte {
				return [][]byte{layerTar(t, base), layerTar(t, []hostileEntry{
					reg(".wh..wh..opq", ""), reg("nodir/.wh..wh..opq", ""), reg("keep/file/.wh..wh..opq", ""),
				})}
			},
			// containers/storage refuses a marker below a file (keep/file is
			// not a directory in this layer, it is created as one: the layer
			// would hide keep/file); either way nothing leaves the layer.
			check: func(t *testing.T, rootfs, _ string) {
				if fi, err := os.Lstat(filepath.Join(rootfs, "nodir")); err != nil || !fi.IsDir() {
					t.Errorf("nodir = %v, %v; want an (opaque) directory", fi, err)
				}
			},
		},
		{
			name: "declared-size-beyond-data",
			layers: func(t *testing.T, _ string) [][]byte {
				var buf bytes.Buffer
				tw := tar.NewWriter(&buf)
				if err := tw.WriteHeader(&tar.Header{Name: "pwn-huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}); err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(tw, "short"); err != nil {
					t.Fatal(err)
				}
				tw.Flush() // the header is out; the tar stops after 5 of 1 TiB
				return [][]byte{buf.Bytes()}
			},
			wantErr: "EOF",
		},
	}
}

// checkFailedLoad checks the store after a load failed: no image, no
// trace of the hostile layer. Complete layers below it may stay, as
// containers/image keeps them for the next attempt to reuse.
func checkFailedLoad(t *testing.T, st *Store, graph string) {
	t.Helper()
	if imgs, _ := st.Images(); len(imgs) != 0 {
		t.Errorf("after a failed load the store holds images %+v", imgs)
	}
	layers, _ := st.store.Layers()
	if len(layers) > 1 {
		t.Errorf("after a failed load the store holds %d layers, want at most the base layer", len(layers))
	}
	scanGraph(t, graph)
	_ = filepath.WalkDir(graph, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "pwn") {
			t.Errorf("the refused layer left %s behind", p)
		}
		return nil
	})
}

func wantFile(t *testing.T, p, body string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s = %v, %v; want a regular file", p, fi, err)
		return
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != body {
		t.Errorf("%s = %q, %v; want %q", p, b, err, body)
	}
}

// hostileVia is how a hostile image reaches a store.
type hostileVia struct {
	name string // "Load" or "Pull", for messages
	// put makes img available as repo ("hostile/NAME:TAG") before the host
	// is looked at; src is what get takes, ref the name the image then has.
	put func(t *testing.T, root, repo string, img v1.Image) (src, ref string)
	// get brings src into st.
	get func(ctx context.Context, t *testing.T, st *Store, src string) error
}

// viaLoad writes a docker-archive next to the store and loads it.
func viaLoad() hostileVia {
	return hostileVia{
		name: "Load",
		put: func(t *testing.T, root, repo string, img v1.Image) (string, string) {
			archive := filepath.Join(root, "hostile.tar")
			ref := "localhost/" + repo
			writeDockerArchive(t, archive, map[string]v1.Image{ref: img})
			return archive, ref
		},
		get: func(ctx context.Context, _ *testing.T, st *Store, src string) error {
			_, err := st.Load(ctx, src)
			return err
		},
	}
}

// viaPull starts a registry for t, pushes each image to it (through an OCI
// layout, with containers/image, which copies the blobs as they are) and
// pulls it. It sets t's environment (registryEnv), so t must not be
// parallel.
func viaPull(t *testing.T) hostileVia {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{})
	ro := registryEnv(t, "")
	return hostileVia{
		name: "Pull",
		put: func(t *testing.T, _, repo string, img v1.Image) (string, string) {
			seed(t, reg, repo, img)
			return reg.Ref(repo), reg.Ref(repo)
		},
		get: func(ctx context.Context, t *testing.T, st *Store, src string) error {
			_, err := st.Pull(ctx, src, PullOptions{Policy: PullAlways, Registry: ro, Warnf: t.Logf})
			return err
		},
	}
}

// TestHostileLayers loads each hostile layer with each driver and checks
// the load's outcome, the mounted view, and the host filesystem.
func TestHostileLayers(t *testing.T) {
	via := viaLoad()
	for _, driver := range []string{DriverOverlay, DriverVFS} {
		for _, tc := range hostileCases() {
			t.Run(driver+"/"+tc.name, func(t *testing.T) { testHostile(t, driver, tc, via) })
		}
	}
}

// TestHostileLayersPull pushes every hostile case to a registry and pulls
// it with each driver, with the same expectations as TestHostileLayers.
// Every case can be pushed: the registry checks a blob against its digest,
// never what is inside the tar. (A layer whose bytes do not match its
// digest cannot be pushed at all; the diff ID mismatch, which the registry
// does not see, is TestHostileDiffID/registry, the bomb
// TestHostileBomb/registry.)
func TestHostileLayersPull(t *testing.T) {
	via := viaPull(t)
	for _, driver := range []string{DriverOverlay, DriverVFS} {
		for _, tc := range hostileCases() {
			t.Run(driver+"/"+tc.name, func(t *testing.T) { testHostile(t, driver, tc, via) })
		}
	}
}

func testHostile(t *testing.T, driver string, tc hostileCase, via hostileVia) {
	ctx := context.Background()
	canary := t.TempDir()
	if err := os.WriteFile(filepath.Join(canary, "target"), []byte("canary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(canary, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, root := testStore(t, driver)
	src, ref := via.put(t, root, "hostile/"+tc.name+":"+driver, imageOf(t, tc.layers(t, canary)...))

	beforeCanary := snapshot(t, canary)
	beforeRoot := snapshot(t, root, "graph", "run")
	_, etcErr := os.Lstat("/etc/pwn-abs")

	err := via.get(ctx, t, st, src)

	checkSnapshot(t, "canary", beforeCanary, snapshot(t, canary))
	checkSnapshot(t, "around the store", beforeRoot, snapshot(t, root, "graph", "run"))
	if _, err := os.Lstat("/etc/pwn-abs"); !errors.Is(err, fs.ErrNotExist) && errors.Is(etcErr, fs.ErrNotExist) {
		t.Errorf("/etc/pwn-abs appeared on the host: %v", err)
		os.Remove("/etc/pwn-abs")
	}
	graph := filepath.Join(root, "graph")
	if fi, err := os.Stat(graph); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("graph root %v, %v; want it closed to other users (0700)", fi.Mode(), err)
	}

	if tc.wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("%s() = %v, want an error containing %q", via.name, err, tc.wantErr)
		}
		t.Logf("%s() = %v", via.name, err)
		if strings.Contains(err.Error(), "remove partly loaded") {
			t.Errorf("%s() error carries a rollback failure: %v", via.name, err)
		}
		checkFailedLoad(t, st, graph)
		return
	}
	if err != nil {
		t.Fatalf("%s() = %v, want success with the hostile part neutralised", via.name, err)
	}
	img, err := st.Lookup(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateContainer(containerID, img.ID, ContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	rootfs, err := st.Mount(containerID)
	if err != nil {
		t.Fatal(err)
	}
	tc.check(t, rootfs, canary)
	if err := st.Unmount(containerID); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteContainer(containerID); err != nil {
		t.Fatal(err)
	}
	setid := scanGraph(t, graph)
	for _, n := range tc.setid {
		if _, ok := setid[n]; !ok {
			t.Errorf("set-id file %s not found in the layer", n)
		}
	}
	checkSnapshot(t, "canary", beforeCanary, snapshot(t, canary))
}

// TestHostileDiffID loads an image whose config names a diff ID that its
// layer does not have, as a docker-archive (where the diff ID is the
// layer's address) and as an OCI layout (where containers/image checks it
// after decompressing), and pulls it from a registry (which stores what it
// is given: it checks blobs against their digests, not configs against
// layers): each fails and leaves nothing behind.
//
// The other mismatch, a blob whose bytes are not its digest, cannot be
// served by the test registry: it verifies the digest of every upload
// and refuses the push.
func TestHostileDiffID(t *testing.T) {
	img := imageOf(t, layerTar(t, []hostileEntry{reg("pwn-diffid", "x")}))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256([]byte("not this layer")))}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, wantErr string }{
		{"docker-archive", "Digest did not match"},
		{"oci", "does not match config's DiffID"},
		{"registry", "does not match config's DiffID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, root := testStore(t, "")
			src := filepath.Join(root, "diffid")
			var err error
			switch tc.name {
			case "oci":
				writeOCILayout(t, src, []v1.Image{img}, []map[string]string{{"org.opencontainers.image.ref.name": "localhost/diffid:1"}})
				_, err = st.Load(context.Background(), src)
			case "docker-archive":
				writeDockerArchive(t, src, map[string]v1.Image{"localhost/diffid:1": img})
				_, err = st.Load(context.Background(), src)
			case "registry": // started here: without docker-registry only this skips
				pull := viaPull(t)
				src, _ = pull.put(t, root, "hostile/diffid:1", img)
				err = pull.get(context.Background(), t, st, src)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "remove partly loaded") {
				t.Fatalf("Load/Pull() = %v, want only a diff ID mismatch (%q)", err, tc.wantErr)
			}
			t.Logf("%s: %v", tc.name, err)
			checkFailedLoad(t, st, filepath.Join(root, "graph"))
			if layers, _ := st.store.Layers(); len(layers) != 0 {
				t.Errorf("the mismatching layer is in the store: %+v", layers)
			}
		})
	}
}

// TestHostileBomb loads a gzip layer of 1 MiB that expands to 1 GiB of
// zeros into a store on a 64 MiB tmpfs. Nothing in containers/image or
// containers/storage bounds a layer's size (podman and docker do not
// either), so the load must fail with ENOSPC, say so, and give the space
// back: the partial layer and the image are removed.
func TestHostileBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("expands 1 GiB")
	}
	small := t.TempDir()
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(small, unix.MNT_DETACH) })

	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	const size = 1 << 30
	if err := tw.WriteHeader(&tar.Header{Name: "pwn-zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range size / len(zeros) {
		if _, err := tw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("bomb: %d bytes of gzip, %d bytes of tar", bomb.Len(), size)
	data := bomb.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	bombImg := withPlatform(t, img)
	// A docker-archive's blobs are addressed by diff ID, so containers/image
	// decompresses them into its temporary directory first; an OCI layout
	// keeps the 1 MiB blob and containers/storage's extraction hits the
	// limit; so does a pull, which streams the 1 MiB blob from the registry.
	for _, format := range []string{"docker-archive", "oci", "registry"} {
		t.Run(format, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "bomb")
			get := viaLoad().get
			switch format {
			case "oci":
				writeOCILayout(t, src, []v1.Image{bombImg}, []map[string]string{{"org.opencontainers.image.ref.name": "localhost/bomb:1"}})
			case "docker-archive":
				writeDockerArchive(t, src, map[string]v1.Image{"localhost/bomb:1": bombImg})
			case "registry": // started here: without docker-registry only this skips
				pull := viaPull(t)
				src, _ = pull.put(t, "", "hostile/bomb:1", bombImg)
				get = pull.get
			}
			loadBomb(t, small, src, get)
		})
	}
}

// loadBomb opens a store on the small tmpfs and gets src into it with get
// (a load or a pull).
func loadBomb(t *testing.T, small, src string, get func(context.Context, *testing.T, *Store, string) error) {
	st, err := Open(Options{GraphRoot: filepath.Join(small, "graph"), RunRoot: filepath.Join(small, "run"), Warnf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		cleanRoot(t, small)
	}()
	var before unix.Statfs_t
	if err := unix.Statfs(small, &before); err != nil {
		t.Fatal(err)
	}
	err = get(context.Background(), t, st, src)
	if err == nil || !errors.Is(err, unix.ENOSPC) && !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("Load/Pull(bomb) = %v, want no space left on device", err)
	}
	t.Logf("Load/Pull(bomb) with %s = %v", st.Driver(), err)
	imgs, _ := st.Images()
	layers, _ := st.store.Layers()
	if len(imgs) != 0 || len(layers) != 0 {
		t.Errorf("after the bomb the store holds %d images, %d layers; want none", len(imgs), len(layers))
	}
	var after unix.Statfs_t
	if err := unix.Statfs(small, &after); err != nil {
		t.Fatal(err)
	}
	if used := int64(before.Bfree-after.Bfree) * after.Bsize; used > 4<<20 {
		t.Errorf("after the failed load %d bytes more are in use; want the space given back", used)
	}
}
