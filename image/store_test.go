package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/pkg/compression"
)

const containerID = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

// wantOwner is what a file owned by 100 in an image shows when mounted:
// itself with a full map; root when only one ID is mapped and chown was
// ignored.
func wantOwner() uint32 {
	if harnessMode() == singleMap {
		return 0
	}
	return 100
}

// TestDrivers loads images of each format with each driver, resolves them,
// and runs a container layer through mount, writes, unmount and delete.
func TestDrivers(t *testing.T) {
	for _, tc := range []struct {
		driver, fstype string
	}{
		{DriverOverlay, "overlay"},
		{DriverFuse, "fuse.fuse-overlayfs"},
		{DriverVFS, ""},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			if tc.driver == DriverFuse {
				if why := fuseUsable(); why != "" {
					t.Skipf("fuse-overlayfs unusable here: %s", why)
				}
			}
			testDriver(t, tc.driver, tc.fstype)
		})
	}
}

func testDriver(t *testing.T, driver, fstype string) {
	ctx := context.Background()
	st, root := testStore(t, driver)
	if st.Driver() != driver {
		t.Fatalf("Driver() = %q, want %q", st.Driver(), driver)
	}

	// docker-archive: two tags on one image, one tag, one untagged image.
	imgA, imgB, imgC := testImage(t, "a", false), testImage(t, "b", false), testImage(t, "c", false)
	idA, idB, idC := imageID(t, imgA), imageID(t, imgB), imageID(t, imgC)
	dockerTar := filepath.Join(root, "docker.tar")
	writeDockerArchive(t, dockerTar, map[string]v1.Image{
		"busybox:latest":                                  imgA,
		"example.com/team/app:v1":                         imgA,
		"localhost/other:2":                               imgB,
		"example.com/x@sha256:" + strings.Repeat("0", 64): imgC,
	})
	names, err := st.Load(ctx, dockerTar)
	if err != nil {
		t.Fatalf("Load(docker-archive) = %v", err)
	}
	want := []string{"docker.io/library/busybox:latest", "example.com/team/app:v1", "localhost/other:2", idC}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("Load(docker-archive) = %q, want %q", names, want)
	}

	// oci-archive: a full ref.name, a containerd name, and a bare tag.
	imgD, imgE, imgF := testImage(t, "d", true), testImage(t, "e", true), testImage(t, "f", true)
	layoutDir := filepath.Join(root, "layout")
	writeOCILayout(t, layoutDir, []v1.Image{imgD, imgE, imgF}, []map[string]string{
		{ocispec.AnnotationRefName: "example.com/oci/dir:1"},
		{containerdNameAnnotation: "ctrd:3", ocispec.AnnotationRefName: "3"},
		{ocispec.AnnotationRefName: "latest"},
	})
	ociTar := filepath.Join(root, "oci.tar")
	tarDir(t, layoutDir, ociTar)
	names, err = st.Load(ctx, ociTar)
	if err != nil {
		t.Fatalf("Load(oci-archive) = %v", err)
	}
	want = []string{"example.com/oci/dir:1", "docker.io/library/ctrd:3", imageID(t, imgF)}
	if !slices.Equal(names, want) {
		t.Errorf("Load(oci-archive) = %q, want %q", names, want)
	}

	imgs, err := st.Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 6 {
		t.Errorf("Images() has %d images, want 6: %+v", len(imgs), imgs)
	}
	for _, s := range imgs {
		if s.Size <= 0 || s.Created.IsZero() || !strings.HasPrefix(s.Digest, "sha256:") {
			t.Errorf("Images() entry %+v lacks size, creation time or digest", s)
		}
	}

	for _, tc := range []struct{ ref, id string }{
		{"busybox", idA},
		{"busybox:latest", idA},
		{"docker.io/library/busybox:latest", idA},
		{"app:v1", idA},
		{"team/app:v1", idA},
		{"other:2", idB},
		{idC[:12], idC},
		{"sha256:" + idA, idA},
		{idB, idB},
		{"ctrd:3", imageID(t, imgE)},
	} {
		img, err := st.Lookup(ctx, tc.ref)
		if err != nil || img.ID != tc.id {
			t.Errorf("Lookup(%q) = %v, %v; want ID %s", tc.ref, img, err, tc.id)
		}
	}
	img, err := st.Lookup(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(img.Config.Cmd, []string{"/bin/sh", "-c", "echo a"}) || !slices.Contains(img.Config.Env, "SEED=a") ||
		img.Config.WorkingDir != "/data" || img.Config.Labels["seed"] != "a" {
		t.Errorf("Lookup(busybox).Config = %+v", img.Config)
	}
	for _, tc := range []struct {
		ref  string
		want error
	}{
		{"nosuch", ErrImageNotFound},
		{"example.com/team/app:v2", ErrImageNotFound},
		{"Bad Ref", ErrBadReference},
		{"sha256:xyz", ErrBadReference},
		{"", ErrBadReference},
	} {
		if _, err := st.Lookup(ctx, tc.ref); !errors.Is(err, tc.want) || (tc.ref != "" && !strings.Contains(err.Error(), tc.ref)) {
			t.Errorf("Lookup(%q) = %v, want %v naming the ref", tc.ref, err, tc.want)
		}
	}

	// A container layer: mount, check files and owners, change it.
	if err := st.CreateContainer(containerID, idA, ContainerOptions{}); err != nil {
		t.Fatalf("CreateContainer = %v", err)
	}
	ids, err := st.Containers()
	if err != nil || !slices.Equal(ids, []string{containerID}) {
		t.Errorf("Containers() = %v, %v; want [%s]", ids, err, containerID)
	}
	dir, err := st.Mount(containerID)
	if err != nil {
		t.Fatalf("Mount = %v", err)
	}
	if fstype != "" {
		if got := fsType(t, dir); got != fstype {
			t.Errorf("rootfs %s is %s, want %s", dir, got, fstype)
		}
	}
	checkRootfs(t, dir, "a", wantOwner())
	if err := st.Unmount(containerID); err != nil {
		t.Fatalf("Unmount = %v", err)
	}
	if fstype != "" {
		for _, m := range mountsUnder(t, root) {
			if strings.Contains(m, containerID) || strings.Contains(m, dir) {
				t.Errorf("still mounted after Unmount: %s", m)
			}
		}
	}
	// The change survives a remount.
	dir, err = st.Mount(containerID)
	if err != nil {
		t.Fatalf("second Mount = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err != nil {
		t.Errorf("file written before remount: %v", err)
	}
	if err := st.RemoveImage("sha256:"+idA, false); !errors.Is(err, ErrImageInUse) {
		t.Errorf("RemoveImage(used image) = %v, want ErrImageInUse", err)
	}
	// Deleting a mounted container unmounts it.
	if err := st.DeleteContainer(containerID); err != nil {
		t.Fatalf("DeleteContainer = %v", err)
	}
	if err := st.DeleteContainer(containerID); err != nil {
		t.Errorf("DeleteContainer of a missing container = %v, want nil", err)
	}
	if ids, err := st.Containers(); err != nil || len(ids) != 0 {
		t.Errorf("Containers() after delete = %v, %v", ids, err)
	}

	// Removing one of two names only untags; removing the last deletes.
	if err := st.RemoveImage("busybox", false); err != nil {
		t.Fatalf("RemoveImage(busybox) = %v", err)
	}
	if _, err := st.Lookup(ctx, "busybox"); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("Lookup(busybox) after untag = %v, want ErrImageNotFound", err)
	}
	if img, err := st.Lookup(ctx, "example.com/team/app:v1"); err != nil || img.ID != idA {
		t.Errorf("Lookup(app:v1) after untagging busybox = %v, %v", img, err)
	}
	if err := st.RemoveImage("example.com/team/app:v1", false); err != nil {
		t.Fatalf("RemoveImage(app:v1) = %v", err)
	}
	if _, err := st.Lookup(ctx, idA); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("Lookup(%s) after removal = %v, want ErrImageNotFound", idA, err)
	}

	// Close with a container still mounted must leave nothing mounted
	// (testStore's cleanup checks).
	if err := st.CreateContainer(containerID, idB, ContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Mount(containerID); err != nil {
		t.Fatal(err)
	}
}

// TestSingleIDMap runs the driver tests where only root is mapped: files
// of other owners must still unpack (as root).
func TestSingleIDMap(t *testing.T) {
	if harnessMode() != singleMap {
		runSingleIDMap(t, t.Name())
		return
	}
	single, err := singleIDNamespace()
	if err != nil || !single {
		t.Fatalf("singleIDNamespace() = %v, %v; want true in the single-ID harness", single, err)
	}
	for _, tc := range []struct{ driver, fstype string }{{DriverOverlay, "overlay"}, {DriverVFS, ""}} {
		t.Run(tc.driver, func(t *testing.T) { testDriver(t, tc.driver, tc.fstype) })
	}
}

func TestLoadOCIDirectory(t *testing.T) {
	st, root := testStore(t, "")
	dir := filepath.Join(root, "layout")
	img := testImage(t, "dir", true)
	writeOCILayout(t, dir, []v1.Image{img}, []map[string]string{{ocispec.AnnotationRefName: "localhost/dir:7"}})
	names, err := st.Load(context.Background(), dir)
	if err != nil || !slices.Equal(names, []string{"localhost/dir:7"}) {
		t.Fatalf("Load(OCI dir) = %q, %v", names, err)
	}
	if got, err := st.Lookup(context.Background(), "dir:7"); err != nil || got.ID != imageID(t, img) {
		t.Errorf("Lookup(dir:7) = %v, %v", got, err)
	}
	// Loading again changes nothing.
	if names, err := st.Load(context.Background(), dir); err != nil || len(names) != 1 {
		t.Errorf("second Load = %q, %v", names, err)
	}
	if imgs, _ := st.Images(); len(imgs) != 1 {
		t.Errorf("Images() after two loads = %+v, want one", imgs)
	}
	if _, err := st.Load(context.Background(), root); !errors.Is(err, ErrBadFormat) {
		t.Errorf("Load(dir without index.json) = %v, want ErrBadFormat", err)
	}
	notTar := filepath.Join(root, "junk")
	os.WriteFile(notTar, []byte("not an archive"), 0o644)
	if _, err := st.Load(context.Background(), notTar); !errors.Is(err, ErrBadFormat) {
		t.Errorf("Load(junk) = %v, want ErrBadFormat", err)
	}
}

// TestLoadFailureLeavesNothing loads an archive whose second image is
// corrupt: the first must not stay, and a name it took must go back.
func TestLoadFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	st, root := testStore(t, "")
	rootfs := filepath.Join(root, "rootfs.tar")
	os.WriteFile(rootfs, rootfsTar(t, "old"), 0o644)
	oldID, err := st.Import(ctx, rootfs, nil, "docker.io/library/busybox:latest", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := st.Images()

	good, bad := testImage(t, "good", false), testImage(t, "bad", false)
	archive := filepath.Join(root, "docker.tar")
	writeDockerArchive(t, archive, map[string]v1.Image{"busybox:latest": good, "bad:1": bad})
	corruptLastLayer(t, archive)

	if _, err := st.Load(ctx, archive); err == nil {
		t.Fatal("Load(corrupt archive) succeeded")
	}
	after, _ := st.Images()
	if len(after) != len(before) || after[0].ID != oldID || !slices.Equal(after[0].Names, before[0].Names) {
		t.Errorf("Images() after failed load = %+v, want %+v", after, before)
	}
}

// corruptLastLayer rewrites a docker-archive so that the layer of the last
// image in manifest.json no longer matches its digest.
func corruptLastLayer(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		h    *tar.Header
		body []byte
	}
	var entries []entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		entries = append(entries, entry{h, body})
	}
	var manifest []struct{ Layers []string }
	for _, e := range entries {
		if e.h.Name == "manifest.json" {
			if err := json.Unmarshal(e.body, &manifest); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(manifest) != 2 {
		t.Fatalf("manifest.json has %d images, want 2", len(manifest))
	}
	victim := manifest[1].Layers[0]
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, e := range entries {
		if e.h.Name == victim {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write([]byte("corrupt"))
			zw.Close()
			e.body = gz.Bytes()
			e.h.Size = int64(len(e.body))
		}
		tw.WriteHeader(e.h)
		tw.Write(e.body)
	}
	tw.Close()
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	st, root := testStore(t, "")
	plain := rootfsTar(t, "imp")
	compressed := func(algo compression.Algorithm) []byte {
		var buf bytes.Buffer
		w, err := compression.CompressStream(&buf, algo, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		w.Close()
		return buf.Bytes()
	}
	files := map[string][]byte{
		"plain.tar":   plain,
		"rootfs.tgz":  compressed(compression.Gzip),
		"rootfs.txz":  compressed(compression.Xz),
		"rootfs.tzst": compressed(compression.Zstd),
	}
	var ids []string
	for fname, data := range files {
		p := filepath.Join(root, fname)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		id, err := st.Import(ctx, p, nil, "", nil, "")
		if err != nil {
			t.Fatalf("Import(%s) = %v", fname, err)
		}
		ids = append(ids, id)
	}

	changes := []string{`CMD ["/bin/echo", "hi"]`, "ENTRYPOINT /bin/sh", "ENV A=b C=d", "WORKDIR /data", "USER 100:100", "EXPOSE 8080 53/udp", "LABEL k=v", "STOPSIGNAL SIGINT"}
	id, err := st.Import(ctx, "-", bytes.NewReader(compressed(compression.Gzip)), "myimg:1", changes, "from stdin")
	if err != nil {
		t.Fatalf("Import(stdin) = %v", err)
	}
	img, err := st.Lookup(ctx, "myimg:1")
	if err != nil || img.ID != id || !slices.Equal(img.Names, []string{"localhost/myimg:1"}) {
		t.Fatalf("Lookup(myimg:1) = %+v, %v; want ID %s named localhost/myimg:1", img, err, id)
	}
	c := img.Config
	if !slices.Equal(c.Cmd, []string{"/bin/echo", "hi"}) || !slices.Equal(c.Entrypoint, []string{"/bin/sh", "-c", "/bin/sh"}) ||
		!slices.Equal(c.Env, []string{"A=b", "C=d"}) || c.WorkingDir != "/data" || c.User != "100:100" ||
		len(c.ExposedPorts) != 2 || c.Labels["k"] != "v" || c.StopSignal != "SIGINT" {
		t.Errorf("imported config = %+v", c)
	}

	// A directory keeps its owners.
	src := filepath.Join(root, "srcdir")
	os.MkdirAll(filepath.Join(src, "etc"), 0o755)
	os.WriteFile(filepath.Join(src, "etc/hello"), []byte("from dir\n"), 0o644)
	os.WriteFile(filepath.Join(src, "owned"), []byte("x"), 0o644)
	if harnessMode() == fullMap {
		if err := os.Chown(filepath.Join(src, "owned"), 100, 100); err != nil {
			t.Fatal(err)
		}
	}
	dirID, err := st.Import(ctx, src, nil, "", nil, "")
	if err != nil {
		t.Fatalf("Import(dir) = %v", err)
	}
	if err := st.CreateContainer(containerID, dirID, ContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	mnt, err := st.Mount(containerID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(mnt, "etc/hello")); string(b) != "from dir\n" {
		t.Errorf("etc/hello from imported dir = %q", b)
	}
	if uid, gid := owner(t, filepath.Join(mnt, "owned")); uid != wantOwner() || gid != wantOwner() {
		t.Errorf("owned from imported dir is %d:%d, want %d", uid, gid, wantOwner())
	}
	if err := st.DeleteContainer(containerID); err != nil {
		t.Fatal(err)
	}

	before, _ := st.Images()
	junk := filepath.Join(root, "junk.tar")
	os.WriteFile(junk, []byte("this is not a tar file at all"), 0o644)
	if _, err := st.Import(ctx, junk, nil, "junk", nil, ""); !errors.Is(err, ErrBadFormat) {
		t.Errorf("Import(junk) = %v, want ErrBadFormat", err)
	}
	if _, err := st.Import(ctx, filepath.Join(root, "plain.tar"), nil, "", []string{"FROB x"}, ""); !errors.Is(err, ErrBadChange) {
		t.Errorf("Import with a bad change = %v, want ErrBadChange", err)
	}
	if after, _ := st.Images(); len(after) != len(before) {
		t.Errorf("failed imports left images: %d before, %d after", len(before), len(after))
	}
	if len(ids) != 4 {
		t.Errorf("imported %d files", len(ids))
	}
}

func TestOpenNeedsUsernsEnv(t *testing.T) {
	t.Setenv(usernsEnv, "")
	root := t.TempDir()
	_, err := Open(Options{GraphRoot: root + "/g", RunRoot: root + "/r"})
	if err == nil || !strings.Contains(err.Error(), usernsEnv) {
		t.Fatalf("Open without %s = %v, want an error naming it", usernsEnv, err)
	}
}

func TestOpenUnknownDriver(t *testing.T) {
	root := t.TempDir()
	_, err := Open(Options{GraphRoot: root + "/g", RunRoot: root + "/r", Driver: "btrfs"})
	if !errors.Is(err, ErrDriverUnavailable) {
		t.Fatalf("Open(driver btrfs) = %v, want ErrDriverUnavailable", err)
	}
}

// TestOverlayProbeCache checks that the probe's verdict is saved, and that
// a saved failure makes auto skip native overlay and explicit overlay fail.
func TestOverlayProbeCache(t *testing.T) {
	root := t.TempDir()
	graph := filepath.Join(root, "graph")
	os.MkdirAll(graph, 0o700)
	if err := checkNativeOverlay(graph); err != nil {
		t.Fatalf("checkNativeOverlay = %v; native overlay should work on this kernel", err)
	}
	release, _ := kernelRelease()
	cache := filepath.Join(graph, overlayProbeFile)
	if b, err := os.ReadFile(cache); err != nil || string(b) != release+"\nok\n" {
		t.Fatalf("probe cache = %q, %v; want ok for %s", b, err, release)
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("probe left mounts: %v", m)
	}
	os.WriteFile(cache, formatVerdict(release, errors.New("simulated EIO")), 0o600)

	_, err := Open(Options{GraphRoot: graph, RunRoot: filepath.Join(root, "run"), Driver: DriverOverlay})
	if !errors.Is(err, ErrDriverUnavailable) || !strings.Contains(err.Error(), "simulated EIO") {
		t.Errorf("Open(overlay) with a cached failure = %v, want ErrDriverUnavailable with the reason", err)
	}
	var warnings []string
	st, err := Open(Options{GraphRoot: graph, RunRoot: filepath.Join(root, "run"), Warnf: func(f string, a ...any) { warnings = append(warnings, f) }})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanRoot(t, root)
	wantDriver := DriverFuse
	if fuseUsable() != "" {
		wantDriver = DriverVFS
	}
	if st.Driver() != wantDriver {
		t.Errorf("auto Driver() with native overlay ruled out = %q, want %q", st.Driver(), wantDriver)
	}
	if (wantDriver == DriverVFS) != (len(warnings) == 1) {
		t.Errorf("warnings = %q", warnings)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("mounts left after Close: %v", m)
	}
}

// TestProbeCatchesEIO shows that the probe can fail: without userxattr the
// kernel mounts the overlay in a user namespace, but deleting a lower
// directory then fails with EIO (testbed §2).
func TestProbeCatchesEIO(t *testing.T) {
	root := t.TempDir()
	defer cleanRoot(t, root)
	err := probeOverlay(root, "")
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("probeOverlay without userxattr = %v, want EIO", err)
	}
	if err := probeOverlay(root, "userxattr"); err != nil {
		t.Errorf("probeOverlay with userxattr = %v", err)
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("probe left mounts: %v", m)
	}
}
