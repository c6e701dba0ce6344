package registrytest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want int // status of an anonymous GET /v2/
	}{
		{"plain", Options{}, http.StatusOK},
		{"tls", Options{TLS: true}, http.StatusOK},
		{"auth", Options{User: "u", Password: "p"}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Start(t, tc.opts)
			if !strings.HasPrefix(r.Addr, "127.0.0.1:") {
				t.Errorf("Addr = %q, want 127.0.0.1:PORT", r.Addr)
			}
			resp, err := r.Client().Get(r.URL() + "/v2/")
			if err != nil {
				t.Fatalf("GET /v2/: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("GET /v2/ = %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.opts.User != "" {
				req, _ := http.NewRequest("GET", r.URL()+"/v2/", nil)
				req.SetBasicAuth(tc.opts.User, tc.opts.Password)
				resp, err := r.Client().Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("GET /v2/ with credentials = %v, %v; want 200", resp, err)
				}
			}
		})
	}
}

func TestBlobGets(t *testing.T) {
	r := Start(t, Options{})
	const d = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	resp, err := r.Client().Get(r.URL() + "/v2/x/blobs/" + d)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// A failed GET (404) is not a download.
	n, err := r.BlobGets()
	if err != nil || n[d] != 0 {
		t.Errorf("BlobGets() after a 404 = %v, %v; want no count", n, err)
	}
	log := filepath.Join(t.TempDir(), "log")
	line := `127.0.0.1 - - [23/Nov/2026:10:42:09 +0000] "GET /v2/x/y/blobs/` + d + ` HTTP/1.1" 200 157 "" "curl/7.88.1"` + "\n"
	head := strings.Replace(line, "GET", "HEAD", 1)
	if err := os.WriteFile(log, []byte(line+head+line), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := parseBlobGets(f); err != nil || n[d] != 2 || len(n) != 1 {
		t.Errorf("parseBlobGets = %v, %v; want %s: 2", n, err, d)
	}
}
