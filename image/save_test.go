package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// archiveManifest reads manifest.json of a docker-archive: each image's
// config path and tags.
func archiveManifest(t *testing.T, file string) []struct {
	Config   string
	RepoTags []string
} {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no manifest.json: %v", file, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct {
			Config   string
			RepoTags []string
		}
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
}

// TestSaveRemoveLoad saves three images (two names, one name, none) in
// one docker-archive, removes them, and loads them back: same IDs, same
// names, and nothing else in the archive.
func TestSaveRemoveLoad(t *testing.T) {
	ctx := context.Background()
	st, root := testStore(t, "")
	a, b, c := layeredImage(t, "base", "a"), layeredImage(t, "base", "b"), testImage(t, "c", false)
	idC := imageID(t, c)
	loadInto(t, st, map[string]v1.Image{
		"a:1": a.img, "example.com/a:2": a.img,
		"b:1": b.img, "b:2": b.img,
		"c@sha256:" + strings.Repeat("0", 64): c,
	})
	before := imageNames(t, st)
	// b by one of its names: only that name is saved. a by ID and by name:
	// once, with all its names.
	want := map[string][]string{
		a.id: before[a.id],
		b.id: {"docker.io/library/b:1"},
		idC:  {},
	}
	out := filepath.Join(root, "out.tar")
	if err := st.Save(ctx, []string{"sha256:" + a.id, "b:1", idC[:12], "a:1"}, out, ""); err != nil {
		t.Fatalf("Save(docker-archive) = %v", err)
	}
	m := archiveManifest(t, out)
	got := map[string][]string{}
	for _, e := range m {
		tags := slices.Clone(e.RepoTags)
		slices.Sort(tags)
		if tags == nil {
			tags = []string{}
		}
		got[strings.TrimSuffix(filepath.Base(e.Config), ".json")] = tags
	}
	if len(m) != 3 || !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("manifest.json of the saved archive = %q, want %q", got, want)
	}

	rep, errs := st.Remove([]string{a.id, b.id, idC}, false)
	if len(errs) > 0 || len(rep.Deleted) != 3 {
		t.Fatalf("Remove = %+v, %v", rep, errs)
	}
	if n := layerCount(t, st); n != 0 {
		t.Fatalf("%d layers left after removing all images", n)
	}
	if _, err := st.Load(ctx, out); err != nil {
		t.Fatalf("Load(saved archive) = %v", err)
	}
	if after := imageNames(t, st); !maps.EqualFunc(after, want, slices.Equal) {
		t.Errorf("images after save, remove, load = %q, want %q", after, want)
	}

	// Saving over an existing file replaces it.
	if err := st.Save(ctx, []string{"c" + "@sha256:" + strings.Repeat("0", 64)}, out, FormatDockerArchive); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("Save(unknown digest) = %v, want ErrImageNotFound", err)
	}
	if len(archiveManifest(t, out)) != 3 {
		t.Errorf("a failed Save changed the existing archive")
	}
	if err := st.Save(ctx, []string{"b:1"}, out, FormatDockerArchive); err != nil {
		t.Fatalf("Save over an existing file = %v", err)
	}
	if m := archiveManifest(t, out); len(m) != 1 {
		t.Errorf("archive saved over the old one holds %d images, want 1", len(m))
	}
	if tmp, _ := filepath.Glob(filepath.Join(root, ".box-save-*")); len(tmp) > 0 {
		t.Errorf("Save left temporary files: %q", tmp)
	}
}

// TestSaveSkopeo checks that another containers/image user reads box's
// docker-archive: skopeo inspects each image in it and copies one to an
// OCI layout, which box loads again with the same ID.
func TestSaveSkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("needs skopeo")
	}
	ctx := context.Background()
	st, root := testStore(t, "")
	a, b := layeredImage(t, "base", "a"), testImage(t, "b", true)
	loadInto(t, st, map[string]v1.Image{"a:1": a.img, "example.com/b:2": b})
	out := filepath.Join(root, "out.tar")
	if err := st.Save(ctx, []string{"a:1", "example.com/b:2"}, out, ""); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(skopeo, append([]string{"--insecure-policy", "--tmpdir", t.TempDir()}, args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
		b, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("skopeo %q: %v\n%s", args, err, stderr)
		}
		return b
	}
	for name, id := range map[string]string{"docker.io/library/a:1": a.id, "example.com/b:2": imageID(t, b)} {
		cfg := run("inspect", "--config", "--raw", "docker-archive:"+out+":"+name)
		sum := sha256.Sum256(cfg)
		if hex.EncodeToString(sum[:]) != id {
			t.Errorf("skopeo reads config %x for %s, want %s", sum, name, id)
		}
	}
	// Copied to OCI, an image from a docker-archive gets a rewritten config
	// (see Save), with the same layers and command.
	other, _ := testStore(t, "")
	for _, name := range []string{"example.com/b:2", "docker.io/library/a:1"} {
		dir := filepath.Join(t.TempDir(), "oci")
		run("copy", "docker-archive:"+out+":"+name, "oci:"+dir+":"+name)
		names, err := other.Load(ctx, dir)
		if err != nil || !slices.Equal(names, []string{name}) {
			t.Fatalf("Load(skopeo's OCI copy of %s) = %q, %v", name, names, err)
		}
		sameImage(t, st, other, name, "")
	}
}

// sameImage checks that ref names the same image in from and to: the same
// ID if id is not "", otherwise the same layers and command.
func sameImage(t *testing.T, from, to *Store, ref, id string) {
	t.Helper()
	ctx := context.Background()
	want, err := from.Inspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := to.Inspect(ctx, ref)
	if err != nil {
		t.Fatalf("Inspect(%s) in the other store = %v", ref, err)
	}
	if id != "" && got.ID != "sha256:"+id {
		t.Errorf("%s has ID %s in the other store, want sha256:%s", ref, got.ID, id)
	}
	if !slices.Equal(got.RootFS.Layers, want.RootFS.Layers) || !slices.Equal(got.Config.Cmd, want.Config.Cmd) || got.Created != want.Created {
		t.Errorf("%s in the other store = %+v, want the layers, command and time of %+v", ref, got, want)
	}
}

// TestSaveOCI saves one image as an oci-archive and as an OCI layout and
// loads each into a fresh store: same name and image (same ID for an
// image in OCI's format).
func TestSaveOCI(t *testing.T) {
	ctx := context.Background()
	st, root := testStore(t, "")
	a, b := layeredImage(t, "base", "a"), testImage(t, "b", true)
	loadInto(t, st, map[string]v1.Image{"a:1": a.img})
	// Loaded from a docker-archive, b would be stored in Docker's format.
	layoutDir := filepath.Join(root, "b-layout")
	writeOCILayout(t, layoutDir, []v1.Image{b}, []map[string]string{{ocispec.AnnotationRefName: "example.com/b:1"}})
	if _, err := st.Load(ctx, layoutDir); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatOCIArchive, FormatOCIDir} {
		for name, id := range map[string]string{"example.com/b:1": imageID(t, b), "docker.io/library/a:1": ""} {
			t.Run(format+"/"+name, func(t *testing.T) {
				dest := filepath.Join(t.TempDir(), format)
				if err := st.Save(ctx, []string{name}, dest, format); err != nil {
					t.Fatalf("Save(%s) = %v", format, err)
				}
				fi, err := os.Stat(dest)
				if err != nil || fi.IsDir() != (format == FormatOCIDir) {
					t.Fatalf("Save(%s) wrote %v, %v", format, fi, err)
				}
				other, _ := testStore(t, "")
				names, err := other.Load(ctx, dest)
				if err != nil || !slices.Equal(names, []string{name}) {
					t.Fatalf("Load(%s) = %q, %v", format, names, err)
				}
				sameImage(t, st, other, name, id)
			})
		}
		two := filepath.Join(root, "two-"+format)
		if err := st.Save(ctx, []string{"a:1", "example.com/b:1"}, two, format); !errors.Is(err, ErrSaveFormat) {
			t.Errorf("Save(two images, %s) = %v, want ErrSaveFormat", format, err)
		}
		if _, err := os.Stat(two); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused Save(%s) left %s: %v", format, two, err)
		}
	}

	// An OCI layout goes only where nothing is: an empty directory is
	// fine, anything else stays untouched.
	empty := filepath.Join(root, "empty")
	os.Mkdir(empty, 0o700)
	if err := st.Save(ctx, []string{"a:1"}, empty, FormatOCIDir); err != nil {
		t.Errorf("Save(oci-dir into an empty dir) = %v", err)
	}
	full := filepath.Join(root, "full")
	os.Mkdir(full, 0o700)
	os.WriteFile(filepath.Join(full, "keep"), []byte("x"), 0o600)
	if err := st.Save(ctx, []string{"a:1"}, full, FormatOCIDir); err == nil {
		t.Error("Save(oci-dir into a non-empty dir) succeeded")
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("Save into a non-empty dir changed it: %v", ents)
	}
	if err := st.Save(ctx, []string{"a:1"}, filepath.Join(root, "x"), "tar.gz"); !errors.Is(err, ErrSaveFormat) {
		t.Errorf("Save(format tar.gz) = %v, want ErrSaveFormat", err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(root, ".box-save-*")); len(tmp) > 0 {
		t.Errorf("Save left temporary files: %q", tmp)
	}
}
