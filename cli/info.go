package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	units "github.com/docker/go-units"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/config"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/containerlog"
	"github.com/boxcli/box/userns"
)

type infoCmd struct {
	Format string `short:"f" help:"Format: json, or a Go template such as '{{.Host.CgroupManager}}'."`
}

// systemInfo is what box info shows; the field names are Podman's, so
// templates like {{.Host.CgroupsVersion}} carry over.
type systemInfo struct {
	Host    hostInfo    `json:"host" yaml:"host"`
	Store   storeInfo   `json:"store" yaml:"store"`
	Version versionInfo `json:"version" yaml:"version"`
	Config  configInfo  `json:"config" yaml:"config"`
}

// configInfo is the defaults in effect and where each came from: a flag,
// the environment, the config file or box's own default.
type configInfo struct {
	File          string         `json:"file" yaml:"file"` // the config file, whether or not it exists
	StorageDriver config.Setting `json:"storageDriver" yaml:"storageDriver"`
	Network       config.Setting `json:"network" yaml:"network"`
	Userns        config.Setting `json:"userns" yaml:"userns"`
	LogMaxSize    config.Setting `json:"logMaxSize" yaml:"logMaxSize"`
}

type hostInfo struct {
	Arch              string    `json:"arch" yaml:"arch"`
	OS                string    `json:"os" yaml:"os"`
	Distribution      string    `json:"distribution" yaml:"distribution"`
	Kernel            string    `json:"kernel" yaml:"kernel"`
	Hostname          string    `json:"hostname" yaml:"hostname"`
	CPUs              int       `json:"cpus" yaml:"cpus"`
	MemTotal          int64     `json:"memTotal" yaml:"memTotal"`
	Rootless          bool      `json:"rootless" yaml:"rootless"`
	CgroupsVersion    string    `json:"cgroupVersion" yaml:"cgroupVersion"`
	CgroupManager     string    `json:"cgroupManager" yaml:"cgroupManager"`
	CgroupControllers []string  `json:"cgroupControllers" yaml:"cgroupControllers"`
	IDMappings        idMapping `json:"idMappings" yaml:"idMappings"`
	NetworkBackend    string    `json:"networkBackend" yaml:"networkBackend"`
	Slirp4NetNS       program   `json:"slirp4netns" yaml:"slirp4netns"`
	Pasta             program   `json:"pasta" yaml:"pasta"`
	FuseOverlayFS     program   `json:"fuseOverlayfs" yaml:"fuseOverlayfs"`
}

type idMapping struct {
	UIDMap []idMap `json:"uidmap" yaml:"uidmap"`
	GIDMap []idMap `json:"gidmap" yaml:"gidmap"`
}

// idMap is one line of a namespace's map, in Podman's words.
type idMap struct {
	ContainerID uint32 `json:"container_id" yaml:"container_id"`
	HostID      uint32 `json:"host_id" yaml:"host_id"`
	Size        uint32 `json:"size" yaml:"size"`
}

func idMaps(ms []userns.IDMap) []idMap {
	out := []idMap{}
	for _, m := range ms {
		out = append(out, idMap{m.ContainerID, m.HostID, m.Size})
	}
	return out
}

// program is a helper box runs, where it was found.
type program struct {
	Executable string `json:"executable" yaml:"executable"`
}

type storeInfo struct {
	GraphRoot       string `json:"graphRoot" yaml:"graphRoot"`
	RunRoot         string `json:"runRoot" yaml:"runRoot"`
	GraphDriverName string `json:"graphDriverName" yaml:"graphDriverName"`
	VolumePath      string `json:"volumePath" yaml:"volumePath"`
	Containers      int    `json:"containers" yaml:"containers"`
	Running         int    `json:"running" yaml:"running"`
	Paused          int    `json:"paused" yaml:"paused"`
	Stopped         int    `json:"stopped" yaml:"stopped"`
}

type versionInfo struct {
	Version   string `json:"version" yaml:"version"`
	GoVersion string `json:"goVersion" yaml:"goVersion"`
	OsArch    string `json:"osArch" yaml:"osArch"`
}

// Run gathers the facts without starting a stage: box info must answer on
// a machine where box cannot yet run anything, to say why.
func (c *infoCmd) Run(e *env) error {
	h, records, err := openRecords()
	if err != nil {
		return err
	}
	var si systemInfo
	hi := &si.Host
	hi.Arch, hi.OS = runtime.GOARCH, runtime.GOOS
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		hi.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	hi.Hostname, _ = os.Hostname()
	hi.Distribution = osRelease()
	hi.CPUs = runtime.NumCPU()
	hi.MemTotal = hostMemory()
	hi.Rootless = h.uid != 0
	p := hierarchy().Probe(context.Background(), "")
	hi.CgroupsVersion = "v1"
	if p.Version == 2 {
		hi.CgroupsVersion = "v2"
	}
	hi.CgroupManager, hi.CgroupControllers = p.Manager, p.Controllers
	if hi.CgroupManager == "" {
		hi.CgroupManager = "none"
	}
	if hi.CgroupControllers == nil {
		hi.CgroupControllers = []string{}
	}
	if m, err := e.maps(h, userns.Auto); err == nil {
		hi.IDMappings = idMapping{UIDMap: idMaps(m.UID), GIDMap: idMaps(m.GID)}
	}
	hi.Slirp4NetNS.Executable = lookPath("slirp4netns")
	hi.Pasta.Executable = lookPath("pasta")
	hi.FuseOverlayFS.Executable = lookPath("fuse-overlayfs")
	hi.NetworkBackend = "slirp4netns"
	if hi.Slirp4NetNS.Executable == "" {
		hi.NetworkBackend = "none"
	}

	st := &si.Store
	st.GraphRoot, st.RunRoot, st.VolumePath = h.dirs.Storage(), h.dirs.StorageRun(), h.dirs.Volumes()
	st.GraphDriverName = graphDriver(e.g.StorageDriver, h.dirs.Storage())
	list, err := records.List()
	if err != nil {
		return err
	}
	for _, ct := range list {
		st.Containers++
		switch {
		case paused(ct):
			st.Paused++
		case ct.State.Status == container.Running:
			st.Running++
		default:
			st.Stopped++
		}
	}
	ci := &si.Config
	ci.File = filepath.Join(h.dirs.Config, config.FileName)
	ci.StorageDriver = e.storage
	if ci.StorageDriver.Value == "" {
		ci.StorageDriver.Value = "the first that works: overlay, fuse-overlayfs, vfs"
	}
	ci.Network = config.Pick("", "", "", e.conf.Network, e.conf.Path, "slirp4netns")
	ci.Userns = config.Pick("", "", "", e.conf.Userns, e.conf.Path, "auto")
	ci.LogMaxSize = config.Pick("", "", "", e.conf.LogMaxSize, e.conf.Path, units.BytesSize(containerlog.DefaultMaxSize))
	si.Version = versionInfo{Version: Version, GoVersion: runtime.Version(), OsArch: runtime.GOOS + "/" + runtime.GOARCH}

	switch c.Format {
	case "json":
		b, err := json.MarshalIndent(si, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	case "":
		enc := yaml.NewEncoder(e.stdout)
		enc.SetIndent(2)
		if err := enc.Encode(si); err != nil {
			return err
		}
		return enc.Close()
	}
	return printTemplate(e, c.Format, []systemInfo{si})
}

func lookPath(name string) string {
	p, _ := exec.LookPath(name)
	return p
}

// osRelease is the distribution's PRETTY_NAME.
func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// graphDriver is the storage driver in use: the one asked for, else the
// one whose directory containers/storage made (fuse-overlayfs is its
// overlay driver with a mount program), else what box run would try first.
func graphDriver(asked, root string) string {
	if asked != "" {
		return asked
	}
	for _, d := range []string{"overlay", "vfs"} {
		if _, err := os.Stat(filepath.Join(root, d)); err == nil {
			return d
		} else if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	return "overlay"
}
