package image

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/boxcli/box/registry"
	"github.com/boxcli/box/registrytest"
)

// TestPushPullBack pushes a loaded image to a registry, under another name
// and under its own, and pulls it back into a fresh store.
func TestPushPullBack(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{User: "bob", Password: "pw"})
	ro := registryEnv(t, "")
	img := testImage(t, "push", false)
	archive := filepath.Join(t.TempDir(), "img.tar")
	own := reg.Ref("mine/app:1")
	writeDockerArchive(t, archive, map[string]v1.Image{own: img})
	st, _ := testStore(t, DriverVFS)
	if _, err := st.Load(ctx, archive); err != nil {
		t.Fatalf("Load = %v", err)
	}

	dest := reg.Ref("pushed/app:2")
	if err := st.Push(ctx, own, dest, PushOptions{Registry: ro}); !errors.Is(err, registry.ErrUnauthorized) {
		t.Fatalf("Push before login = %v, want ErrUnauthorized", err)
	}
	sys, err := registry.SystemContext(ro)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.Login(ctx, sys, reg.Addr, "bob", "pw"); err != nil {
		t.Fatalf("Login = %v", err)
	}
	if err := st.Push(ctx, own, dest, PushOptions{Registry: ro}); err != nil {
		t.Fatalf("Push(%s, %s) = %v", own, dest, err)
	}
	if err := st.Push(ctx, imageID(t, img)[:12], "", PushOptions{Registry: ro}); err != nil {
		t.Fatalf("Push(ID, \"\") of an image with one name = %v", err)
	}
	for _, ref := range []string{dest, own} {
		fresh, _ := testStore(t, DriverVFS)
		got, err := fresh.Pull(ctx, ref, PullOptions{Registry: ro})
		if err != nil {
			t.Fatalf("Pull(%s) after push = %v", ref, err)
		}
		if got.ID != imageID(t, img) {
			t.Errorf("Pull(%s) after push = %s, want %s", ref, got.ID, imageID(t, img))
		}
	}
	if err := st.Push(ctx, "nothing-here", dest, PushOptions{Registry: ro}); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("Push of an unknown image = %v, want ErrImageNotFound", err)
	}
}
