package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	ggcrcompression "github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/boxcli/box/registry"
	"github.com/boxcli/box/registrytest"
)

// registryEnv points every per-user place containers/image looks at
// (auth files, registries.conf, policy.json) into the test's own
// directories, and gives box a ConfigDir whose registries.conf is conf,
// so that the host's /etc/containers cannot change the outcome.
func registryEnv(t *testing.T, conf string) registry.Options {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME":                       home,
		"XDG_CONFIG_HOME":            filepath.Join(home, ".config"),
		"XDG_RUNTIME_DIR":            filepath.Join(home, "run"),
		"REGISTRY_AUTH_FILE":         "",
		"DOCKER_CONFIG":              "",
		"CONTAINERS_REGISTRIES_CONF": "",
	} {
		t.Setenv(k, v)
	}
	// As podman does after entering its user namespace, and box's stage
	// must do too: without it containers/image sees uid 0 and uses root's
	// /var/lib/containers/sigstore and /var/cache/containers.
	t.Setenv("_CONTAINERS_ROOTLESS_UID", hostUID(t))
	cfg := filepath.Join(home, ".config", "box")
	for _, d := range []string{cfg, filepath.Join(home, "run")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg, "registries.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return registry.Options{ConfigDir: cfg}
}

// hostUID is the host user that uid 0 of this user namespace maps to.
func hostUID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "0" {
			return f[1]
		}
	}
	t.Fatalf("uid 0 not mapped: %s", b)
	return ""
}

// seed pushes imgs (an image or an index) to reg as repo.
func seed(t *testing.T, reg *registrytest.Registry, repo string, img any) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	switch img := img.(type) {
	case v1.Image:
		err = p.AppendImage(img)
	case v1.ImageIndex:
		err = p.AppendIndex(img)
	}
	if err != nil {
		t.Fatal(err)
	}
	reg.Push(t, dir, repo)
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

func blobGets(t *testing.T, reg *registrytest.Registry) map[string]int {
	t.Helper()
	n, err := reg.BlobGets()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPull pulls a gzip image over plain http from a loopback registry,
// with no flag saying so, then checks the policies and that a re-pull
// downloads no layer.
func TestPull(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	ro := registryEnv(t, "")
	img := testImage(t, "pull", true)
	seed(t, reg, "test/hello:v1", img)
	st, _ := testStore(t, DriverVFS)
	ref := reg.Ref("test/hello:v1")

	var progress bytes.Buffer
	got, err := st.Pull(ctx, ref, PullOptions{Policy: PullAlways, Registry: ro, Progress: &progress})
	if err != nil {
		t.Fatalf("Pull(%s) = %v", ref, err)
	}
	if got.ID != imageID(t, img) || !slices.Contains(got.Names, ref) {
		t.Errorf("Pull(%s) = %s %v, want %s named %s", ref, got.ID, got.Names, imageID(t, img), ref)
	}
	if !slices.Contains(got.Config.Env, "SEED=pull") {
		t.Errorf("pulled config Env = %v, want SEED=pull", got.Config.Env)
	}
	layer := layerDigests(t, img)[0]
	if !strings.Contains(progress.String(), "Copying blob "+layer) {
		t.Errorf("progress off a terminal = %q, want a line %q", progress.String(), "Copying blob "+layer)
	}
	if n := blobGets(t, reg)[layer]; n != 1 {
		t.Fatalf("first pull fetched layer %s %d times, want 1", layer, n)
	}

	// Layers already in the store are not fetched again.
	if _, err := st.Pull(ctx, ref, PullOptions{Policy: PullAlways, Registry: ro}); err != nil {
		t.Fatalf("second Pull(%s) = %v", ref, err)
	}
	if n := blobGets(t, reg)[layer]; n != 1 {
		t.Errorf("after a re-pull the layer was fetched %d times, want still 1", n)
	}
	if _, err := st.Pull(ctx, ref, PullOptions{Policy: PullNewer, Registry: ro}); err != nil {
		t.Fatalf("Pull(%s, newer) = %v", ref, err)
	}

	// With the registry gone: missing and never use the store, always fails.
	reg.Close()
	for _, pol := range []string{"", PullMissing, PullNever, PullNewer} {
		if got, err := st.Pull(ctx, ref, PullOptions{Policy: pol, Registry: ro, Warnf: t.Logf}); err != nil || got.ID != imageID(t, img) {
			t.Errorf("Pull(%s, %q) without registry = %v, %v; want the stored image", ref, pol, got, err)
		}
	}
	if _, err := st.Pull(ctx, ref, PullOptions{Policy: PullAlways, Registry: ro}); !errors.Is(err, registry.ErrUnreachable) {
		t.Errorf("Pull(%s, always) without registry = %v, want ErrUnreachable", ref, err)
	}
	if _, err := st.Pull(ctx, reg.Ref("other:v1"), PullOptions{Policy: PullNever, Registry: ro}); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("Pull(never) of an image not stored = %v, want ErrImageNotFound", err)
	}
	if _, err := st.Pull(ctx, ref, PullOptions{Policy: "sometimes", Registry: ro}); err == nil {
		t.Error("Pull with policy \"sometimes\" succeeded, want an error")
	}
}

// TestPullZstdDigestShortName pulls a zstd image by digest and by a short
// name that registries.conf sends to the test registry.
func TestPullZstdDigestShortName(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	ro := registryEnv(t, fmt.Sprintf("unqualified-search-registries = [%q]\n", reg.Addr))
	img := zstdImage(t, "zstd")
	seed(t, reg, "test/zstd:latest", img)
	st, _ := testStore(t, DriverVFS)

	got, err := st.Pull(ctx, "test/zstd", PullOptions{Registry: ro})
	if err != nil {
		t.Fatalf("Pull(test/zstd) = %v", err)
	}
	want := reg.Ref("test/zstd:latest")
	if got.ID != imageID(t, img) || !slices.Contains(got.Names, want) {
		t.Errorf("Pull(test/zstd) = %s %v, want %s named %s", got.ID, got.Names, imageID(t, img), want)
	}

	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := testStore(t, DriverVFS)
	byDigest := reg.Ref("test/zstd@" + d.String())
	got, err = st2.Pull(ctx, byDigest, PullOptions{Registry: ro})
	if err != nil {
		t.Fatalf("Pull(%s) = %v", byDigest, err)
	}
	if got.ID != imageID(t, img) {
		t.Errorf("Pull(%s) = %s, want %s", byDigest, got.ID, imageID(t, img))
	}
	if l, err := st2.Lookup(ctx, byDigest); err != nil || l.ID != got.ID {
		t.Errorf("Lookup(%s) after pull = %v, %v", byDigest, l, err)
	}
}

func zstdImage(t *testing.T, seed string) v1.Image {
	t.Helper()
	base := testImage(t, seed, true)
	layers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	zl := zstdLayer(t, data)
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, ggcrtypes.OCIManifestSchema1), ggcrtypes.OCIConfigJSON), zl)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	newCf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS = newCf.RootFS
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if mt, err := zl.MediaType(); err != nil || mt != ggcrtypes.OCILayerZStd {
		t.Fatalf("zstd layer media type = %v, %v", mt, err)
	}
	return img
}

// archImage is a one-layer image for another platform.
func archImage(t *testing.T, seed, arch string) v1.Image {
	t.Helper()
	img := testImage(t, seed, true)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPullMultiArch pulls the host's image out of an index, and another
// platform's with Platform set.
func TestPullMultiArch(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	ro := registryEnv(t, "")
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	host, foreign := archImage(t, "host", runtime.GOARCH), archImage(t, "foreign", other)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, ggcrtypes.OCIImageIndex),
		mutate.IndexAddendum{Add: foreign, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: host, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	seed(t, reg, "test/multi:v1", idx)
	ref := reg.Ref("test/multi:v1")

	st, _ := testStore(t, DriverVFS)
	got, err := st.Pull(ctx, ref, PullOptions{Registry: ro})
	if err != nil {
		t.Fatalf("Pull(%s) = %v", ref, err)
	}
	if got.ID != imageID(t, host) {
		t.Errorf("Pull(%s) = %s, want the %s image %s", ref, got.ID, runtime.GOARCH, imageID(t, host))
	}
	ro.Platform = "linux/" + other
	got, err = st.Pull(ctx, ref, PullOptions{Policy: PullAlways, Registry: ro})
	if err != nil {
		t.Fatalf("Pull(%s, platform %s) = %v", ref, ro.Platform, err)
	}
	if got.ID != imageID(t, foreign) {
		t.Errorf("Pull(%s, platform %s) = %s, want %s", ref, ro.Platform, got.ID, imageID(t, foreign))
	}
}

// TestPullErrors checks the errors the CLI words.
func TestPullErrors(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	ro := registryEnv(t, "")
	seed(t, reg, "test/hello:v1", testImage(t, "errors", true))
	st, _ := testStore(t, DriverVFS)

	for _, ref := range []string{reg.Ref("nope"), reg.Ref("test/hello:nope")} {
		_, err := st.Pull(ctx, ref, PullOptions{Registry: ro})
		want := fmt.Sprintf("image %q not found: ", ref)
		if !strings.Contains(ref, ":nope") {
			want = fmt.Sprintf("image %q not found: ", ref+":latest")
		}
		t.Logf("Pull(%s): %v", ref, err)
		if !errors.Is(err, ErrImageNotFound) || !errors.Is(err, registry.ErrNotFound) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Pull(%s) = %v, want ErrImageNotFound starting %q", ref, err, want)
		}
	}
	_, err := st.Pull(ctx, "Bad/UPPER", PullOptions{Registry: ro})
	t.Logf("Pull(Bad/UPPER): %v", err)
	if !errors.Is(err, ErrBadReference) || !errors.Is(err, registry.ErrBadReference) {
		t.Errorf("Pull(Bad/UPPER) = %v, want ErrBadReference", err)
	}
	dead := registrytest.Start(t, registrytest.Options{})
	dead.Close()
	_, err = st.Pull(ctx, dead.Ref("x:1"), PullOptions{Registry: ro})
	t.Logf("Pull from a stopped registry: %v", err)
	if !errors.Is(err, registry.ErrUnreachable) {
		t.Errorf("Pull from a stopped registry = %v, want ErrUnreachable", err)
	}
}

// TestPullTLS pulls over https with a self-signed certificate: trusted
// through CertDir, accepted without flags on loopback, refused when
// verification is asked for and the CA is unknown.
func TestPullTLS(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{TLS: true})
	ro := registryEnv(t, "")
	img := testImage(t, "tls", true)
	seed(t, reg, "test/tls:v1", img)
	ref := reg.Ref("test/tls:v1")
	yes := true

	verified := ro
	verified.TLSVerify, verified.CertDir = &yes, reg.CertDir
	strict := ro
	strict.TLSVerify = &yes
	for _, tc := range []struct {
		name string
		ro   registry.Options
		err  error
	}{
		{"cert-dir", verified, nil},
		{"loopback default", ro, nil},
		{"verify without CA", strict, registry.ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := testStore(t, DriverVFS)
			got, err := st.Pull(ctx, ref, PullOptions{Registry: tc.ro})
			if tc.err != nil {
				t.Logf("Pull: %v", err)
				if !errors.Is(err, tc.err) {
					t.Errorf("Pull = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got.ID != imageID(t, img) {
				t.Errorf("Pull = %v, %v; want image %s", got, err, imageID(t, img))
			}
		})
	}
}

// TestPullAuth logs in and out of an htpasswd registry: a pull needs the
// login, Docker's config.json is read too.
func TestPullAuth(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{User: "alice", Password: "s3cret"})
	ro := registryEnv(t, "")
	img := testImage(t, "auth", true)
	seed(t, reg, "test/private:v1", img)
	ref := reg.Ref("test/private:v1")
	st, _ := testStore(t, DriverVFS)
	pull := func() error {
		_, err := st.Pull(ctx, ref, PullOptions{Policy: PullAlways, Registry: ro})
		return err
	}
	err := pull()
	t.Logf("Pull before login: %v", err)
	if !errors.Is(err, registry.ErrUnauthorized) {
		t.Fatalf("Pull before login = %v, want ErrUnauthorized", err)
	}
	sys, err := registry.SystemContext(ro)
	if err != nil {
		t.Fatal(err)
	}
	err = registry.Login(ctx, sys, reg.Addr, "alice", "wrong")
	t.Logf("Login with a wrong password: %v", err)
	if !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("Login with a wrong password = %v, want ErrUnauthorized", err)
	}
	if err := registry.Login(ctx, sys, reg.Addr, "alice", "s3cret"); err != nil {
		t.Fatalf("Login = %v", err)
	}
	authJSON := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "containers", "auth.json")
	if b, err := os.ReadFile(authJSON); err != nil || !strings.Contains(string(b), reg.Addr) {
		t.Errorf("%s after login = %q, %v; want an entry for %s", authJSON, b, err, reg.Addr)
	}
	if err := pull(); err != nil {
		t.Fatalf("Pull after login = %v", err)
	}
	if err := registry.Logout(sys, reg.Addr); err != nil {
		t.Fatalf("Logout = %v", err)
	}
	if err := registry.Logout(sys, reg.Addr); !errors.Is(err, registry.ErrNotLoggedIn) {
		t.Errorf("second Logout = %v, want ErrNotLoggedIn", err)
	}
	if err := pull(); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("Pull after logout = %v, want ErrUnauthorized", err)
	}

	// Docker's own file is read when box has no login of its own.
	docker := filepath.Join(os.Getenv("HOME"), ".docker")
	if err := os.MkdirAll(docker, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":"YWxpY2U6czNjcmV0"}}}`, reg.Addr) // alice:s3cret
	if err := os.WriteFile(filepath.Join(docker, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pull(); err != nil {
		t.Errorf("Pull with credentials in ~/.docker/config.json = %v", err)
	}
}

// TestPullCancelled cancels a pull while its layers download: no image may
// show, and the next pull completes the store.
func TestPullCancelled(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ro := registryEnv(t, "")
	img, err := random.Image(8<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, reg, "test/big:v1", img)
	ref := reg.Ref("test/big:v1")
	st, _ := testStore(t, DriverVFS)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = st.Pull(ctx, ref, PullOptions{Registry: ro, Progress: cancelOnBlob{cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Pull = %v, want context.Canceled", err)
	}
	if imgs, err := st.Images(); err != nil || len(imgs) != 0 {
		t.Fatalf("Images() after a cancelled pull = %v, %v; want none", imgs, err)
	}
	got, err := st.Pull(context.Background(), ref, PullOptions{Registry: ro})
	if err != nil {
		t.Fatalf("Pull after a cancelled one = %v", err)
	}
	imgs, err := st.Images()
	if err != nil || len(imgs) != 1 || imgs[0].ID != got.ID || !slices.Contains(imgs[0].Names, ref) {
		t.Errorf("Images() after the re-pull = %v, %v; want one image %s named %s", imgs, err, got.ID, ref)
	}
}

// cancelOnBlob cancels the pull once containers/image starts on a layer.
type cancelOnBlob struct{ cancel context.CancelFunc }

func (c cancelOnBlob) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("Copying blob")) {
		c.cancel()
	}
	return len(b), nil
}

func zstdLayer(t *testing.T, data []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithCompression(ggcrcompression.ZStd), tarball.WithMediaType(ggcrtypes.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	return l
}
