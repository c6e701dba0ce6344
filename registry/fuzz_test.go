package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"
)

// fuzzSys is a SystemContext reading only conf from a temporary box
// configuration directory, with the short-name alias cache there too, so
// that nothing of the host's (or the user's) configuration is read. It
// names no registry to contact: Normalize only parses and looks things up
// in these files.
func fuzzSys(f *testing.F, conf string) *types.SystemContext {
	f.Helper()
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), []byte(conf), 0o600); err != nil {
		f.Fatal(err)
	}
	sys, err := SystemContext(Options{ConfigDir: dir, AuthFile: filepath.Join(dir, "auth.json")})
	if err != nil {
		f.Fatal(err)
	}
	sys.UserShortNameAliasConfPath = filepath.Join(dir, "short-name-aliases.conf")
	return sys
}

// badChars says whether s holds whitespace, a control character or
// invalid UTF-8, none of which belongs in an image reference.
func badChars(s string) bool {
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsSpace(r) || unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// FuzzNormalize checks Normalize and Host on anything the user may type as
// an image: no panic; errors on one line; every reference it returns is
// fully qualified (it parses with ParseNormalizedNamed into itself, its
// registry has a dot or a port or is localhost), tagged or digested as the
// user's was, free of blanks and control characters, and normalizes to
// itself; Host agrees with it.
func FuzzNormalize(f *testing.F) {
	const dg = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	for _, s := range []string{
		"alpine", "alpine:3.20", "me/app", "library/app", "tool", "tool:9", "tool@" + dg,
		"127.0.0.1:5000/a/b:1", "localhost/app", "localhost:5000/app@" + dg, "[::1]:5000/a:b",
		"example.com/a@" + dg, "example.com/a:t@" + dg, "docker.io/library/alpine:latest",
		"index.docker.io/alpine", "quay.io/a/b/c/d:e",
		// Bad ones.
		"", " ", "UPPER", "a b", " alpine", "alpine ", "alpine\n", "alpine:", "a@sha256:12", "-x",
		"a:b:c", "a//b", "a/", "/a", "Example.com/a", "example.com:/a", "a@", "@sha256:" + dg[7:],
		"0123456789012345678901234567890123456789012345678901234567890123",
		"example.com/a:" + strings.Repeat("t", 129), strings.Repeat("a/", 200) + "a",
		"localhost", "docker.io", "a\x00b", "a\tb", "é", "a:\u00a0",
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	systems := []*types.SystemContext{
		fuzzSys(f, ""),
		fuzzSys(f, `unqualified-search-registries = ["127.0.0.1:5000", "quay.io", "localhost"]`+"\n"),
		fuzzSys(f, "unqualified-search-registries = [\"quay.io\"]\n[aliases]\n\"tool\" = \"example.com/tools/tool\"\n\"me/app\" = \"localhost:5000/me/app\"\n"),
	}
	f.Fuzz(func(t *testing.T, ref string, which uint8) {
		sys := systems[int(which)%len(systems)]
		if host, err := Host(ref); err != nil {
			if !errors.Is(err, ErrBadReference) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Host(%q) error %q: not ErrBadReference on one line", ref, err)
			}
		} else if host == "" || badChars(host) || strings.Contains(host, "/") {
			t.Fatalf("Host(%q) = %q", ref, host)
		}

		got, err := Normalize(sys, ref)
		if err != nil {
			if got != nil {
				t.Fatalf("Normalize(%q) = %q with error %v", ref, got, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("Normalize(%q) error %q spans lines", ref, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("Normalize(%q) returned nothing and no error", ref)
		}
		user, err := reference.Parse(ref)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q, but the reference does not parse: %v", ref, got, err)
		}
		for _, full := range got {
			if badChars(full) {
				t.Fatalf("Normalize(%q) = %q: blank or control character", ref, full)
			}
			named, err := reference.ParseNormalizedNamed(full)
			if err != nil {
				t.Fatalf("Normalize(%q) = %q, which does not parse: %v", ref, full, err)
			}
			if s := reference.TagNameOnly(named).String(); s != full {
				t.Fatalf("Normalize(%q) = %q, not in canonical form (%q)", ref, full, s)
			}
			domain := reference.Domain(named)
			if !strings.ContainsAny(domain, ".:") && domain != "localhost" {
				t.Fatalf("Normalize(%q) = %q: registry %q is not qualified", ref, full, domain)
			}
			if host, err := Host(full); err != nil || host != domain {
				t.Fatalf("Host(%q) = %q, %v; want %q", full, host, err, domain)
			}
			if tg, ok := user.(reference.Tagged); ok {
				if nt, ok := named.(reference.Tagged); !ok || nt.Tag() != tg.Tag() {
					t.Fatalf("Normalize(%q) = %q: lost the tag %q", ref, full, tg.Tag())
				}
			}
			if dg, ok := user.(reference.Digested); ok {
				if nd, ok := named.(reference.Digested); !ok || nd.Digest() != dg.Digest() {
					t.Fatalf("Normalize(%q) = %q: lost the digest %s", ref, full, dg.Digest())
				}
			}
			if again, err := Normalize(sys, full); err != nil || len(again) != 1 || again[0] != full {
				t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", ref, got, full, again, err)
			}
		}
	})
}
