package imagetest_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/boxcli/box/imagetest"
)

func buildBusybox(t *testing.T) imagetest.Paths {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox (busybox-static)")
	}
	p, err := imagetest.Busybox(t.TempDir())
	if err != nil {
		t.Fatalf("Busybox: %v", err)
	}
	return p
}

func TestBusyboxDockerArchive(t *testing.T) {
	p := buildBusybox(t)
	tag, err := name.NewTag(imagetest.BusyboxTag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(p.DockerArchive, &tag)
	if err != nil {
		t.Fatalf("ImageFromPath(%s, %s): %v", p.DockerArchive, tag, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if !slices.Equal(cf.Config.Cmd, []string{"sh"}) {
		t.Errorf("Cmd = %q, want [sh]", cf.Config.Cmd)
	}
	if len(cf.Config.Env) != 1 || !strings.HasPrefix(cf.Config.Env[0], "PATH=/usr/local/sbin:") {
		t.Errorf("Env = %q, want the standard PATH", cf.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdrs := readTar(t, rc)

	checks := []struct {
		name     string
		typ      byte
		uid, gid int
		mode     int64
	}{
		{"bin/busybox", tar.TypeReg, 0, 0, 0o755},
		{imagetest.OwnedBy100, tar.TypeReg, 100, 100, 0o644},
		{"home/box/", tar.TypeDir, 1000, 1000, 0o755},
		{"tmp/", tar.TypeDir, 0, 0, 0o1777},
		{"etc/passwd", tar.TypeReg, 0, 0, 0o644},
		{"etc/group", tar.TypeReg, 0, 0, 0o644},
		{"proc/", tar.TypeDir, 0, 0, 0o755},
		{"root/", tar.TypeDir, 0, 0, 0o700},
	}
	for _, c := range checks {
		h, ok := hdrs[c.name]
		if !ok {
			t.Errorf("layer has no %s", c.name)
			continue
		}
		if h.Typeflag != c.typ || h.Uid != c.uid || h.Gid != c.gid || h.Mode != c.mode {
			t.Errorf("%s: type %q %d:%d mode %o, want type %q %d:%d mode %o",
				c.name, h.Typeflag, h.Uid, h.Gid, h.Mode, c.typ, c.uid, c.gid, c.mode)
		}
	}
	for _, applet := range []string{"bin/sh", "bin/ls", "bin/cat"} {
		h, ok := hdrs[applet]
		if !ok {
			t.Errorf("layer has no applet %s", applet)
			continue
		}
		if h.Typeflag != tar.TypeLink || h.Linkname != "bin/busybox" {
			t.Errorf("%s: type %q -> %q, want a hard link to bin/busybox", applet, h.Typeflag, h.Linkname)
		}
	}
}

// readTar reads a layer and checks that every hard link follows its target,
// which extractors need.
func readTar(t *testing.T, r io.Reader) map[string]*tar.Header {
	t.Helper()
	hdrs := make(map[string]*tar.Header)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		if _, ok := hdrs[h.Linkname]; h.Typeflag == tar.TypeLink && !ok {
			t.Errorf("hard link %s comes before its target %s", h.Name, h.Linkname)
		}
		hdrs[h.Name] = h
	}
}

func TestBusyboxOCILayout(t *testing.T) {
	p := buildBusybox(t)
	idx, err := layout.ImageIndexFromPath(p.OCIDir)
	if err != nil {
		t.Fatalf("ImageIndexFromPath(%s): %v", p.OCIDir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%d manifests, want 1", len(im.Manifests))
	}
	if got := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != imagetest.RefName {
		t.Errorf("ref name = %q, want %q", got, imagetest.RefName)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.Manifest(); err != nil {
		t.Errorf("manifest: %v", err)
	}
	if fi, err := os.Stat(p.OCIArchive); err != nil || fi.Size() == 0 {
		t.Errorf("oci archive %s: %v", p.OCIArchive, err)
	}
}

// Builds from the same busybox must match byte for byte, or cached images
// and digests in tests would drift.
func TestBusyboxReproducible(t *testing.T) {
	a := buildBusybox(t)
	b := buildBusybox(t)
	for _, pair := range [][2]string{{a.DockerArchive, b.DockerArchive}, {a.OCIArchive, b.OCIArchive}} {
		x, err := os.ReadFile(pair[0])
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds", filepath.Base(pair[0]))
		}
	}
}

// Busybox replaces what an earlier call wrote instead of adding to it.
func TestBusyboxRerun(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox (busybox-static)")
	}
	dir := t.TempDir()
	for range 2 {
		if _, err := imagetest.Busybox(dir); err != nil {
			t.Fatalf("Busybox: %v", err)
		}
	}
	idx, err := layout.ImageIndexFromPath(imagetest.BusyboxPaths(dir).OCIDir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Errorf("%d manifests after two builds, want 1", len(im.Manifests))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		t.Errorf("dir has %d entries after two builds, want 3 (a build dir left behind?)", len(ents))
	}
}

// skopeo is containers/image, the library box loads images with, so its
// accepting the archives is the check that matters.
func TestBusyboxSkopeoInspect(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo")
	}
	p := buildBusybox(t)
	for _, ref := range []string{
		"docker-archive:" + p.DockerArchive,
		"oci-archive:" + p.OCIArchive + ":" + imagetest.RefName,
		"oci:" + p.OCIDir + ":" + imagetest.RefName,
	} {
		cmd := exec.Command("skopeo", "inspect", "--raw", ref)
		// skopeo unpacks oci-archive into TMPDIR; keep that inside the test.
		cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("skopeo inspect %s: %v\n%s", ref, err, out)
		}
		cmd = exec.Command("skopeo", "inspect", "--config", ref)
		cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("skopeo inspect --config %s: %v\n%s", ref, err, out)
		} else if !bytes.Contains(out, []byte(`"architecture": "`+runtime.GOARCH+`"`)) {
			t.Errorf("skopeo inspect --config %s: no architecture %s in\n%s", ref, runtime.GOARCH, out)
		}
	}
}
