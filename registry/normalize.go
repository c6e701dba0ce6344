package registry

import (
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

// defaultDomain is where a short name goes when registries.conf names no
// alias and no unqualified-search registry: Docker Hub, as with docker.
const defaultDomain = "docker.io"

// Normalize turns what the user typed into the fully qualified references
// to try, in order: the name itself when it names a registry ("host.tld/…",
// "host:port/…", "localhost/…"); else a short-name alias from
// registries.conf; else the name in each unqualified-search registry; else
// docker.io. A reference without tag or digest gets ":latest".
//
// It never prompts, unlike containers/image's shortnames.Resolve on a
// terminal: box behaves like Docker and tries the candidates in turn.
func Normalize(sys *types.SystemContext, ref string) ([]string, error) {
	parsed, err := reference.Parse(ref)
	if err != nil || ref != strings.TrimSpace(ref) {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadReference, ref, err)
	}
	named, ok := parsed.(reference.Named)
	if !ok {
		return nil, fmt.Errorf("%w: %q has no name", ErrBadReference, ref)
	}
	if domain := reference.Domain(named); strings.ContainsAny(domain, ".:") || domain == "localhost" {
		full, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadReference, ref, err)
		}
		return []string{reference.TagNameOnly(full).String()}, nil
	}
	alias, _, err := sysregistriesv2.ResolveShortNameAlias(sys, named.Name())
	if err != nil {
		return nil, fmt.Errorf("resolve short name %q: %w", ref, err)
	}
	if alias != nil {
		full, err := withTagOrDigest(alias, named)
		if err != nil {
			return nil, err
		}
		return []string{full}, nil
	}
	regs, err := sysregistriesv2.UnqualifiedSearchRegistries(sys)
	if err != nil {
		return nil, fmt.Errorf("resolve short name %q: %w", ref, err)
	}
	if len(regs) == 0 {
		regs = []string{defaultDomain}
	}
	out := make([]string, 0, len(regs))
	for _, reg := range regs {
		full, err := reference.ParseNormalizedNamed(reg + "/" + ref)
		if err != nil {
			return nil, fmt.Errorf("%w: %q in registry %q: %v", ErrBadReference, ref, reg, err)
		}
		out = append(out, reference.TagNameOnly(full).String())
	}
	return out, nil
}

// withTagOrDigest puts the tag and digest the user gave on an alias.
func withTagOrDigest(alias reference.Named, user reference.Named) (string, error) {
	var err error
	if t, ok := user.(reference.Tagged); ok {
		if alias, err = reference.WithTag(alias, t.Tag()); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadReference, err)
		}
	}
	if d, ok := user.(reference.Digested); ok {
		if alias, err = reference.WithDigest(alias, d.Digest()); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadReference, err)
		}
	}
	return reference.TagNameOnly(alias).String(), nil
}

// Host returns the registry host of a normalized reference, e.g.
// "127.0.0.1:5000" or "docker.io".
func Host(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadReference, ref, err)
	}
	// containers/image's ParseNormalizedNamed takes "a_b.c/d" for a name
	// without a registry: "a_b.c" looks like a host to its splitting, but
	// is none, so it stays a path component.
	domain := reference.Domain(named)
	if domain == "" {
		return "", fmt.Errorf("%w: %q names no registry host", ErrBadReference, ref)
	}
	return domain, nil
}
