package registrytest

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"testing"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// Push copies an image into the registry as repo ("test/hello:v1"). src is
// an OCI layout directory holding one image or index, an oci-archive, or a
// docker-archive; an index is copied with every image in it.
func (r *Registry) Push(t testing.TB, src, repo string) {
	t.Helper()
	if err := r.PushContext(context.Background(), src, repo); err != nil {
		t.Fatalf("push %s to %s: %v", src, r.Ref(repo), err)
	}
}

// PushContext is Push without a testing.TB, for the testregistry command.
func (r *Registry) PushContext(ctx context.Context, src, repo string) error {
	srcRef, err := sourceRef(src)
	if err != nil {
		return err
	}
	destRef, err := docker.ParseReference("//" + r.Ref(repo))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "registrytest-push-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	sys := r.SystemContext()
	sys.BigFilesTemporaryDir = tmp
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return err
	}
	defer pc.Destroy()
	_, err = copy.Image(ctx, pc, destRef, srcRef, &copy.Options{
		SourceCtx:          &types.SystemContext{BigFilesTemporaryDir: tmp},
		DestinationCtx:     sys,
		ImageListSelection: copy.CopyAllImages,
	})
	return err
}

// SystemContext is what containers/image needs to reach this registry:
// its CA or plain http, and its credentials.
func (r *Registry) SystemContext() *types.SystemContext {
	sys := &types.SystemContext{}
	if r.CertDir != "" {
		sys.DockerCertPath = r.CertDir
	} else {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	if r.User != "" {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: r.User, Password: r.Pass}
	}
	// Keep the host's registries.conf and auth files out of it.
	// (containers/image fails on a registries.conf that does not exist,
	// not on a missing drop-in directory.)
	sys.SystemRegistriesConfPath = filepath.Join(r.dir, "registries.conf")
	sys.SystemRegistriesConfDirPath = filepath.Join(r.dir, "registries.conf.d")
	sys.AuthFilePath = filepath.Join(r.dir, "no-auth.json")
	return sys
}

func sourceRef(src string) (types.ImageReference, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return layout.NewReference(src, "")
	}
	docker, err := isDockerArchive(src)
	if err != nil {
		return nil, err
	}
	if docker {
		return dockerarchive.NewReference(src, nil)
	}
	return ociarchive.NewReference(src, "")
}

// isDockerArchive tells docker save's format (manifest.json) from an
// oci-archive.
func isDockerArchive(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	rd, _, err := compression.AutoDecompress(f)
	if err != nil {
		return false, err
	}
	defer rd.Close()
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", file, err)
		}
		if path.Clean(h.Name) == "manifest.json" {
			return true, nil
		}
	}
}
