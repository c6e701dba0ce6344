// Package imagetest builds small container images for tests, offline and
// reproducibly, from the host's static busybox.
//
// It is for tests only: the images are not Alpine or any real distribution,
// and building one needs a statically linked busybox on the host (Debian:
// busybox-static). Tests that need a package manager, PAM or glibc need a
// different image.
package imagetest

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxTag is the tag the docker archive carries, and what tests call
// the image once it is loaded.
const BusyboxTag = "box-test/busybox:latest"

// RefName is the org.opencontainers.image.ref.name of the image in the OCI
// layout and the OCI archive, so they are addressed as oci:DIR:latest.
const RefName = "latest"

// OwnedBy100 is a file in the image owned by 100:100, so tests can see
// whether ownership survived the trip through the store and the user
// namespace.
const OwnedBy100 = "owned-by-100"

// Paths are where Busybox wrote the image, once in each format.
type Paths struct {
	DockerArchive string // docker-archive tar, tagged BusyboxTag
	OCIArchive    string // oci-archive tar, ref name RefName
	OCIDir        string // OCI image layout directory, ref name RefName
}

// BusyboxPaths returns the paths Busybox writes in dir, without building
// anything; for callers that find the images already built.
func BusyboxPaths(dir string) Paths {
	return Paths{
		DockerArchive: filepath.Join(dir, "busybox.docker.tar"),
		OCIArchive:    filepath.Join(dir, "busybox.oci.tar"),
		OCIDir:        filepath.Join(dir, "busybox-oci"),
	}
}

// epoch is every file's mtime and the image's creation time, so that two
// builds from the same busybox are byte for byte the same.
func epoch() time.Time { return time.Unix(0, 0).UTC() }

// Busybox writes a single-layer busybox image into dir (created if needed)
// in three formats and returns their paths. The busybox binary is the one
// exec.LookPath("busybox") finds; it must be statically linked, because the
// image holds no libc. Existing files at the returned paths are replaced.
func Busybox(dir string) (Paths, error) {
	bin, err := exec.LookPath("busybox")
	if err != nil {
		return Paths{}, fmt.Errorf("find busybox (install busybox-static): %w", err)
	}
	layerTar, err := busyboxLayer(bin)
	if err != nil {
		return Paths{}, err
	}
	img, err := imageFromLayer(layerTar)
	if err != nil {
		return Paths{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Paths{}, fmt.Errorf("create image dir: %w", err)
	}
	// Build into a temporary directory next to the results and rename, so a
	// reader never sees a half-written archive and a rerun replaces cleanly.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return Paths{}, fmt.Errorf("create image build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	built := BusyboxPaths(tmp)
	if err := writeImage(img, built); err != nil {
		return Paths{}, err
	}
	final := BusyboxPaths(dir)
	for _, p := range [][2]string{
		{built.DockerArchive, final.DockerArchive},
		{built.OCIArchive, final.OCIArchive},
		{built.OCIDir, final.OCIDir},
	} {
		if err := os.RemoveAll(p[1]); err != nil {
			return Paths{}, fmt.Errorf("replace %s: %w", p[1], err)
		}
		if err := os.Rename(p[0], p[1]); err != nil {
			return Paths{}, fmt.Errorf("move image into place: %w", err)
		}
	}
	return final, nil
}

func writeImage(img v1.Image, p Paths) error {
	tag, err := name.NewTag(BusyboxTag)
	if err != nil {
		return fmt.Errorf("parse tag %s: %w", BusyboxTag, err)
	}
	if err := tarball.WriteToFile(p.DockerArchive, tag, img); err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	lp, err := layout.Write(p.OCIDir, empty.Index)
	if err != nil {
		return fmt.Errorf("write oci layout: %w", err)
	}
	ann := map[string]string{"org.opencontainers.image.ref.name": RefName}
	if err := lp.AppendImage(img, layout.WithAnnotations(ann)); err != nil {
		return fmt.Errorf("write oci layout: %w", err)
	}
	// go-containerregistry writes blobs 0600; tests may read the images as
	// another user (a store's helper, or root preparing a CI machine).
	if err := filepath.WalkDir(p.OCIDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o644)
	}); err != nil {
		return fmt.Errorf("make oci layout readable: %w", err)
	}
	// An oci-archive is nothing but a tar of an OCI layout.
	if err := tarDir(p.OCIDir, p.OCIArchive); err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	return nil
}

func imageFromLayer(layerTar []byte) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch()}, CreatedBy: "imagetest.Busybox"},
	})
	if err != nil {
		return nil, fmt.Errorf("add layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch()}
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// entry is one file of the rootfs; the layer is written from these directly
// so ownership is exact without being root.
type entry struct {
	name     string // relative, no leading "/" or "./"
	typ      byte
	mode     int64
	uid, gid int
	body     []byte
	link     string
}

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
box:x:1000:1000:box:/home/box:/bin/sh
`

const group = `root:x:0:
daemon:x:1:
tty:x:5:
users:x:100:
nobody:x:65534:
box:x:1000:
`

func busyboxLayer(bin string) ([]byte, error) {
	if err := checkStatic(bin); err != nil {
		return nil, err
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read busybox: %w", err)
	}
	out, err := exec.Command(bin, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets (%s --list-full): %w", bin, err)
	}
	entries := []entry{
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755, body: body},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, body: []byte(passwd)},
		{name: "etc/group", typ: tar.TypeReg, mode: 0o644, body: []byte(group)},
		{name: OwnedBy100, typ: tar.TypeReg, mode: 0o644, uid: 100, gid: 100, body: []byte("owned by 100:100\n")},
		{name: "home/box", typ: tar.TypeDir, mode: 0o755, uid: 1000, gid: 1000},
		{name: "tmp", typ: tar.TypeDir, mode: 0o1777},
		{name: "root", typ: tar.TypeDir, mode: 0o700},
	}
	for _, d := range []string{"proc", "sys", "dev", "var", "etc", "home", "bin", "sbin", "usr/bin", "usr/sbin"} {
		entries = append(entries, entry{name: d, typ: tar.TypeDir, mode: 0o755})
	}
	for _, line := range strings.Fields(string(out)) {
		applet := strings.TrimPrefix(path.Clean("/"+line), "/")
		if applet == "" || applet == "bin/busybox" {
			continue
		}
		// Hard links, not symlinks: busybox picks the applet from argv[0]
		// either way, and a hard link also works where a tool resolves
		// symlinks before exec.
		// A hard link header carries the target's mode, as GNU tar writes
		// it: extractors apply it to the shared inode.
		entries = append(entries, entry{name: applet, typ: tar.TypeLink, link: "bin/busybox", mode: 0o755})
	}
	return writeTar(entries)
}

// checkStatic refuses a dynamically linked busybox, whose image would fail
// only later, inside the container, with a confusing "not found".
func checkStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("read %s as ELF: %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; a static busybox is needed (install busybox-static)", bin)
		}
	}
	return nil
}

// writeTar writes entries, plus any missing parent directories, sorted by
// name (so parents come first and the output is reproducible), hard links
// last.
func writeTar(entries []entry) ([]byte, error) {
	byName := make(map[string]entry, len(entries))
	for _, e := range entries {
		if old, ok := byName[e.name]; ok && old.typ != tar.TypeLink {
			continue // busybox may list an applet twice; an explicit entry wins
		}
		byName[e.name] = e
	}
	for n := range byName {
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if _, ok := byName[d]; !ok {
				byName[d] = entry{name: d, typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	// A hard link must come after its target, or extractors (umoci,
	// containers/storage) fail on bin/arch before they reach bin/busybox.
	sort.Slice(names, func(i, j int) bool {
		li, lj := byName[names[i]].typ == tar.TypeLink, byName[names[j]].typ == tar.TypeLink
		if li != lj {
			return lj
		}
		return names[i] < names[j]
	})

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := byName[n]
		if e.typ == tar.TypeLink {
			if _, ok := byName[e.link]; !ok {
				return nil, fmt.Errorf("link %s to missing %s", n, e.link)
			}
		}
		h := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  epoch(),
			Format:   tar.FormatPAX,
		}
		if e.typ == tar.TypeDir {
			h.Name += "/"
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write tar header %s: %w", n, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("write tar body %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("finish layer tar: %w", err)
	}
	return buf.Bytes(), nil
}

// tarDir writes the tree at dir into the tar file out, with names relative
// to dir, sorted, and fixed mtimes.
func tarDir(dir, out string) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	// WalkDir visits in lexical order, which keeps the archive reproducible.
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch(), Format: tar.FormatPAX}
		switch {
		case d.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		case info.Mode().IsRegular():
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
		default:
			return fmt.Errorf("unexpected file type %s in %s", info.Mode().Type(), p)
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		n, err := io.Copy(tw, src)
		if err == nil && n != h.Size {
			err = errors.New("file changed while archiving")
		}
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
