// Package registrytest runs Debian's docker-registry (the CNCF
// distribution registry, /usr/bin/docker-registry) on 127.0.0.1 for tests,
// as httptest runs an HTTP server: filesystem storage in a temporary
// directory, optional htpasswd auth and optional TLS with a certificate made
// on the spot. It never listens anywhere but loopback.
//
// It is for tests only. Tests that must not depend on the host's registry
// binary should use go-containerregistry's in-process pkg/registry instead;
// this package exists because box must work against the registry people run.
package registrytest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary is where Debian's docker-registry package installs the registry.
const Binary = "/usr/bin/docker-registry"

// Options choose how the registry is set up.
type Options struct {
	// User and Password, when User is set, protect the registry with
	// htpasswd basic auth.
	User, Password string
	// TLS serves https with a self-signed certificate for 127.0.0.1 and
	// localhost; Registry.CertDir then holds its ca.crt.
	TLS bool
}

// Registry is a running registry.
type Registry struct {
	Addr    string // "127.0.0.1:PORT"
	CertDir string // with Options.TLS: a directory holding ca.crt, for --cert-dir
	User    string
	Pass    string

	dir string
	log string
	cmd *exec.Cmd
	// exited is closed once the process has been waited for.
	exited chan struct{}
	err    error
}

// Start runs a registry for the duration of the test, or skips the test
// when docker-registry is not installed.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("needs %s (Debian package docker-registry): %v", Binary, err)
	}
	r, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("stop registry: %v", err)
		}
	})
	return r
}

// New starts a registry whose files (config, storage, log, certificate)
// live in dir, and waits until it answers. Close stops it.
func New(dir string, opts Options) (*Registry, error) {
	r := &Registry{dir: dir, log: filepath.Join(dir, "registry.log"), User: opts.User, Pass: opts.Password}
	if opts.TLS {
		r.CertDir = filepath.Join(dir, "certs")
		if err := writeCert(r.CertDir); err != nil {
			return nil, fmt.Errorf("make certificate: %w", err)
		}
	}
	// An empty registries.conf for the SystemContext Push uses.
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), nil, 0o600); err != nil {
		return nil, err
	}
	htpasswd := ""
	if opts.User != "" {
		htpasswd = filepath.Join(dir, "htpasswd")
		if err := writeHtpasswd(htpasswd, opts.User, opts.Password); err != nil {
			return nil, err
		}
	}
	// The registry cannot be handed a listening socket, so a free port is
	// picked and released first; another process may grab it meanwhile,
	// hence the retries.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		conf := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(conf, []byte(config(dir, r.Addr, htpasswd, r.CertDir)), 0o600); err != nil {
			return nil, err
		}
		if lastErr = r.run(conf); lastErr == nil {
			return r, nil
		}
	}
	return nil, lastErr
}

func (r *Registry) run(conf string) error {
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(Binary, "serve", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The registry reads REGISTRY_* variables as configuration overrides;
	// podman's REGISTRY_AUTH_FILE would become auth.file and kill it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// Dies with the test process even if Close is never reached.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", Binary, err)
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func() { r.err = cmd.Wait(); close(r.exited) }()
	if err := r.waitReady(30 * time.Second); err != nil {
		r.Close()
		out, _ := os.ReadFile(r.log)
		return fmt.Errorf("%w\nregistry log:\n%s", err, out)
	}
	return nil
}

// waitReady polls /v2/ until the registry answers: 200, or 401 when auth
// is on.
func (r *Registry) waitReady(limit time.Duration) error {
	client := r.Client()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			return fmt.Errorf("registry on %s exited: %v", r.Addr, r.err)
		default:
		}
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("registry on %s did not answer /v2/ within %v", r.Addr, limit)
}

// Close stops the registry.
func (r *Registry) Close() error {
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	select {
	case <-r.exited:
		return nil
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
	return nil
}

// URL is the registry's base URL, http or https.
func (r *Registry) URL() string {
	if r.CertDir != "" {
		return "https://" + r.Addr
	}
	return "http://" + r.Addr
}

// Ref names repo ("test/hello:v1") in this registry.
func (r *Registry) Ref(repo string) string { return r.Addr + "/" + repo }

// Client is an HTTP client that trusts the registry's certificate and
// reaches nothing but it.
func (r *Registry) Client() *http.Client {
	tr := &http.Transport{Proxy: nil}
	if r.CertDir != "" {
		pool, err := certPool(r.CertDir)
		if err == nil {
			tr.TLSClientConfig = tlsConfig(pool)
		}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Log returns what the registry has logged so far.
func (r *Registry) Log() (string, error) {
	b, err := os.ReadFile(r.log)
	return string(b), err
}

// accessLine matches the registry's access log lines, one per request:
// 127.0.0.1 - - [date] "GET /v2/test/hello/blobs/sha256:... HTTP/1.1" 200 1234 "" "agent"
var accessLine = regexp.MustCompile(`"GET /v2/(\S+)/blobs/(sha256:[0-9a-f]{64}) HTTP/[0-9.]+" (\d{3}) `)

// BlobGets counts the successful blob downloads (GET, not HEAD) the
// registry has served so far, by digest.
func (r *Registry) BlobGets() (map[string]int, error) {
	f, err := os.Open(r.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseBlobGets(f)
}

func parseBlobGets(f *os.File) (map[string]int, error) {
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := accessLine.FindStringSubmatch(sc.Text())
		if m == nil || !strings.HasPrefix(m[3], "2") {
			continue
		}
		counts[m[2]]++
	}
	return counts, sc.Err()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// config is the registry's configuration. Requests are logged at info
// level: the access log is what BlobGets reads.
func config(dir, addr, htpasswd, certDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: box-registrytest
`, filepath.Join(dir, "storage"), addr)
	if certDir != "" {
		fmt.Fprintf(&b, "  tls:\n    certificate: %s\n    key: %s\n", filepath.Join(certDir, "ca.crt"), filepath.Join(dir, "tls.key"))
	}
	if htpasswd != "" {
		// Debian's registry refuses htpasswd auth without a realm.
		fmt.Fprintf(&b, "auth:\n  htpasswd:\n    realm: box-registrytest\n    path: %s\n", htpasswd)
	}
	return b.String()
}

// errNotRunning is returned by Wait when the registry was never started.
var errNotRunning = errors.New("registry not running")

// Wait blocks until the registry exits or ctx ends.
func (r *Registry) Wait(ctx context.Context) error {
	if r.exited == nil {
		return errNotRunning
	}
	select {
	case <-r.exited:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
