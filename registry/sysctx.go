package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"go.podman.io/image/v5/types"
)

// Options are the user's registry settings, as flags and environment give
// them to box.
type Options struct {
	// ConfigDir is box's own configuration directory
	// ($XDG_CONFIG_HOME/box). A registries.conf there replaces the
	// containers ones, and a policy.json there comes first.
	ConfigDir string
	// AuthFile overrides where credentials are read and written
	// (--authfile); "" means $REGISTRY_AUTH_FILE, else podman's default.
	AuthFile string
	// TLSVerify is --tls-verify: nil follows registries.conf (and plain
	// http for loopback registries), false skips verification and allows
	// http everywhere, true insists on verified https even on loopback.
	TLSVerify *bool
	// CertDir holds CA certificates (*.crt) and client certificates
	// (*.cert, *.key) for every registry (--cert-dir).
	CertDir string
	// Platform is "os/arch[/variant]" (--platform); "" is the host's.
	Platform string
	// TmpDir receives big temporary files; "" is containers/image's default.
	TmpDir string
	// CacheDir holds the blob info cache; "" is containers/image's default.
	CacheDir string
}

// authFileEnv is podman's and skopeo's override of the auth file.
const authFileEnv = "REGISTRY_AUTH_FILE"

// SystemContext turns o into a containers/image SystemContext. Files that
// do not exist are not an error: containers/image only fails on missing
// files it was pointed at, so box points it only at files that exist.
func SystemContext(o Options) (*types.SystemContext, error) {
	// Docker's behaviour: a short name that several registries could
	// serve is tried on each in turn instead of prompting or failing.
	mode := types.ShortNameModePermissive
	sys := &types.SystemContext{
		BigFilesTemporaryDir: o.TmpDir,
		BlobInfoCacheDir:     o.CacheDir,
		DockerCertPath:       o.CertDir,
		ShortNameMode:        &mode,
	}
	if o.Platform != "" {
		os, arch, variant, err := parsePlatform(o.Platform)
		if err != nil {
			return nil, err
		}
		sys.OSChoice, sys.ArchitectureChoice, sys.VariantChoice = os, arch, variant
	}
	if o.TLSVerify != nil {
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!*o.TLSVerify)
		sys.OCIInsecureSkipTLSVerify = !*o.TLSVerify
	}
	if o.ConfigDir != "" {
		// Without box's own registries.conf, containers/image searches
		// $CONTAINERS_REGISTRIES_CONF, then the user's and the system's
		// registries.conf and their .d directories, skipping missing ones.
		conf := filepath.Join(o.ConfigDir, "registries.conf")
		ok, err := exists(conf)
		if err != nil {
			return nil, err
		}
		if ok {
			sys.SystemRegistriesConfPath = conf
			// Its drop-ins only: box's file is a complete configuration,
			// and the system's drop-ins (aliases, search registries) must
			// not change it behind the user's back. A missing directory
			// is skipped by containers/image.
			sys.SystemRegistriesConfDirPath = filepath.Join(o.ConfigDir, "registries.conf.d")
		}
	}
	auth, err := authFile(o.AuthFile, os.Getenv)
	if err != nil {
		return nil, err
	}
	sys.AuthFilePath = auth
	return sys, nil
}

// authFile picks the auth file containers/image should use; "" lets it
// choose, which is podman's order: $XDG_RUNTIME_DIR/containers/auth.json
// (where logins are written), then, for reading only,
// $XDG_CONFIG_HOME/containers/auth.json, Docker's ~/.docker/config.json
// (or $DOCKER_CONFIG/config.json) and ~/.dockercfg. An explicit file is
// the only one read, as in podman.
func authFile(opt string, getenv func(string) string) (string, error) {
	if opt != "" {
		return opt, nil
	}
	if f := getenv(authFileEnv); f != "" {
		return f, nil
	}
	if run := getenv("XDG_RUNTIME_DIR"); run != "" {
		ok, err := exists(run)
		if err != nil || ok {
			return "", err
		}
	}
	// No runtime directory: containers/image would use
	// /run/containers/UID/auth.json with the stage's UID (0), which is the
	// real root's. Use the persistent per-user file podman also reads
	// (Docker's config.json is then not consulted).
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("find auth file: none of REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, XDG_CONFIG_HOME, HOME is set")
		}
		cfg = filepath.Join(home, ".config")
	}
	return filepath.Join(cfg, "containers", "auth.json"), nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// parsePlatform splits "os/arch[/variant]".
func parsePlatform(p string) (os, arch, variant string, err error) {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
		return "", "", "", fmt.Errorf("invalid platform %q: want os/arch[/variant], e.g. linux/arm64/v8", p)
	}
	if len(parts) == 3 {
		variant = parts[2]
	}
	return parts[0], parts[1], variant, nil
}

// ForHost returns sys for talking to the registry at host ("name[:port]"):
// a copy that allows plain http and unverified TLS when host is on
// loopback (localhost, 127.0.0.0/8, ::1), as Docker does, unless the user
// asked for verification explicitly.
//
// This is done per host, rather than with an "insecure" entry in a
// generated registries.conf, because the loopback port is not known in
// advance and registries.conf matches host:port exactly; and
// DockerInsecureSkipTLSVerify is the SystemContext switch that makes
// containers/image fall back from https to http.
func ForHost(sys *types.SystemContext, host string) *types.SystemContext {
	c := *sys
	if sys.DockerInsecureSkipTLSVerify == types.OptionalBoolUndefined && IsLoopback(host) {
		c.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	return &c
}

// IsLoopback reports whether a registry host ("name[:port]", "[::1]:5000")
// is on this machine.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
