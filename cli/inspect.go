package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/health"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/netslirp"
	"github.com/boxcli/box/network"
	"github.com/boxcli/box/security"
	"github.com/boxcli/box/stage"
)

// containerJSON is `docker container inspect`'s shape, with Docker's names.
type containerJSON struct {
	ID             string         `json:"Id"`
	Created        string         `json:"Created"`
	Path           string         `json:"Path"`
	Args           []string       `json:"Args"`
	State          stateJSON      `json:"State"`
	Image          string         `json:"Image"`
	ResolvConfPath string         `json:"ResolvConfPath"`
	HostnamePath   string         `json:"HostnamePath"`
	HostsPath      string         `json:"HostsPath"`
	LogPath        string         `json:"LogPath"`
	Name           string         `json:"Name"`
	RestartCount   int            `json:"RestartCount"`
	Driver         string         `json:"Driver"`
	Platform       string         `json:"Platform"`
	HostConfig     hostConfigJSON `json:"HostConfig"`
	// Podman's: the capabilities the command starts with (none for a
	// non-root user) and those it may ever have.
	EffectiveCaps   []string          `json:"EffectiveCaps"`
	BoundingCaps    []string          `json:"BoundingCaps"`
	Mounts          []mountJSON       `json:"Mounts"`
	Config          configJSON        `json:"Config"`
	NetworkSettings map[string]any    `json:"NetworkSettings"`
	Labels          map[string]string `json:"-"`
}

type stateJSON struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Restarting bool   `json:"Restarting"`
	OOMKilled  bool   `json:"OOMKilled"`
	Dead       bool   `json:"Dead"`
	// Pid is the container's PID 1 as the host numbers it, as in Docker;
	// ConmonPid the process that keeps it (box's monitor), as in Podman.
	Pid        int    `json:"Pid"`
	ConmonPid  int    `json:"ConmonPid"`
	ExitCode   int    `json:"ExitCode"`
	Error      string `json:"Error"`
	StartedAt  string `json:"StartedAt"`
	FinishedAt string `json:"FinishedAt"`
	// CgroupPath is Podman's: the cgroup of the container's processes below
	// the hierarchy's root, "" when it runs without one.
	CgroupPath string `json:"CgroupPath"`
	// Health is there for a container with a healthcheck, as in Docker.
	Health *health.State `json:"Health,omitempty"`
}

type hostConfigJSON struct {
	Binds          []string `json:"Binds"`
	NetworkMode    string   `json:"NetworkMode"`
	AutoRemove     bool     `json:"AutoRemove"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
	Init           bool     `json:"Init"`
	UsernsMode     string   `json:"UsernsMode"`
	RestartPolicy  struct {
		Name              string `json:"Name"`
		MaximumRetryCount int    `json:"MaximumRetryCount"`
	} `json:"RestartPolicy"`
	PortBindings    map[string][]portBindingJSON `json:"PortBindings"`
	PublishAllPorts bool                         `json:"PublishAllPorts"`
	Dns             []string                     `json:"Dns"`
	DnsSearch       []string                     `json:"DnsSearch"`
	DnsOptions      []string                     `json:"DnsOptions"`
	ExtraHosts      []string                     `json:"ExtraHosts"`
	Privileged      bool                         `json:"Privileged"`
	CapAdd          []string                     `json:"CapAdd"`
	CapDrop         []string                     `json:"CapDrop"`
	SecurityOpt     []string                     `json:"SecurityOpt"`
	MaskedPaths     []string                     `json:"MaskedPaths"`
	ReadonlyPaths   []string                     `json:"ReadonlyPaths"`
	// Resources, in Docker's names and units (0: not limited).
	Memory            int64  `json:"Memory"`
	MemoryReservation int64  `json:"MemoryReservation"`
	MemorySwap        int64  `json:"MemorySwap"`
	NanoCpus          int64  `json:"NanoCpus"`
	CpuShares         int64  `json:"CpuShares"`
	CpuWeight         int64  `json:"CpuWeight"`
	CpusetCpus        string `json:"CpusetCpus"`
	PidsLimit         int64  `json:"PidsLimit"`
	BlkioWeight       int64  `json:"BlkioWeight"`
	CgroupManager     string `json:"CgroupManager"`
	Cgroups           string `json:"Cgroups"`
}

type portBindingJSON struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// portMap is Docker's {"80/tcp": [{"HostIp": ..., "HostPort": ...}]}.
func portMap(ports []container.Port) map[string][]portBindingJSON {
	m := map[string][]portBindingJSON{}
	for _, p := range ports {
		k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		hp := ""
		if p.HostPort != 0 {
			hp = strconv.Itoa(p.HostPort)
		}
		m[k] = append(m[k], portBindingJSON{HostIP: p.HostIP, HostPort: hp})
	}
	return m
}

type mountJSON struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Driver      string `json:"Driver,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
}

type configJSON struct {
	Hostname     string              `json:"Hostname"`
	User         string              `json:"User"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Image        string              `json:"Image"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Healthcheck  *health.Config      `json:"Healthcheck,omitempty"`
	// Podman's: the command line that made the container.
	CreateCommand []string `json:"CreateCommand,omitempty"`
	// Podman's name for --health-on-failure.
	HealthcheckOnFailureAction string `json:"HealthcheckOnFailureAction,omitempty"`
}

// inspectContainer renders a record the way Docker shows a container.
func inspectContainer(records *container.Store, c *container.Container) containerJSON {
	cfg, st := c.Config, c.State
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	path := ""
	if len(args) > 0 {
		path, args = args[0], args[1:]
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	netMode := cfg.Network
	if netMode == "" {
		netMode = "none"
	}
	j := containerJSON{
		ID: cfg.ID, Created: ts(cfg.Created), Path: path, Args: nonNilStrings(args),
		State: stateJSON{
			Status: string(st.Status), Running: st.Status == container.Running, Paused: paused(c), OOMKilled: st.OOMKilled,
			Pid: st.Pid, ConmonPid: st.MonitorPid, ExitCode: st.ExitCode, Error: st.Error, StartedAt: ts(st.StartedAt), FinishedAt: ts(st.FinishedAt),
		},
		Image:        "sha256:" + cfg.ImageID,
		LogPath:      records.Dir(cfg.ID) + "/" + stage.LogFile,
		Name:         "/" + cfg.Name,
		RestartCount: st.RestartCount,
		Driver:       cfg.StorageDriver,
		Platform:     "linux",
		HostConfig: hostConfigJSON{
			Binds: []string{}, NetworkMode: netMode, AutoRemove: cfg.AutoRemove, ReadonlyRootfs: cfg.ReadOnly,
			Init: cfg.Init, UsernsMode: cfg.UserNS, Privileged: cfg.Security.Privileged,
			CapAdd: nonNilStrings(cfg.Security.CapAdd), CapDrop: nonNilStrings(cfg.Security.CapDrop), SecurityOpt: securityOpt(cfg.Security),
			MaskedPaths: nonNilStrings(cfg.Security.MaskedPaths()), ReadonlyPaths: nonNilStrings(cfg.Security.ReadonlyPaths()),
			Memory: cfg.Limits.Memory, MemoryReservation: cfg.Limits.MemoryReservation, MemorySwap: cfg.Limits.MemorySwap,
			NanoCpus: cfg.Limits.NanoCPUs, CpuShares: cfg.Limits.CPUShares, CpuWeight: cfg.Limits.CPUWeight, CpusetCpus: cfg.Limits.CpusetCpus,
			PidsLimit: cfg.Limits.PidsLimit, BlkioWeight: cfg.Limits.BlkioWeight, CgroupManager: cfg.CgroupManager, Cgroups: cfg.Cgroups,
		},
		Mounts: []mountJSON{},
		Config: configJSON{
			Hostname: cfg.Hostname, User: cfg.User, Tty: cfg.Tty, OpenStdin: cfg.Interactive,
			Env: nonNilStrings(cfg.Env), Cmd: nonNilStrings(cfg.Cmd), Image: cfg.Image, WorkingDir: cfg.WorkingDir,
			Entrypoint: cfg.Entrypoint, Labels: cfg.Labels, StopSignal: cfg.StopSignal,
			Healthcheck: cfg.Healthcheck, HealthcheckOnFailureAction: cfg.HealthOnFailure, CreateCommand: cfg.CreateCommand,
		},
		NetworkSettings: map[string]any{"Networks": map[string]any{}, "Ports": map[string][]portBindingJSON{}},
	}
	j.HostConfig.PortBindings, j.HostConfig.PublishAllPorts = portMap(cfg.Ports), cfg.PublishAll
	j.BoundingCaps, j.EffectiveCaps = []string{}, []string{}
	if caps, err := cfg.Security.Caps(); err == nil {
		j.BoundingCaps = security.CapNames(caps)
		if u := cfg.User; u == "" || u == "0" || u == "root" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
			j.EffectiveCaps = j.BoundingCaps
		}
	}
	j.HostConfig.Dns, j.HostConfig.DnsSearch = nonNilStrings(cfg.DNS), nonNilStrings(cfg.DNSSearch)
	j.HostConfig.DnsOptions, j.HostConfig.ExtraHosts = nonNilStrings(cfg.DNSOptions), nonNilStrings(cfg.ExtraHosts)
	if len(cfg.ExposedPorts) > 0 {
		j.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range cfg.ExposedPorts {
			j.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if st.Status == container.Running {
		j.NetworkSettings["Ports"] = portMap(st.Ports)
		if mode, err := network.Parse(cfg.Network); err == nil && mode.Kind == network.Slirp {
			j.NetworkSettings["IPAddress"], j.NetworkSettings["Gateway"] = netslirp.GuestAddr, netslirp.GatewayAddr
			j.NetworkSettings["MacAddress"] = cfg.MACAddress
		}
	}
	if st.Cgroup != "" {
		if rel, err := filepath.Rel(hierarchy().Root, (cgdelegate.Group{Dir: st.Cgroup}).Container()); err == nil {
			j.State.CgroupPath = "/" + rel
		}
	}
	if cfg.Healthcheck.Enabled() {
		j.State.Health = &health.State{Status: health.Starting, Log: []health.Result{}}
		if st.Health != nil {
			j.State.Health = st.Health
		}
	}
	if st.Status == container.Running && st.Restarting {
		j.State.Status, j.State.Restarting = "restarting", true
	}
	if j.State.Paused {
		j.State.Status = "paused"
	}
	if cfg.ImageID == "" {
		j.Image = ""
	}
	if p, err := stage.ParseRestart(cfg.Restart); err == nil {
		j.HostConfig.RestartPolicy.Name, j.HostConfig.RestartPolicy.MaximumRetryCount = p.Mode, p.MaxRetries
	}
	if cfg.Labels == nil {
		j.Config.Labels = map[string]string{}
	}
	for _, m := range cfg.Mounts {
		ro := hasOption(m.Options, "ro")
		mode := "rw"
		if ro {
			mode = "ro"
		}
		mj := mountJSON{Type: m.Type, Name: m.Name, Source: m.Source, Destination: m.Destination, Mode: mode, RW: !ro}
		if m.Type == "volume" {
			mj.Driver = "local"
		}
		j.Mounts = append(j.Mounts, mj)
		if m.Type == "bind" {
			j.HostConfig.Binds = append(j.HostConfig.Binds, m.Source+":"+m.Destination+":"+mode)
		}
	}
	return j
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type containerInspectCmd struct {
	Format     string   `short:"f" help:"Format the output with a Go template, e.g. '{{.State.Status}}'."`
	Size       bool     `short:"s" help:"Accepted for compatibility."`
	Containers []string `arg:"" help:"Containers to inspect."`
}

func (c *containerInspectCmd) Run(e *env) error {
	_, records, err := openRecords()
	if err != nil {
		return err
	}
	var objs []json.RawMessage
	for _, ref := range c.Containers {
		ct, err := records.Get(ref)
		if err != nil {
			return err
		}
		b, err := json.Marshal(inspectContainer(records, ct))
		if err != nil {
			return err
		}
		objs = append(objs, b)
	}
	return printInspect(e, c.Format, objs)
}

// inspectCmd is Docker's generic inspect: containers first, then images.
type inspectCmd struct {
	Format string   `short:"f" help:"Format the output with a Go template."`
	Type   string   `enum:",container,image" default:"" help:"Only look for this kind of object: container or image."`
	Names  []string `arg:"" help:"Containers or images."`
}

func (c *inspectCmd) Run(e *env) error {
	_, records, err := openRecords()
	if err != nil {
		return err
	}
	var objs []json.RawMessage
	for _, ref := range c.Names {
		if c.Type != "image" {
			ct, err := records.Get(ref)
			if err == nil {
				b, err := json.Marshal(inspectContainer(records, ct))
				if err != nil {
					return err
				}
				objs = append(objs, b)
				continue
			}
			if c.Type == "container" || !errors.Is(err, container.ErrNotFound) {
				return err
			}
		}
		var out []json.RawMessage
		if err := e.imageOp(stage.OpInspectImage, &stage.ImageRequest{Refs: []string{ref}}, &out); err != nil {
			if errors.Is(err, image.ErrImageNotFound) && c.Type == "" {
				return fmt.Errorf("no such object: %s; see 'box ps -a' for containers and 'box images' for images", ref)
			}
			return err
		}
		objs = append(objs, out...)
	}
	return printInspect(e, c.Format, objs)
}

// containerCmd groups the container commands as Docker's `docker container ...`.
type containerCmd struct {
	Ls      psCmd               `cmd:"" aliases:"list,ps" help:"List containers.\n\nExample: box container ls -a --format json"`
	Rm      rmCmd               `cmd:"" help:"Remove containers.\n\nExample: box container rm -f web"`
	Inspect containerInspectCmd `cmd:"" help:"Show containers' details as JSON.\n\nExample: box container inspect -f '{{.State.Status}}' web"`
	Logs    logsCmd             `cmd:"" help:"Show a container's output.\n\nExample: box container logs -f --tail 20 web"`
	Stop    stopCmd             `cmd:"" help:"Stop containers.\n\nExample: box container stop -t 5 web"`
	Kill    killCmd             `cmd:"" help:"Send a signal to containers.\n\nExample: box container kill -s HUP web"`
	Wait    waitCmd             `cmd:"" help:"Wait for containers and print their exit codes.\n\nExample: box container wait web"`
	Exec    execCmd             `cmd:"" help:"Run a command in a running container.\n\nExample: box container exec -it web sh"`
	Run     runCmd              `cmd:"" help:"Create and run a container.\n\nExample: box container run --rm -it box-test/busybox sh"`
	Create  createCmd           `cmd:"" help:"Create a container without starting it.\n\nExample: box container create --name web box-test/busybox httpd -f"`
	Start   startCmd            `cmd:"" help:"Start containers.\n\nExample: box container start -a web"`
	Restart restartCmd          `cmd:"" help:"Restart containers.\n\nExample: box container restart -t 2 web"`
	Prune   containerPruneCmd   `cmd:"" help:"Remove all stopped containers.\n\nExample: box container prune -f"`
	Rename  renameCmd           `cmd:"" help:"Rename a container.\n\nExample: box container rename web web-old"`
	Cp      cpCmd               `cmd:"" help:"Copy files between a container and the host.\n\nExample: box container cp web:/etc/hosts ./hosts"`
	Diff    diffCmd             `cmd:"" help:"List a container's changed files.\n\nExample: box container diff web"`
	Export  exportCmd           `cmd:"" help:"Write a container's files as a tar archive.\n\nExample: box container export -o rootfs.tar web"`
	Top     topCmd              `cmd:"" help:"Show a container's processes.\n\nExample: box container top web"`
	Attach  attachCmd           `cmd:"" help:"Attach to a running container.\n\nExample: box container attach web"`
	Port    portCmd             `cmd:"" help:"List a container's published ports.\n\nExample: box container port web 80/tcp"`
	Pause   pauseCmd            `cmd:"" help:"Pause containers.\n\nExample: box container pause web"`
	Unpause unpauseCmd          `cmd:"" help:"Resume paused containers.\n\nExample: box container unpause web"`
	Stats   statsCmd            `cmd:"" help:"Show containers' resource use.\n\nExample: box container stats --no-stream web"`
	Update  updateCmd           `cmd:"" help:"Change containers' resource limits.\n\nExample: box container update --memory 256m web"`
}

// securityOpt is Docker's HostConfig.SecurityOpt: what was given, with
// box's default no_new_privs shown as if it had been.
func securityOpt(o security.Options) []string {
	out := append([]string{}, o.Given...)
	if o.NoNewPrivileges == nil && o.NoNewPrivs() {
		out = append(out, "no-new-privileges")
	}
	if o.Seccomp == "" && o.Privileged {
		out = append(out, "seccomp=unconfined")
	}
	return out
}
