// Package container keeps box's container records on disk: what the user
// asked for (config.json, written once) and what happened since (state.json,
// replaced atomically), one directory per container. Many box processes use
// the same records at once with no daemon, so every change is atomic and
// every multi-step change holds a flock.
//
// It only records. It does not start, stop or inspect containers, and it
// knows nothing of namespaces or containers/storage; the records it returns
// are a view corrected for processes that died without saying so (see Get).
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/health"
	"github.com/boxcli/box/security"
)

// Mount is a bind mount, tmpfs or volume asked for with -v, --mount or --tmpfs.
type Mount struct {
	Type        string   `json:"type"`             // "bind", "tmpfs", "volume"
	Source      string   `json:"source,omitempty"` // host path for bind
	Destination string   `json:"destination"`
	Options     []string `json:"options,omitempty"` // "ro", "rw", "size=64m", "mode=1777", ...
	// A volume's name; Anonymous ones go with their container (rm -v).
	Name      string `json:"name,omitempty"`
	Anonymous bool   `json:"anonymous,omitempty"`
}

// Port is a published port (-p): the host's address and port, the
// container's port and the protocol.
type Port struct {
	HostIP        string `json:"hostIp,omitempty"`
	HostPort      int    `json:"hostPort"` // 0 in a Config: any free port
	ContainerPort int    `json:"containerPort"`
	Proto         string `json:"proto"`
}

// Config is what the user asked for; written once at create.
type Config struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Created     time.Time `json:"created"`
	Image       string    `json:"image,omitempty"` // as the user typed it
	ImageID     string    `json:"imageId,omitempty"`
	Rootfs      string    `json:"rootfs,omitempty"` // --rootfs DIR instead of an image
	Entrypoint  []string  `json:"entrypoint,omitempty"`
	Cmd         []string  `json:"cmd,omitempty"`
	Env         []string  `json:"env,omitempty"`
	WorkingDir  string    `json:"workingDir,omitempty"`
	User        string    `json:"user,omitempty"`
	Hostname    string    `json:"hostname,omitempty"`
	Tty         bool      `json:"tty,omitempty"`
	Interactive bool      `json:"interactive,omitempty"`
	// StdinOnce: the first attached client's end of input ends the
	// container's stdin (created with -i to be attached, not run -d).
	StdinOnce  bool `json:"stdinOnce,omitempty"`
	Init       bool `json:"init,omitempty"`
	ReadOnly   bool `json:"readOnly,omitempty"`
	AutoRemove bool `json:"autoRemove,omitempty"`
	// LogMaxSize caps the container's log file (0: the default);
	// from the config file's log_max_size.
	LogMaxSize    int64             `json:"logMaxSize,omitempty"`
	Mounts        []Mount           `json:"mounts,omitempty"`
	Network       string            `json:"network,omitempty"`
	Ports         []Port            `json:"ports,omitempty"`        // -p, and -P's picks from ExposedPorts
	ExposedPorts  []string          `json:"exposedPorts,omitempty"` // the image's EXPOSE and --expose: "80/tcp"
	PublishAll    bool              `json:"publishAll,omitempty"`
	DNS           []string          `json:"dns,omitempty"`
	DNSSearch     []string          `json:"dnsSearch,omitempty"`
	DNSOptions    []string          `json:"dnsOptions,omitempty"`
	ExtraHosts    []string          `json:"extraHosts,omitempty"` // --add-host NAME:IP
	MACAddress    string            `json:"macAddress,omitempty"`
	Limits        cgdelegate.Limits `json:"limits,omitempty"`
	CgroupManager string            `json:"cgroupManager,omitempty"` // systemd, cgroupfs; "" picks
	Cgroups       string            `json:"cgroups,omitempty"`       // "disabled": none at all
	UserNS        string            `json:"userns,omitempty"`
	StorageDriver string            `json:"storageDriver,omitempty"`
	StopSignal    string            `json:"stopSignal,omitempty"`
	Restart       string            `json:"restart,omitempty"` // no, on-failure[:N], always
	// Healthcheck is the check the monitor runs: the image's, merged
	// with the --health-* flags; nil or ["NONE"] for none.
	Healthcheck     *health.Config    `json:"healthcheck,omitempty"`
	HealthOnFailure string            `json:"healthOnFailure,omitempty"` // none, kill, restart, stop
	Labels          map[string]string `json:"labels,omitempty"`
	// CreateCommand is the box command line that made the container, for
	// box generate systemd --new (podman's CreateCommand).
	CreateCommand []string         `json:"createCommand,omitempty"`
	Security      security.Options `json:"security"`
}

// Status is where a container is in its life.
type Status string

const (
	Created Status = "created"
	Running Status = "running"
	Exited  Status = "exited"
)

// State is what happened to a container since it was created.
type State struct {
	Status Status `json:"status"`
	// Pid is the container's main process, its PID 1, as the host numbers
	// it, while it runs: Docker's and Podman's State.Pid (nsenter -t,
	// /proc/PID). It names a process only while the monitor lives and
	// keeps it as its child: see InitPid.
	Pid int `json:"pid,omitempty"`
	// MonitorPid is the host pid of the process that keeps the container
	// alive (box's stage: the monitor of a detached container, or the one
	// behind box run), Podman's State.ConmonPid. Liveness is its.
	MonitorPid int `json:"monitorPid,omitempty"`
	// MonitorStart is that process's start time, field 22 of
	// /proc/PID/stat, so a reused pid is not mistaken for it.
	MonitorStart uint64    `json:"monitorStart,omitempty"`
	ExitCode     int       `json:"exitCode"`
	StartedAt    time.Time `json:"startedAt,omitempty"`
	FinishedAt   time.Time `json:"finishedAt,omitempty"`
	Error        string    `json:"error,omitempty"`
	OOMKilled    bool      `json:"oomKilled,omitempty"`
	// StopRequested marks a stop or kill by the user: the monitor must not
	// undo it with the restart policy.
	StopRequested bool `json:"stopRequested,omitempty"`
	RestartCount  int  `json:"restartCount,omitempty"`
	// Restarting: the container exited and its monitor waits out the
	// back-off before the restart policy starts it again.
	Restarting bool `json:"restarting,omitempty"`
	// Health is the healthcheck's state while the container has one.
	Health *health.State `json:"health,omitempty"`
	// Ports are the published ports while it runs, with the host ports the
	// kernel picked for those asked without one.
	Ports []Port `json:"ports,omitempty"`
	// Cgroup is the container's cgroup directory while it runs (see
	// cgdelegate.Group); "" when it runs without one.
	Cgroup string `json:"cgroup,omitempty"`
	// Rootfs is where the container's root filesystem is mounted while it
	// runs, in its monitor's mount namespace (podman's Mountpoint).
	Rootfs string `json:"rootfs,omitempty"`
}

// UnmarshalJSON reads a state, also one that a box before #18 wrote: its
// "pid" and "pidStart" named the monitor, which a container that box
// started still has.
func (st *State) UnmarshalJSON(b []byte) error {
	type plain State // without this method
	var v struct {
		plain
		LegacyStart uint64 `json:"pidStart"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*st = State(v.plain)
	if st.MonitorPid == 0 && v.LegacyStart != 0 {
		st.MonitorPid, st.MonitorStart, st.Pid = st.Pid, v.LegacyStart, 0
	}
	return nil
}

// Container is one record.
type Container struct {
	Config Config
	State  State
}

var (
	// ErrNotFound: no container has that ID, name or ID prefix.
	ErrNotFound = errors.New("no such container")
	// ErrAmbiguous: an ID prefix matches more than one container.
	ErrAmbiguous = errors.New("ambiguous container ID prefix")
	// ErrNameInUse: another container already has the name.
	ErrNameInUse = errors.New("container name already in use")
	// ErrInvalidName: the name breaks docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]*.
	ErrInvalidName = errors.New("invalid container name")
	// ErrInvalidID: a given ID is not 64 lowercase hex digits.
	ErrInvalidID = errors.New("invalid container ID")
)

// AmbiguousError is an ID prefix that matches several containers.
type AmbiguousError struct {
	Ref string
	IDs []string // the full IDs it matches, sorted
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("container ID prefix %q matches %d containers: %s", e.Ref, len(e.IDs), strings.Join(e.IDs, ", "))
}

func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// NameInUseError is a name asked for at create that another container has.
type NameInUseError struct {
	Name string
	ID   string // the container that has it
}

func (e *NameInUseError) Error() string {
	return fmt.Sprintf("container name %q is already in use by container %s", e.Name, e.ID)
}

func (e *NameInUseError) Is(target error) bool { return target == ErrNameInUse }

func notFound(ref string) error { return fmt.Errorf("%w: %s", ErrNotFound, ref) }
