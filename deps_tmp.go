//go:build tools

package main

import (
	_ "github.com/alecthomas/kong"
	_ "github.com/creack/pty"
	_ "github.com/cyphar/filepath-securejoin"
	_ "github.com/docker/go-units"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/google/go-containerregistry/pkg/v1/layout"
	_ "github.com/google/go-containerregistry/pkg/v1/mutate"
	_ "github.com/google/go-containerregistry/pkg/v1/random"
	_ "github.com/google/go-containerregistry/pkg/v1/tarball"
	_ "github.com/moby/sys/capability"
	_ "github.com/moby/sys/mountinfo"
	_ "github.com/opencontainers/image-spec/specs-go/v1"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin"
	_ "go.podman.io/image/v5/copy"
	_ "go.podman.io/image/v5/docker/archive"
	_ "go.podman.io/image/v5/oci/archive"
	_ "go.podman.io/image/v5/oci/layout"
	_ "go.podman.io/image/v5/signature"
	_ "go.podman.io/image/v5/storage"
	_ "go.podman.io/image/v5/transports/alltransports"
	_ "go.podman.io/storage"
	_ "go.podman.io/storage/pkg/reexec"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
