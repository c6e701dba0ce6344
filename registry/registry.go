// Package registry is how box talks to container registries without
// touching the image store: it builds the containers/image SystemContext
// and signature policy from the same files podman, buildah and skopeo read
// (plus box's own config directory), resolves short names to candidate
// references, and logs in and out.
//
// Pulling and pushing, which need the store, live in package image. Like
// image, this package is meant to run inside box's stage, but nothing here
// depends on it.
package registry

import "errors"

var (
	// ErrBadReference means a reference is not a valid image name.
	ErrBadReference = errors.New("invalid image reference")
	// ErrUnauthorized means the registry wants credentials, or refused the
	// ones given.
	ErrUnauthorized = errors.New("authentication required")
	// ErrUnreachable means no connection to the registry could be made
	// (refused, no route, DNS failure, timeout, TLS handshake failure).
	ErrUnreachable = errors.New("registry unreachable")
	// ErrNotFound means the registry has no such repository, tag or digest.
	ErrNotFound = errors.New("manifest unknown")
	// ErrNotLoggedIn means Logout found no credentials for the registry.
	ErrNotLoggedIn = errors.New("not logged in")
)
