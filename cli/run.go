package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/boxcli/box/attach"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/network"
	"github.com/boxcli/box/portfwd"
	"github.com/boxcli/box/registry"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/security"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type runCmd struct {
	registryFlags
	limitFlags
	healthFlags
	sdnotifyFlag
	CgroupManager string            `name:"cgroup-manager" enum:",systemd,cgroupfs" default:"" help:"How to get the container's cgroup: systemd (a transient scope with Delegate=yes) or cgroupfs (a child of box's own delegated cgroup); default: systemd, else cgroupfs."`
	Cgroups       string            `name:"cgroups" enum:"enabled,disabled" default:"enabled" help:"disabled: run without a cgroup of its own (no limits, pause or stats)."`
	Pull          string            `default:"missing" enum:"missing,always,never,newer" help:"Pull the image: missing (default), always, never or newer."`
	Platform      string            `help:"Platform to pull from a multi-arch image: os/arch[/variant]."`
	Quiet         bool              `short:"q" help:"Do not report pull progress."`
	Detach        bool              `short:"d" help:"Run in the background and print the container ID; see box logs, stop, rm."`
	Interactive   bool              `short:"i" help:"Keep stdin open and attach it to the container."`
	Tty           bool              `short:"t" help:"Allocate a pseudo-terminal in the container."`
	Init          bool              `help:"Run box's small init as PID 1: it reaps zombies and forwards signals."`
	Rm            bool              `help:"Remove the container when it exits."`
	Name          string            `help:"Name the container."`
	Env           []string          `short:"e" sep:"none" help:"Set an environment variable (KEY=VALUE, or KEY to copy it from here)."`
	EnvFile       []string          `name:"env-file" sep:"none" type:"path" help:"Read environment variables from a file."`
	Workdir       string            `short:"w" help:"Working directory inside the container."`
	User          string            `short:"u" help:"User to run as: name or uid, with an optional :group or :gid."`
	Entrypoint    *string           `help:"Override the image's entrypoint (\"\" clears it)."`
	Volume        []string          `short:"v" sep:"none" help:"Bind-mount a host path: HOST:CONTAINER[:ro|rw]."`
	Mount         []string          `sep:"none" help:"Mount: type=bind,source=...,target=...[,readonly] or type=tmpfs,target=...[,tmpfs-size=...,tmpfs-mode=...]."`
	Tmpfs         []string          `sep:"none" help:"Mount a tmpfs: PATH[:OPTIONS]."`
	Hostname      string            `short:"h" help:"Container host name (default: the short container ID)."`
	ReadOnly      bool              `name:"read-only" help:"Mount the container's root filesystem read-only."`
	Userns        string            `help:"User namespace: auto (subordinate ids; the default), single (one ID) or keep-id (your uid is yours inside too)."`
	Network       string            `name:"network" aliases:"net" help:"Network: slirp4netns[:allow_host_loopback=true,mtu=N,port_handler=rootlesskit|slirp4netns] (the default), none, host, container:NAME (another container's) or ns:PATH."`
	Publish       []string          `short:"p" sep:"none" help:"Publish a port: [hostIP:][hostPort:]containerPort[/tcp|/udp]; ranges like 8000-8001:80-81; no hostPort picks a free one (see box port)."`
	PublishAll    bool              `short:"P" name:"publish-all" help:"Publish every port the image exposes on a free host port."`
	Expose        []string          `sep:"none" help:"Expose a port or range (for -P): PORT[/PROTO]."`
	DNS           []string          `name:"dns" sep:"none" help:"Name server for the container's resolv.conf."`
	DNSSearch     []string          `name:"dns-search" sep:"none" help:"Search domain for the container's resolv.conf (. for none)."`
	DNSOption     []string          `name:"dns-option" aliases:"dns-opt" sep:"none" help:"Option for the container's resolv.conf (ndots:2, ...)."`
	AddHost       []string          `name:"add-host" sep:"none" help:"Add NAME:IP to the container's /etc/hosts (IP may be host-gateway)."`
	MACAddress    string            `name:"mac-address" help:"MAC address of the container's interface (slirp4netns's tap0)."`
	Rootfs        string            `type:"path" help:"Run a directory as the root filesystem (with a throwaway overlay on top) instead of an image; / sandboxes the host itself."`
	Label         map[string]string `short:"l" help:"Set metadata on the container (KEY=VALUE)."`
	StopSignal    string            `name:"stop-signal" help:"Signal to stop the container."`
	Restart       string            `default:"no" help:"Restart policy, kept by the container's monitor: no, on-failure[:N], always, unless-stopped."`
	CIDFile       string            `name:"cidfile" type:"path" help:"Write the container ID to this file (which must not exist)."`
	DetachKeys    string            `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach from -it and leave the container running (\"\" turns detaching off)."`
	Privileged    bool              `help:"Give the container every capability of its user namespace, with no seccomp filter and no masked paths."`
	CapAdd        []string          `name:"cap-add" help:"Add Linux capabilities (NET_ADMIN or CAP_NET_ADMIN; ALL for every one)."`
	CapDrop       []string          `name:"cap-drop" help:"Drop Linux capabilities (ALL for every one)."`
	SecurityOpt   []string          `name:"security-opt" sep:"none" help:"seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false], mask=PATH[:PATH...], unmask=PATH[:PATH...]|ALL, label=disable."`
	SigProxy      bool              `name:"sig-proxy" default:"true" negatable:"" help:"Pass the signals box receives to the container (without a terminal)."`

	Image string   `arg:"" help:"Image to run (or, with --rootfs, the command)."`
	Args  []string `arg:"" optional:"" passthrough:"" help:"Command and arguments."`
}

func (c *runCmd) Run(e *env) error {
	req, maps, err := c.request(e, stage.OpRun)
	if err != nil {
		return err
	}
	records, err := container.Open(req.Dirs.Containers())
	if err != nil {
		return err
	}
	join, err := joinNetwork(records, req.Run.Config.Network)
	if err != nil {
		return err
	}
	defer closeJoin(join)
	if c.Detach {
		_, err := c.runDetached(e, req, maps, join)
		if err == nil {
			warnLinger(e)
			err = c.ready()
		}
		return withLoginHint(c.Image, err)
	}
	if c.Tty && (c.Interactive || !c.Rm) {
		// -it, and -t of a container that keeps its log: under its
		// monitor, which writes the log from the pty, attached at once.
		return withLoginHint(c.Image, c.runAttached(e, req, maps, join, records))
	}
	err = foreground(e, req, maps, join, c.Interactive, c.Tty, func() {
		if err := c.ready(); err != nil {
			e.warn(err.Error())
		}
	})
	return withLoginHint(c.Image, err)
}

// request checks the flags and builds the stage's request for op (run or
// create), with the id maps to start the stage with.
func (c *runCmd) request(e *env, op string) (stage.Request, userns.Maps, error) {
	// The config file's defaults, where no flag was given.
	if c.Userns == "" {
		c.Userns = cmp.Or(e.conf.Userns, "auto")
	}
	if c.Network == "" {
		c.Network = e.conf.Network
	}
	mode, err := userns.ParseMode(c.Userns)
	if err != nil {
		return stage.Request{}, userns.Maps{}, err
	}
	cfg, err := c.config(e.warn)
	if err != nil {
		return stage.Request{}, userns.Maps{}, err
	}
	cfg.LogMaxSize = e.conf.LogMaxBytes
	cfg.CreateCommand = append([]string{"box"}, e.args...)
	h, err := lookupHost()
	if err != nil {
		return stage.Request{}, userns.Maps{}, err
	}
	if netMode, _ := network.Parse(cfg.Network); netMode.Kind == network.Container || netMode.Kind == network.NS {
		records, err := container.Open(h.dirs.Containers())
		if err != nil {
			return stage.Request{}, userns.Maps{}, err
		}
		if cfg.Network, err = resolveNetworkTarget(records, netMode); err != nil {
			return stage.Request{}, userns.Maps{}, err
		}
	}
	maps, err := e.maps(h, mode)
	if err != nil {
		return stage.Request{}, userns.Maps{}, err
	}
	req := e.request(h, op)
	req.Run = &stage.RunRequest{
		Config:          cfg,
		ArgsGiven:       len(cfg.Cmd) > 0,
		EntrypointGiven: c.Entrypoint != nil,
		Console:         c.Tty,
		Pull:            &stage.PullRequest{Policy: c.Pull, Quiet: c.Quiet, Registry: c.options(h, c.Platform)},
		CIDFile:         c.CIDFile,
	}
	return req, maps, nil
}

// foreground runs a stage that keeps a container in the foreground (run
// without -d): it relays the terminal or stdin, forwards signals and
// returns the container's status as an error (*stage.ExitError).
func foreground(e *env, req stage.Request, maps userns.Maps, join *stage.Join, interactive, tty bool, started func()) error {
	opt := stage.Options{Maps: maps, Join: join, Cgroup: cgroupFor(req.Run.Config), Stdout: e.stdout, Stderr: e.stderr, Started: started}
	if interactive && !tty {
		opt.Stdin = e.stdin
	}
	var t *terminal
	if tty {
		var err error
		if t, err = newTerminal(e, interactive); err != nil {
			return err
		}
		defer t.close()
		req.Run.Size = t.size()
		opt.Console = t.remote
	}
	// Forward before the stage exists so none is lost in between; Docker's
	// users expect SIGTERM and friends to reach the command.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals()...)
	defer signal.Stop(sigs)

	s, err := stage.Start(req, opt)
	if err != nil {
		return err
	}
	if t != nil {
		t.start()
	}
	done := relaySignals(sigs, t, func(sig os.Signal) { _ = s.Signal(sig) })
	_, err = s.Wait(e.warn)
	close(done)
	if t != nil {
		t.drain()
	}
	return err
}

// runDetached hands the container to the stage, which stays on as its
// monitor, and prints the ID as soon as the container runs.
func (c *runCmd) runDetached(e *env, req stage.Request, maps userns.Maps, join *stage.Join) (string, error) {
	req.Run.Detach, req.Run.Console = true, false
	// The stage's own stderr is only for a crash before it can answer: it
	// outlives this command. Pull progress comes as replies.
	req.ProgressReplies = true
	if f, ok := e.stderr.(*os.File); ok {
		req.ProgressTerminal = term.IsTerminal(int(f.Fd()))
	}
	s, err := stage.Start(req, stage.Options{Maps: maps, Join: join, Cgroup: cgroupFor(req.Run.Config), Detach: true, Progress: e.stderr})
	if err != nil {
		return "", err
	}
	raw, err := s.Wait(e.warn)
	if err != nil {
		return "", err
	}
	var res stage.RunResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", fmt.Errorf("read the container ID: %w", err)
	}
	if !req.Run.AttachSoon {
		fmt.Fprintln(e.stdout, res.ID)
	}
	return res.ID, nil
}

// runAttached is run -it: the container runs under its monitor and the
// terminal attaches to it, so that, as with Docker, ctrl-p ctrl-q leaves
// it running in the background. And run -t without -i, unless --rm: the
// monitor keeps its log (only it sees the pty), and the signals box gets
// go to the container as they did when the CLI relayed the pty itself.
func (c *runCmd) runAttached(e *env, req stage.Request, maps userns.Maps, join *stage.Join, records *container.Store) error {
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
		return err
	}
	req.Run.AttachSoon, req.Run.Size = true, terminalSize(e)
	id, err := c.runDetached(e, req, maps, join)
	if err != nil {
		return err
	}
	ct, err := records.Get(id)
	if err != nil {
		return err
	}
	if err := c.ready(); err != nil {
		e.warn(err.Error())
	}
	return attachTo(e, req.Dirs, records, ct, attachOptions{stdin: true, keys: keys, sigProxy: c.SigProxy, ttySignals: !c.Interactive})
}

// relaySignals passes signals to send until done is closed; SIGWINCH
// resizes the container's pty instead when there is one.
func relaySignals(sigs <-chan os.Signal, t *terminal, send func(os.Signal)) (done chan struct{}) {
	done = make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == syscall.SIGWINCH && t != nil {
					t.resize()
					continue
				}
				send(sig)
			case <-done:
				return
			}
		}
	}()
	return done
}

func forwardedSignals() []os.Signal {
	return []os.Signal{
		syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH,
	}
}

// config turns the flags into the container's record, with every path and
// value checked here so bad input fails before any namespace exists.
func (c *runCmd) config(warn func(string)) (container.Config, error) {
	cfg := container.Config{
		Name:        c.Name,
		Image:       c.Image,
		Rootfs:      c.Rootfs,
		WorkingDir:  c.Workdir,
		User:        c.User,
		Hostname:    c.Hostname,
		Tty:         c.Tty,
		Interactive: c.Interactive,
		StdinOnce:   c.Interactive && !c.Detach,
		Init:        c.Init,
		ReadOnly:    c.ReadOnly,
		AutoRemove:  c.Rm,
		Network:     c.Network,
		UserNS:      c.Userns,
		StopSignal:  c.StopSignal,
		Restart:     c.Restart,
		Labels:      c.Label,
		Cmd:         c.Args,
	}
	if c.Rootfs != "" {
		// No image: the first positional is the command.
		cfg.Image = ""
		cfg.Cmd = append([]string{c.Image}, c.Args...)
	}
	if c.Entrypoint != nil {
		cfg.Entrypoint = nil
		if *c.Entrypoint != "" {
			cfg.Entrypoint = []string{*c.Entrypoint}
		}
	}
	if c.Name != "" {
		if err := container.CheckName(c.Name); err != nil {
			return cfg, err
		}
	}
	if _, err := stage.ParseRestart(c.Restart); err != nil {
		return cfg, err
	}
	if err := c.checkSdNotify(); err != nil {
		return cfg, err
	}
	hc, onFailure, err := c.healthcheck(c.Restart)
	if err != nil {
		return cfg, err
	}
	cfg.Healthcheck, cfg.HealthOnFailure = hc, onFailure
	if c.StopSignal != "" {
		if _, err := container.ParseSignal(c.StopSignal); err != nil {
			return cfg, fmt.Errorf("--stop-signal: %w", err)
		}
	}
	if c.Platform != "" {
		// Checked here too: with the image already stored, no pull would.
		if _, err := registry.SystemContext(registry.Options{Platform: c.Platform}); err != nil {
			return cfg, err
		}
	}
	if c.Rootfs != "" {
		if fi, err := os.Stat(c.Rootfs); err != nil || !fi.IsDir() {
			return cfg, fmt.Errorf("--rootfs %s: not a directory; give the root of an unpacked file system (or / for the host's own)", c.Rootfs)
		}
	}
	if c.Restart != "no" && c.Restart != "" && c.Rm {
		return cfg, fmt.Errorf("--restart and --rm cannot be used together: a removed container cannot restart")
	}
	if c.CIDFile != "" {
		if _, err := os.Stat(c.CIDFile); err == nil {
			return cfg, fmt.Errorf("the --cidfile %s already exists: remove it or choose another", c.CIDFile)
		}
	}
	if err := c.networkConfig(&cfg, warn); err != nil {
		return cfg, err
	}
	sec, err := security.Parse(c.Privileged, c.CapAdd, c.CapDrop, c.SecurityOpt, os.ReadFile)
	if err != nil {
		return cfg, err
	}
	cfg.Security = sec
	limits, err := c.limits()
	if err != nil {
		return cfg, err
	}
	cfg.Limits = limits
	cfg.CgroupManager, cfg.Cgroups = c.CgroupManager, c.Cgroups
	if c.Cgroups == "disabled" {
		if files, _ := cfg.Limits.Files(); len(files) > 0 {
			return cfg, fmt.Errorf("resource limits need a cgroup: leave out --cgroups=disabled")
		}
	}
	if c.Workdir != "" && c.Workdir[0] != '/' {
		return cfg, fmt.Errorf("the working directory %q is not an absolute path", c.Workdir)
	}
	if cfg.Env, err = buildEnv(c.EnvFile, c.Env, osLookupEnv); err != nil {
		return cfg, err
	}
	for _, v := range c.Volume {
		m, err := parseVolume(v)
		if err != nil {
			return cfg, err
		}
		cfg.Mounts = append(cfg.Mounts, m)
	}
	for _, v := range c.Mount {
		m, err := parseMount(v)
		if err != nil {
			return cfg, err
		}
		cfg.Mounts = append(cfg.Mounts, m)
	}
	for _, v := range c.Tmpfs {
		m, err := parseTmpfs(v)
		if err != nil {
			return cfg, err
		}
		cfg.Mounts = append(cfg.Mounts, m)
	}
	for _, m := range cfg.Mounts {
		if m.Type == "bind" {
			if _, err := os.Stat(m.Source); err != nil {
				return cfg, fmt.Errorf("bind source path %s does not exist: create it or fix the -v/--mount option", m.Source)
			}
		}
	}
	return cfg, nil
}

// networkConfig checks the network flags into cfg.
func (c *runCmd) networkConfig(cfg *container.Config, warn func(string)) error {
	mode, err := network.Parse(c.Network)
	if err != nil {
		return err
	}
	for _, p := range c.Publish {
		specs, err := portfwd.Parse(p)
		if err != nil {
			return err
		}
		for _, s := range specs {
			cfg.Ports = append(cfg.Ports, container.Port(s))
		}
	}
	for _, x := range c.Expose {
		if _, err := portfwd.ParseExposed(x); err != nil {
			return fmt.Errorf("invalid --expose: %w", err)
		}
		if !strings.Contains(x, "/") {
			x += "/tcp"
		}
		cfg.ExposedPorts = append(cfg.ExposedPorts, x)
	}
	cfg.PublishAll = c.PublishAll
	for _, d := range c.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return fmt.Errorf("invalid --dns %q: not an IP address", d)
		}
	}
	for _, h := range c.AddHost {
		if _, err := network.ParseAddHost(h); err != nil {
			return err
		}
	}
	cfg.DNS, cfg.DNSSearch, cfg.DNSOptions, cfg.ExtraHosts = c.DNS, c.DNSSearch, c.DNSOption, c.AddHost
	if c.MACAddress != "" {
		if _, err := net.ParseMAC(c.MACAddress); err != nil {
			return fmt.Errorf("invalid --mac-address %q: want six hex bytes like 02:42:ac:11:00:02", c.MACAddress)
		}
		if mode.Kind != network.Slirp {
			return fmt.Errorf("--mac-address needs an interface of the container's own: use it with --network slirp4netns")
		}
		cfg.MACAddress = c.MACAddress
	}
	publishing := len(cfg.Ports) > 0 || c.PublishAll
	switch {
	case mode.Kind == network.Slirp:
		if _, err := exec.LookPath(netslirp.Binary); err != nil {
			if publishing || c.Network != "" {
				return fmt.Errorf("%w: install the slirp4netns package for a network of the container's own", errNoSlirp)
			}
			// Still a container, only without a way out.
			warn("slirp4netns is not installed: the container gets no network (--network none); install the slirp4netns package for one")
			cfg.Network = string(network.None)
			return nil
		}
		cfg.Network = string(network.Slirp)
		if c.Network != "" && c.Network != "bridge" && c.Network != "default" && c.Network != "private" {
			cfg.Network = c.Network
		}
	case publishing && mode.Kind == network.None:
		return fmt.Errorf("cannot publish ports with --network none: the container has no network to reach them")
	case publishing && (mode.Kind == network.Container || mode.Kind == network.NS):
		return fmt.Errorf("cannot publish ports with --network %s: publish them where the network comes from", c.Network)
	case publishing && mode.Kind == network.Host:
		warn("published ports are discarded with --network host: the container's ports are the host's")
		cfg.Ports, cfg.PublishAll = nil, false
		cfg.Network = c.Network
	default:
		cfg.Network = c.Network
	}
	return nil
}

// errNoSlirp: the container needs slirp4netns, which is missing.
var errNoSlirp = errors.New("slirp4netns is not installed")

func osLookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

// terminal relays the user's terminal to the pty the container made in
// its own devpts.
type terminal struct {
	e             *env
	local, remote *os.File
	master        chan *os.File
	pty           atomic.Pointer[os.File] // set once the container sends it
	restore       func()
	interactive   bool
	out           chan struct{}
	in            *os.File
}

func newTerminal(e *env, interactive bool) (*terminal, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	t := &terminal{
		e:           e,
		local:       os.NewFile(uintptr(fds[0]), "console"),
		remote:      os.NewFile(uintptr(fds[1]), "console-remote"),
		master:      make(chan *os.File, 1),
		restore:     func() {},
		interactive: interactive,
		out:         make(chan struct{}),
	}
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.in = f
	}
	return t, nil
}

func (t *terminal) size() sandbox.TermSize { return terminalSize(t.e) }

// terminalSize is the size of the user's terminal (on stdout, or else
// stdin); zero when neither is one.
func terminalSize(e *env) sandbox.TermSize {
	for _, s := range []any{e.stdout, e.stdin} {
		if f, ok := s.(*os.File); ok {
			if cols, rows, err := term.GetSize(int(f.Fd())); err == nil {
				return sandbox.TermSize{Rows: uint16(rows), Cols: uint16(cols)}
			}
		}
	}
	return sandbox.TermSize{}
}

// start receives the pty master (the container sends it before its
// command starts, or closes the socket by failing) and relays it.
func (t *terminal) start() {
	t.remote.Close() // the stage has its copy
	m, err := sandbox.ReceiveConsole(t.local)
	t.local.Close()
	if err != nil {
		close(t.out) // the stage reports why the container did not start
		return
	}
	t.pty.Store(m)
	if t.in != nil {
		t.restore = localTerminalMode(int(t.in.Fd()), t.interactive)
	}
	if t.interactive {
		go func() { _, _ = io.Copy(m, t.e.stdin) }()
	}
	go func() {
		defer close(t.out)
		// EIO when the last holder of the slave has gone: that is the end.
		_, _ = io.Copy(t.e.stdout, m)
	}()
}

// localTerminalMode sets the user's terminal for relaying a container's
// pty and returns how to restore it. Interactive: raw, every key goes to
// the container. Output only: just no output processing, since the
// container's pty already turned \n into \r\n; Ctrl-C then still signals
// box, which forwards it.
func localTerminalMode(fd int, interactive bool) func() {
	if interactive {
		st, err := term.MakeRaw(fd)
		if err != nil {
			return func() {}
		}
		return func() { _ = term.Restore(fd, st) }
	}
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	saved := *tio
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return func() {}
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, &saved) }
}

func (t *terminal) resize() {
	pty := t.pty.Load()
	if pty == nil {
		return
	}
	s := t.size()
	if s.Rows > 0 {
		_ = unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: s.Rows, Col: s.Cols})
	}
}

// drain waits for the container's last output after it exited.
func (t *terminal) drain() {
	select {
	case <-t.out:
	case <-time.After(2 * time.Second):
	}
}

func (t *terminal) close() {
	t.restore()
	if pty := t.pty.Load(); pty != nil {
		pty.Close()
	}
}
