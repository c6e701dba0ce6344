package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/types"
)

// Login checks user and password against the registry and, if it accepts
// them, stores them in the auth file sys names (see SystemContext). Bad
// credentials are ErrUnauthorized.
func Login(ctx context.Context, sys *types.SystemContext, registry, user, password string) error {
	host, err := registryHost(registry)
	if err != nil {
		return err
	}
	if user == "" || password == "" {
		return fmt.Errorf("log in to %s: user name and password must not be empty", host)
	}
	if err := docker.CheckAuth(ctx, ForHost(sys, host), user, password, host); err != nil {
		return fmt.Errorf("log in to %s: %w", host, Classify(err))
	}
	if _, err := config.SetCredentials(sys, host, user, password); err != nil {
		return fmt.Errorf("store credentials for %s: %w", host, err)
	}
	return nil
}

// Logout removes the stored credentials for registry; ErrNotLoggedIn if
// there were none.
func Logout(sys *types.SystemContext, registry string) error {
	host, err := registryHost(registry)
	if err != nil {
		return err
	}
	err = config.RemoveAuthentication(sys, host)
	if errors.Is(err, config.ErrNotLoggedIn) {
		return fmt.Errorf("log out of %s: %w", host, ErrNotLoggedIn)
	}
	if err != nil {
		return fmt.Errorf("log out of %s: %w", host, err)
	}
	return nil
}

// registryHost accepts what users give docker login: "host[:port]", maybe
// with a scheme or a trailing path ("https://host/v2/"), which name the same
// credentials.
func registryHost(registry string) (string, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	if h == "" || strings.ContainsAny(h, " \t@") {
		return "", fmt.Errorf("%w: %q is not a registry host", ErrBadReference, registry)
	}
	if h == "index.docker.io" || h == "registry-1.docker.io" {
		h = defaultDomain
	}
	return h, nil
}
