package image

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestInspect(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, "")
	x := layeredImage(t, "base", "x")
	loadInto(t, st, map[string]v1.Image{"x:1": x.img, "example.com/team/x:2": x.img})

	got, err := st.Inspect(ctx, "x:1")
	if err != nil {
		t.Fatalf("Inspect(x:1) = %v", err)
	}
	slices.Sort(got.RepoTags)
	if got.ID != "sha256:"+x.id || !slices.Equal(got.RepoTags, []string{"docker.io/library/x:1", "example.com/team/x:2"}) {
		t.Errorf("Inspect(x:1) Id, RepoTags = %s, %q", got.ID, got.RepoTags)
	}
	if len(got.RepoDigests) != 2 {
		t.Errorf("RepoDigests = %q, want one per repository", got.RepoDigests)
	}
	for _, d := range got.RepoDigests {
		if !slices.Contains([]string{"docker.io/library/x", "example.com/team/x"}, d[:len(d)-len("@sha256:")-64]) {
			t.Errorf("RepoDigest %q names no repository of the image", d)
		}
	}
	c := got.Config
	if !slices.Equal(c.Cmd, []string{"/bin/x"}) || !slices.Equal(c.Entrypoint, []string{"/entry"}) ||
		!slices.Equal(c.Env, []string{"X=1"}) || c.Labels["top"] != "x" || len(c.ExposedPorts) != 1 {
		t.Errorf("Config = %+v", c)
	}
	if got.RootFS.Type != "layers" || len(got.RootFS.Layers) != 2 {
		t.Errorf("RootFS = %+v, want 2 layers", got.RootFS)
	}
	if got.Size <= int64(len(x.layers[0])+len(x.layers[1])) {
		t.Errorf("Size = %d, want more than the layers' %d bytes", got.Size, len(x.layers[0])+len(x.layers[1]))
	}
	if created, err := time.Parse(time.RFC3339Nano, got.Created); err != nil || !created.Equal(historyTime(2)) {
		t.Errorf("Created = %q, want %s", got.Created, historyTime(2).Format(time.RFC3339Nano))
	}
	if got.Os != "linux" || got.Architecture != runtime.GOARCH || got.Author != "box tests" ||
		got.Comment != "built x" || got.GraphDriver.Name != st.Driver() || len(got.History) != 3 {
		t.Errorf("Inspect(x:1) = %+v", got)
	}

	// Docker's key names, and the empty lists docker prints as [].
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Config", "Architecture", "Os", "Size", "RootFS"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("inspect JSON lacks %q: %s", k, raw)
		}
	}
	var cfg map[string]json.RawMessage
	json.Unmarshal(keys["Config"], &cfg)
	for _, k := range []string{"Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts"} {
		if _, ok := cfg[k]; !ok {
			t.Errorf("inspect JSON Config lacks %q: %s", k, keys["Config"])
		}
	}

	untagged := testImage(t, "u", false)
	loadInto(t, st, map[string]v1.Image{"x@sha256:" + x.id: untagged})
	got, err = st.Inspect(ctx, imageID(t, untagged)[:12])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(got)
	json.Unmarshal(raw, &keys)
	if string(keys["RepoTags"]) != "[]" || string(keys["RepoDigests"]) != "[]" {
		t.Errorf("untagged image: RepoTags %s, RepoDigests %s; want [] and []", keys["RepoTags"], keys["RepoDigests"])
	}
	if _, err := st.Inspect(ctx, "nosuch"); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("Inspect(nosuch) = %v, want ErrImageNotFound", err)
	}
}
