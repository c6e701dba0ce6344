package registry

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// configSys is a SystemContext reading only conf, as box's ConfigDir does.
func configSys(t *testing.T, conf string) *types.SystemContext {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "auth.json"))
	sys, err := SystemContext(Options{ConfigDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

func TestNormalize(t *testing.T) {
	none := configSys(t, "")
	search := configSys(t, `unqualified-search-registries = ["127.0.0.1:5000", "quay.io"]`+"\n")
	alias := configSys(t, "unqualified-search-registries = [\"quay.io\"]\n[aliases]\n\"tool\" = \"example.com/tools/tool\"\n")
	const dg = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	for _, tc := range []struct {
		name string
		sys  *types.SystemContext
		ref  string
		want []string
	}{
		{"default docker.io", none, "alpine", []string{"docker.io/library/alpine:latest"}},
		{"docker.io tag", none, "alpine:3.20", []string{"docker.io/library/alpine:3.20"}},
		{"docker.io user", none, "me/app", []string{"docker.io/me/app:latest"}},
		{"qualified", search, "127.0.0.1:5000/a/b:1", []string{"127.0.0.1:5000/a/b:1"}},
		{"localhost", search, "localhost/app", []string{"localhost/app:latest"}},
		{"digest", none, "example.com/a@" + dg, []string{"example.com/a@" + dg}},
		{"search", search, "app:2", []string{"127.0.0.1:5000/app:2", "quay.io/app:2"}},
		{"search library", search, "library/app", []string{"127.0.0.1:5000/library/app:latest", "quay.io/library/app:latest"}},
		{"alias", alias, "tool", []string{"example.com/tools/tool:latest"}},
		{"alias tag", alias, "tool:9", []string{"example.com/tools/tool:9"}},
		{"alias digest", alias, "tool@" + dg, []string{"example.com/tools/tool@" + dg}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(tc.sys, tc.ref)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Normalize(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "UPPER", "a b", " alpine", "alpine:", "a@sha256:12", "-x"} {
		if got, err := Normalize(none, bad); !errors.Is(err, ErrBadReference) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrBadReference", bad, got, err)
		}
	}
}

func TestSystemContext(t *testing.T) {
	// Nothing exists: not an error, and nothing missing is pointed at.
	missing := filepath.Join(t.TempDir(), "nope")
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	no := false
	sys, err := SystemContext(Options{ConfigDir: missing, TLSVerify: &no, Platform: "linux/arm/v7", CertDir: "/certs"})
	if err != nil {
		t.Fatalf("SystemContext with a missing ConfigDir = %v", err)
	}
	if sys.SystemRegistriesConfPath != "" || sys.AuthFilePath != "" {
		t.Errorf("SystemContext points at %q, %q; want containers/image's defaults", sys.SystemRegistriesConfPath, sys.AuthFilePath)
	}
	if sys.DockerInsecureSkipTLSVerify != types.OptionalBoolTrue || sys.DockerCertPath != "/certs" {
		t.Errorf("TLS settings = %v %q", sys.DockerInsecureSkipTLSVerify, sys.DockerCertPath)
	}
	if sys.OSChoice != "linux" || sys.ArchitectureChoice != "arm" || sys.VariantChoice != "v7" {
		t.Errorf("platform = %s/%s/%s, want linux/arm/v7", sys.OSChoice, sys.ArchitectureChoice, sys.VariantChoice)
	}
	for _, p := range []string{"linux", "linux/", "/amd64", "a/b/c/d", "linux/arm/"} {
		if _, err := SystemContext(Options{Platform: p}); err == nil {
			t.Errorf("SystemContext(Platform %q) succeeded, want an error", p)
		}
	}
}

func TestAuthFile(t *testing.T) {
	run := t.TempDir()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name, opt string
		env       map[string]string
		want      string
	}{
		{"option", "/a.json", map[string]string{"REGISTRY_AUTH_FILE": "/b.json"}, "/a.json"},
		{"env", "", map[string]string{"REGISTRY_AUTH_FILE": "/b.json", "XDG_RUNTIME_DIR": run}, "/b.json"},
		{"runtime dir: containers/image default", "", map[string]string{"XDG_RUNTIME_DIR": run, "HOME": "/h"}, ""},
		{"runtime dir missing", "", map[string]string{"XDG_RUNTIME_DIR": "/nonexistent/run", "HOME": "/h"}, "/h/.config/containers/auth.json"},
		{"no runtime dir", "", map[string]string{"XDG_CONFIG_HOME": "/c", "HOME": "/h"}, "/c/containers/auth.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := authFile(tc.opt, env(tc.env))
			if err != nil || got != tc.want {
				t.Errorf("authFile = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := authFile("", env(nil)); err == nil {
		t.Error("authFile with an empty environment succeeded, want an error")
	}
}

func TestForHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "127.0.0.1:5000": true, "127.1.2.3": true,
		"[::1]:5000": true, "docker.io": false, "10.0.0.1:5000": false, "localhost.example.com": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
		got := ForHost(&types.SystemContext{}, host).DockerInsecureSkipTLSVerify == types.OptionalBoolTrue
		if got != want {
			t.Errorf("ForHost(%q) insecure = %v, want %v", host, got, want)
		}
	}
	// An explicit --tls-verify=true wins over loopback.
	strict := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolFalse}
	if ForHost(strict, "127.0.0.1:5000").DockerInsecureSkipTLSVerify != types.OptionalBoolFalse {
		t.Error("ForHost overrode an explicit TLS verification")
	}
}

func TestPolicy(t *testing.T) {
	dir := t.TempDir()
	reject := filepath.Join(dir, "reject.json")
	if err := os.WriteFile(reject, []byte(`{"default":[{"type":"reject"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policyFrom([]string{filepath.Join(dir, "missing.json"), reject})
	if err != nil || len(pol.Default) != 1 || !reflect.DeepEqual(pol.Default[0], signature.NewPRReject()) {
		t.Errorf("policyFrom(missing, reject) = %v, %v; want the reject policy", pol, err)
	}
	pol, err = policyFrom([]string{filepath.Join(dir, "missing.json")})
	if err != nil || len(pol.Default) != 1 {
		t.Fatalf("policyFrom(missing) = %v, %v", pol, err)
	}
	if !reflect.DeepEqual(pol.Default[0], signature.NewPRInsecureAcceptAnything()) {
		t.Errorf("policyFrom(missing) default = %#v, want insecureAcceptAnything", pol.Default[0])
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := policyFrom([]string{bad}); err == nil {
		t.Error("policyFrom(bad JSON) succeeded, want an error")
	}
	got := policyPaths("/box", func(k string) string { return map[string]string{"HOME": "/h"}[k] })
	want := []string{"/box/policy.json", "/h/.config/containers/policy.json", "/etc/containers/policy.json"}
	if !slices.Equal(got, want) {
		t.Errorf("policyPaths = %q, want %q", got, want)
	}
}

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000": "127.0.0.1:5000", "https://quay.io/v2/": "quay.io",
		"http://localhost:5000": "localhost:5000", "index.docker.io": "docker.io",
	} {
		if got, err := registryHost(in); err != nil || got != want {
			t.Errorf("registryHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "https://", "a b"} {
		if _, err := registryHost(bad); !errors.Is(err, ErrBadReference) {
			t.Errorf("registryHost(%q) = %v, want ErrBadReference", bad, err)
		}
	}
}
