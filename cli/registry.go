package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/boxcli/box/image"
	"github.com/boxcli/box/registry"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

// registryFlags are the flags of every command that talks to registries.
type registryFlags struct {
	TLSVerify *bool  `name:"tls-verify" negatable:"" help:"Require verified HTTPS (default: yes, except for registries on localhost and 127.0.0.0/8)."`
	CertDir   string `name:"cert-dir" type:"path" help:"Directory of CA certificates (*.crt) and client certificates for registries."`
	AuthFile  string `name:"authfile" type:"path" env:"REGISTRY_AUTH_FILE" help:"Credentials file (default: podman's auth.json)."`
}

func (f registryFlags) options(h *host, platform string) registry.Options {
	return registry.Options{
		ConfigDir: h.dirs.Config,
		AuthFile:  f.AuthFile,
		TLSVerify: f.TLSVerify,
		CertDir:   f.CertDir,
		Platform:  platform,
	}
}

// needsLogin says which registry wants credentials, and how to give them.
type needsLogin struct {
	host string
	err  error
}

func (n *needsLogin) Error() string {
	return fmt.Sprintf("%s needs a login: box login %s (%v)", n.host, n.host, n.err)
}
func (n *needsLogin) Unwrap() error { return n.err }

// withLoginHint names the registry of ref in an authorization failure.
func withLoginHint(ref string, err error) error {
	if !errors.Is(err, registry.ErrUnauthorized) {
		return err
	}
	host, herr := registry.Host(ref)
	if herr != nil {
		return err
	}
	return &needsLogin{host: host, err: err}
}

type pullCmd struct {
	registryFlags
	Quiet    bool   `short:"q" help:"Print only the image ID."`
	Platform string `help:"Platform to pull from a multi-arch image: os/arch[/variant]."`
	Image    string `arg:"" help:"Image reference: name[:tag] or name@digest; short names follow registries.conf (default docker.io)."`
}

func (c *pullCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpPull)
	req.Pull = &stage.PullRequest{Ref: c.Image, Policy: image.PullAlways, Quiet: c.Quiet, Registry: c.options(h, c.Platform)}
	var id string
	if err := e.do(req, userns.Auto, h, &id); err != nil {
		return withLoginHint(c.Image, err)
	}
	fmt.Fprintln(e.stdout, id)
	return nil
}

type pushCmd struct {
	registryFlags
	Quiet bool   `short:"q" help:"Print nothing but errors."`
	Image string `arg:"" help:"Image to push."`
	Dest  string `arg:"" optional:"" help:"Destination reference (default: the image's name)."`
}

func (c *pushCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpPush)
	req.Pull = &stage.PullRequest{Ref: c.Image, Dest: c.Dest, Quiet: c.Quiet, Registry: c.options(h, "")}
	if err := e.do(req, userns.Auto, h, nil); err != nil {
		dest := c.Dest
		if dest == "" {
			dest = c.Image
		}
		return withLoginHint(dest, err)
	}
	return nil
}

type loginCmd struct {
	registryFlags
	Username      string `short:"u" help:"User name."`
	Password      string `short:"p" help:"Password (prefer --password-stdin)."`
	PasswordStdin bool   `name:"password-stdin" help:"Read the password from stdin."`
	Registry      string `arg:"" help:"Registry host, e.g. 127.0.0.1:5000."`
}

// Run logs in without any namespace: only the auth file changes.
func (c *loginCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	sys, err := registry.SystemContext(c.options(h, ""))
	if err != nil {
		return err
	}
	user, pass := c.Username, c.Password
	in := bufio.NewReader(e.stdin)
	if c.PasswordStdin {
		if c.Password != "" {
			return fmt.Errorf("--password and --password-stdin are mutually exclusive")
		}
		b, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if user == "" {
		if c.PasswordStdin || !isTerminalReader(e.stdin) {
			return fmt.Errorf("no user name: give one with -u")
		}
		fmt.Fprint(e.stderr, "Username: ")
		line, _ := in.ReadString('\n')
		user = strings.TrimSpace(line)
	}
	if pass == "" {
		f, ok := stdinFile(e.stdin)
		if !ok {
			return fmt.Errorf("no password: use --password-stdin or -p")
		}
		fmt.Fprint(e.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		pass = string(b)
	}
	if err := registry.Login(context.Background(), sys, c.Registry, user, pass); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "Login Succeeded!")
	return nil
}

type logoutCmd struct {
	AuthFile string `name:"authfile" type:"path" env:"REGISTRY_AUTH_FILE" help:"Credentials file (default: podman's auth.json)."`
	Registry string `arg:"" help:"Registry host."`
}

func (c *logoutCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	sys, err := registry.SystemContext(registry.Options{ConfigDir: h.dirs.Config, AuthFile: c.AuthFile})
	if err != nil {
		return err
	}
	// containers/image writes the auth file (and its directory) even when
	// there was nothing to remove: a refused logout must leave neither.
	auth := sys.AuthFilePath
	if auth == "" {
		auth = filepath.Join(osEnv("XDG_RUNTIME_DIR"), "containers", "auth.json")
	}
	undo := unlessCreated(auth)
	if err := registry.Logout(sys, c.Registry); err != nil {
		undo()
		return err
	}
	fmt.Fprintf(e.stdout, "Removed login credentials for %s\n", c.Registry)
	return nil
}

// unlessCreated returns a function that removes the auth file, and the
// directory that holds it, if they do not exist now and are then created
// holding no credentials.
func unlessCreated(auth string) func() {
	dir := filepath.Dir(auth)
	_, ferr := os.Lstat(auth)
	_, derr := os.Lstat(dir)
	if ferr == nil {
		return func() {}
	}
	return func() {
		data, err := os.ReadFile(auth)
		if err != nil {
			return
		}
		var f map[string]json.RawMessage
		if json.Unmarshal(data, &f) != nil || len(f) > 1 {
			return
		}
		if a, ok := f["auths"]; len(f) == 1 && (!ok || strings.TrimSpace(string(a)) != "{}") {
			return
		}
		_ = os.Remove(auth)
		if derr != nil {
			_ = os.Remove(dir) // only if empty
		}
	}
}
