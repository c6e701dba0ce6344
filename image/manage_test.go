package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layered is a two-layer image with a history of three steps, the middle
// one making no layer; layers are the uncompressed layer tars, bottom first.
type layered struct {
	img    v1.Image
	id     string
	layers [][]byte
}

// historyTime is step i's creation time in layeredImage.
func historyTime(i int) time.Time { return time.Unix(1700000000+int64(i)*60, 0).UTC() }

// layeredImage builds an image whose bottom layer is rootfsTar(base) and
// whose top layer adds one file named for top; images with the same base
// share their bottom layer.
func layeredImage(t *testing.T, base, top string) layered {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := strings.Repeat(top, 3000) // a size that differs from the base layer's
	if err := tw.WriteHeader(&tar.Header{Name: top, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: historyTime(0)}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tw, body)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layers := [][]byte{rootfsTar(t, base), buf.Bytes()}
	var adds []mutate.Addendum
	for _, data := range layers {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: historyTime(2)}
	cf.Author = "box tests"
	cf.Config.Cmd = []string{"/bin/" + top}
	cf.Config.Entrypoint = []string{"/entry"}
	cf.Config.Env = []string{"X=1"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cf.Config.Labels = map[string]string{"top": top}
	cf.History = []v1.History{
		{Created: v1.Time{Time: historyTime(0)}, CreatedBy: "ADD " + base + " /"},
		{Created: v1.Time{Time: historyTime(1)}, CreatedBy: "ENV X=1", EmptyLayer: true},
		{Created: v1.Time{Time: historyTime(2)}, CreatedBy: "RUN make " + top, Comment: "built " + top},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return layered{img: img, id: imageID(t, img), layers: layers}
}

// loadInto loads images under their refs (see writeDockerArchive) into st.
func loadInto(t *testing.T, st *Store, refs map[string]v1.Image) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "fixture.tar")
	writeDockerArchive(t, f, refs)
	if _, err := st.Load(context.Background(), f); err != nil {
		t.Fatalf("Load(fixture) = %v", err)
	}
}

// imageNames maps each stored image's ID to its sorted names.
func imageNames(t *testing.T, st *Store) map[string][]string {
	t.Helper()
	imgs, err := st.Images()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range imgs {
		n := slices.Clone(s.Names)
		slices.Sort(n)
		out[s.ID] = n
	}
	return out
}

func layerCount(t *testing.T, st *Store) int {
	t.Helper()
	ls, err := st.store.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(ls)
}

func TestTag(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, "")
	imgA, imgB := testImage(t, "a", false), testImage(t, "b", false)
	idA, idB := imageID(t, imgA), imageID(t, imgB)
	loadInto(t, st, map[string]v1.Image{"busybox:latest": imgA, "example.com/b:1": imgB})

	for _, tc := range []struct{ ref, name, stored string }{
		{"busybox", "mine", "localhost/mine:latest"},
		{idA[:12], "team/app:2", "localhost/team/app:2"},
		{"sha256:" + idA, "example.com/x/y:3", "example.com/x/y:3"},
		{"busybox", "docker.io/library/alpine", "docker.io/library/alpine:latest"},
	} {
		if err := st.Tag(tc.ref, tc.name); err != nil {
			t.Fatalf("Tag(%q, %q) = %v", tc.ref, tc.name, err)
		}
		for _, r := range []string{tc.name, tc.stored} {
			if img, err := st.Lookup(ctx, r); err != nil || img.ID != idA {
				t.Errorf("Lookup(%q) after Tag(%q, %q) = %v, %v; want %s", r, tc.ref, tc.name, img, err, idA)
			}
		}
	}
	want := []string{"docker.io/library/alpine:latest", "docker.io/library/busybox:latest", "example.com/x/y:3", "localhost/mine:latest", "localhost/team/app:2"}
	if got := imageNames(t, st)[idA]; !slices.Equal(got, want) {
		t.Errorf("names of A = %q, want %q", got, want)
	}

	// A name moves: the image that had it loses it.
	if err := st.Tag("example.com/b:1", "mine"); err != nil {
		t.Fatal(err)
	}
	if img, err := st.Lookup(ctx, "mine"); err != nil || img.ID != idB {
		t.Errorf("Lookup(mine) after moving the tag = %v, %v; want %s", img, err, idB)
	}
	if slices.Contains(imageNames(t, st)[idA], "localhost/mine:latest") {
		t.Errorf("A still named localhost/mine:latest after B took it")
	}

	for _, tc := range []struct {
		ref, name string
		want      error
	}{
		{"nosuch", "x", ErrImageNotFound},
		{"busybox", "Bad Name", ErrBadReference},
		{"busybox", "x@sha256:" + strings.Repeat("a", 64), ErrBadReference},
	} {
		if err := st.Tag(tc.ref, tc.name); !errors.Is(err, tc.want) {
			t.Errorf("Tag(%q, %q) = %v, want %v", tc.ref, tc.name, err, tc.want)
		}
	}
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, "")
	x, y := layeredImage(t, "base", "x"), layeredImage(t, "base", "y")
	loadInto(t, st, map[string]v1.Image{
		"x:1": x.img, "example.com/x:2": x.img,
		"y:1": y.img,
	})
	// The base layer is shared: three layers for two images.
	if n := layerCount(t, st); n != 3 {
		t.Fatalf("%d layers after loading x and y, want 3", n)
	}

	// A name of an image with several names only untags.
	rep, errs := st.Remove([]string{"x:1"}, false)
	if len(errs) > 0 || !slices.Equal(rep.Untagged, []string{"docker.io/library/x:1"}) || len(rep.Deleted) > 0 {
		t.Fatalf("Remove(x:1) = %+v, %v; want only docker.io/library/x:1 untagged", rep, errs)
	}
	if got := imageNames(t, st)[x.id]; !slices.Equal(got, []string{"example.com/x:2"}) {
		t.Errorf("names of x after untag = %q", got)
	}

	// An image a container uses is refused, and stays whole.
	if err := st.CreateContainer(containerID, x.id, ContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, errs = st.Remove([]string{"example.com/x:2"}, false)
	if len(errs) != 1 || !errors.Is(errs[0], ErrImageInUse) || !strings.Contains(errs[0].Error(), containerID[:12]) ||
		len(rep.Deleted)+len(rep.Untagged) > 0 {
		t.Fatalf("Remove(used image) = %+v, %v; want ErrImageInUse naming %s", rep, errs, containerID[:12])
	}
	if _, err := st.Lookup(ctx, "example.com/x:2"); err != nil {
		t.Errorf("used image gone after refused Remove: %v", err)
	}
	if err := st.RemoveImage(x.id, false); !errors.Is(err, ErrImageInUse) {
		t.Errorf("RemoveImage(used image by ID) = %v, want ErrImageInUse", err)
	}

	// force deletes the container layer, then the image and its own layer;
	// the base layer stays for y. A bad ref fails alone.
	rep, errs = st.Remove([]string{"nosuch", "example.com/x:2"}, true)
	if len(errs) != 1 || !errors.Is(errs[0], ErrImageNotFound) || !strings.Contains(errs[0].Error(), "nosuch") {
		t.Errorf("Remove(nosuch, x) errors = %v, want one ErrImageNotFound naming nosuch", errs)
	}
	if !slices.Equal(rep.Deleted, []string{x.id}) || !slices.Equal(rep.Untagged, []string{"example.com/x:2"}) ||
		!slices.Equal(rep.Containers, []string{containerID}) {
		t.Errorf("Remove(x, force) = %+v; want x deleted and untagged, container %s deleted", rep, containerID)
	}
	if ids, err := st.Containers(); err != nil || len(ids) != 0 {
		t.Errorf("Containers() after forced Remove = %v, %v", ids, err)
	}
	if n := layerCount(t, st); n != 2 {
		t.Errorf("%d layers after removing x, want 2 (base and y's)", n)
	}
	if _, err := st.Lookup(ctx, "y:1"); err != nil {
		t.Errorf("Lookup(y:1) after removing x = %v", err)
	}

	// By ID: every name goes with the image, and its layers with it.
	if err := st.Tag("y:1", "y:2"); err != nil {
		t.Fatal(err)
	}
	rep, errs = st.Remove([]string{y.id[:12]}, false)
	slices.Sort(rep.Untagged)
	if len(errs) > 0 || !slices.Equal(rep.Deleted, []string{y.id}) ||
		!slices.Equal(rep.Untagged, []string{"docker.io/library/y:1", "localhost/y:2"}) {
		t.Errorf("Remove(y by ID) = %+v, %v", rep, errs)
	}
	if n := layerCount(t, st); n != 0 {
		t.Errorf("%d layers left after removing every image, want 0", n)
	}
}

func TestPrune(t *testing.T) {
	st, _ := testStore(t, "")
	named, used, dangling, danglingUsed := testImage(t, "n", false), testImage(t, "u", false), testImage(t, "d", false), testImage(t, "du", false)
	loadInto(t, st, map[string]v1.Image{
		"named:1":                             named,
		"used:1":                              used,
		"x@sha256:" + strings.Repeat("0", 64): dangling,
		"y@sha256:" + strings.Repeat("1", 64): danglingUsed,
	})
	if err := st.CreateContainer(containerID, imageID(t, used), ContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateContainer(strings.Repeat("d", 64), imageID(t, danglingUsed), ContainerOptions{}); err != nil {
		t.Fatal(err)
	}

	rep, err := st.Prune(false)
	if err != nil || !slices.Equal(rep.Deleted, []string{imageID(t, dangling)}) || len(rep.Untagged) > 0 {
		t.Fatalf("Prune(false) = %+v, %v; want only %s deleted", rep, err, imageID(t, dangling))
	}
	if n := len(imageNames(t, st)); n != 3 {
		t.Errorf("%d images after Prune(false), want 3", n)
	}

	rep, err = st.Prune(true)
	if err != nil || !slices.Equal(rep.Deleted, []string{imageID(t, named)}) || !slices.Equal(rep.Untagged, []string{"docker.io/library/named:1"}) {
		t.Fatalf("Prune(true) = %+v, %v; want only named:1 deleted", rep, err)
	}
	left := imageNames(t, st)
	if _, ok := left[imageID(t, used)]; !ok || len(left) != 2 {
		t.Errorf("images after Prune(true) = %v; want the two used ones", left)
	}
	if rep, err := st.Prune(true); err != nil || len(rep.Deleted) > 0 {
		t.Errorf("Prune(true) again = %+v, %v; want nothing", rep, err)
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, "")
	x := layeredImage(t, "base", "x")
	loadInto(t, st, map[string]v1.Image{"x:1": x.img})

	rows, err := st.History(ctx, "x:1")
	if err != nil {
		t.Fatalf("History(x:1) = %v", err)
	}
	want := []HistoryEntry{
		{ID: x.id, Created: historyTime(2), CreatedBy: "RUN make x", Size: int64(len(x.layers[1])), Comment: "built x"},
		{ID: MissingID, Created: historyTime(1), CreatedBy: "ENV X=1", EmptyLayer: true},
		{ID: MissingID, Created: historyTime(0), CreatedBy: "ADD base /", Size: int64(len(x.layers[0]))},
	}
	if len(rows) != len(want) {
		t.Fatalf("History(x:1) = %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			// time.Time compares by value here: both are UTC without monotonic readings.
			if !rows[i].Created.Equal(want[i].Created) || rows[i].ID != want[i].ID || rows[i].CreatedBy != want[i].CreatedBy ||
				rows[i].Size != want[i].Size || rows[i].Comment != want[i].Comment || rows[i].EmptyLayer != want[i].EmptyLayer {
				t.Errorf("History(x:1)[%d] = %+v, want %+v", i, rows[i], want[i])
			}
		}
	}

	// An image whose config records no history still shows its layer.
	plain := testImage(t, "p", false)
	loadInto(t, st, map[string]v1.Image{"p:1": plain})
	rows, err = st.History(ctx, "p:1")
	if err != nil || len(rows) == 0 || rows[0].ID != imageID(t, plain) || rows[0].Size != int64(len(rootfsTar(t, "p"))) {
		t.Errorf("History(p:1) = %+v, %v; want a top row for the layer of size %d", rows, err, len(rootfsTar(t, "p")))
	}
	if _, err := st.History(ctx, "nosuch"); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("History(nosuch) = %v, want ErrImageNotFound", err)
	}
}
