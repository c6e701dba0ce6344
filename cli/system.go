package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type unshareCmd struct {
	// partial: box's flags before the command are parsed (an unknown one
	// is an error, not a command named --bogus); from the command on,
	// everything is the command's.
	Command []string `arg:"" optional:"" passthrough:"partial" help:"Command to run (default: $SHELL)."`
}

func (c *unshareCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpUnshare)
	req.Unshare = c.Command
	return e.do(req, userns.Auto, h, nil)
}

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	fmt.Fprintf(e.stdout, "box version %s\ngo version %s\nos/arch %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

type systemCmd struct {
	Df    systemDfCmd    `cmd:"" help:"Show the disk space images, containers and volumes use, and how much is reclaimable.\n\nExample: box system df --format json"`
	Prune systemPruneCmd `cmd:"" help:"Remove stopped containers, unused images (-a: all unused) and, with --volumes, unused anonymous volumes.\n\nExample: box system prune -af --volumes"`
	Reset systemResetCmd `cmd:"" help:"Remove everything box stored: containers (running ones are killed), images, volumes, the store itself.\n\nExample: box system reset -f"`
}

// dfRow is one line of system df; the JSON names are Docker's.
type dfRow struct {
	Type        string `json:"Type"`
	TotalCount  int    `json:"TotalCount"`
	Active      int    `json:"Active"`
	Size        string `json:"Size"`
	Reclaimable string `json:"Reclaimable"`
}

type systemDfCmd struct {
	Format string `help:"Format: json (one object a line), or a Go template such as '{{.Type}} {{.Size}}'."`
}

func (c *systemDfCmd) Run(e *env) error {
	h, _, list, err := listContainers()
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpDiskUsage)
	for _, ct := range list {
		req.IDs = append(req.IDs, ct.Config.ID)
	}
	var du stage.DiskUsage
	if err := e.do(req, userns.Auto, h, &du); err != nil {
		return err
	}
	used := map[string]bool{}
	running := 0
	var ctrSize, ctrFree int64
	volUsers := map[string]bool{}
	for _, ct := range list {
		used[ct.Config.ImageID] = true
		rw := du.Containers[ct.Config.ID]
		ctrSize += rw
		if ct.State.Status == container.Running {
			running++
		} else {
			ctrFree += rw
		}
		for _, m := range ct.Config.Mounts {
			if m.Type == "volume" && m.Name != "" {
				volUsers[m.Name] = true
			}
		}
	}
	imgSize, imgFree, activeImages := imageUsage(du, used)
	var volSize, volFree int64
	activeVols := 0
	for name, sz := range du.Volumes {
		volSize += sz
		if volUsers[name] {
			activeVols++
		} else {
			volFree += sz
		}
	}
	rows := []dfRow{
		{"Images", len(du.Images), activeImages, size(imgSize), reclaim(imgFree, imgSize)},
		{"Containers", len(list), running, size(ctrSize), reclaim(ctrFree, ctrSize)},
		{"Local Volumes", len(du.Volumes), activeVols, size(volSize), reclaim(volFree, volSize)},
		{"Build Cache", du.BuildCacheLayers, 0, size(du.BuildCache), reclaim(du.BuildCache, du.BuildCache)},
	}
	return printRows(e, c.Format, rows, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE", func(r dfRow) []string {
		return []string{r.Type, strconv.Itoa(r.TotalCount), strconv.Itoa(r.Active), r.Size, r.Reclaimable}
	})
}

func size(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

func reclaim(free, total int64) string {
	pct := 0
	if total > 0 {
		pct = int(free * 100 / total)
	}
	return fmt.Sprintf("%s (%d%%)", size(free), pct)
}

// confirm asks before a command that removes what the user may want; -f
// skips it. Without a terminal to ask on it refuses: a script must say -f.
func confirm(e *env, force bool, what string) error {
	if force {
		return nil
	}
	in, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return fmt.Errorf("%s: confirm with -f (stdin is not a terminal to ask on)", what)
	}
	fmt.Fprintf(e.stderr, "WARNING! %s.\nAre you sure you want to continue? [y/N] ", what)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return exitCode(1)
	}
	return nil
}

type systemPruneCmd struct {
	All     bool `short:"a" help:"Remove every image no container uses, not only untagged ones."`
	Volumes bool `help:"Remove anonymous volumes no container uses too."`
	Force   bool `short:"f" help:"Do not ask for confirmation."`
}

func (c *systemPruneCmd) Run(e *env) error {
	what := "this removes every stopped container and every untagged image"
	if c.All {
		what = "this removes every stopped container and every image no container uses"
	}
	if c.Volumes {
		what += ", and every anonymous volume no container uses"
	}
	if err := confirm(e, c.Force, what); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "Deleted Containers:")
	if err := (&containerPruneCmd{Force: true}).Run(e); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "Deleted Images:")
	if err := (&imagePruneCmd{All: c.All, Force: true}).Run(e); err != nil {
		return err
	}
	if c.Volumes {
		fmt.Fprintln(e.stdout, "Deleted Volumes:")
		if err := (&volumePruneCmd{Force: true}).Run(e); err != nil {
			return err
		}
	}
	return nil
}

type systemResetCmd struct {
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

// Run removes every container (killing running ones), unmounts whatever
// box left mounted in the user's own mount namespace (fuse-overlayfs
// mounts of a crashed box), has a stage delete the store, the volumes and
// the records in box's user namespace (their files belong to subordinate
// ids), and removes the data and runtime directories. The configuration
// (registries.conf, logins) stays.
func (c *systemResetCmd) Run(e *env) error {
	if err := confirm(e, c.Force, "this removes every container (running ones are killed), image and volume, and box's store"); err != nil {
		return err
	}
	h, _, list, err := listContainers()
	if err != nil {
		return err
	}
	if len(list) > 0 {
		var ids []string
		for _, ct := range list {
			ids = append(ids, ct.Config.ID)
		}
		rm := &rmCmd{Containers: ids, Force: true, Volumes: true}
		if err := rm.Run(&env{stdin: e.stdin, stdout: io.Discard, stderr: e.stderr, g: e.g}); err != nil {
			return err
		}
	}
	// Before the stage: its mount namespace is a copy of this one, where a
	// leftover mount would keep it from deleting what is below.
	unmountUnder(h.dirs.Data, h.dirs.Runtime)
	if err := e.do(e.request(h, stage.OpReset), userns.Auto, h, nil); err != nil {
		return err
	}
	for _, dir := range []string{h.dirs.Data, h.dirs.Runtime} {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
	}
	return nil
}

// unmountUnder unmounts, deepest first, the mounts of this mount
// namespace below the dirs: what a crashed box left, such as a
// fuse-overlayfs mount whose daemon still runs. A FUSE mount the user made
// is theirs to unmount (fusermount -u); anything else is left to the error
// the removal then gives.
func unmountUnder(dirs ...string) {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		for _, d := range dirs {
			if d != "" && (m.Mountpoint == d || strings.HasPrefix(m.Mountpoint, d+"/")) {
				return false, false
			}
		}
		return true, false
	})
	if err != nil {
		return
	}
	slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	for _, m := range mounts {
		if unix.Unmount(m.Mountpoint, unix.MNT_DETACH) == nil {
			continue
		}
		for _, prog := range []string{"fusermount3", "fusermount"} {
			if p, err := exec.LookPath(prog); err == nil && exec.Command(p, "-u", "-z", m.Mountpoint).Run() == nil {
				break
			}
		}
	}
}

// imageUsage adds up what images take, each shared layer once, and what
// removing the images no container uses would free: the layers only they
// have, and their own records (manifests, configs: an image's size beyond
// its layers).
func imageUsage(du stage.DiskUsage, used map[string]bool) (size, free int64, active int) {
	neededByActive := map[string]bool{}
	for _, im := range du.Images {
		if used[im.ID] {
			active++
			for _, l := range du.ImageLayers[im.ID] {
				neededByActive[l] = true
			}
		}
	}
	counted := map[string]bool{}
	for _, im := range du.Images {
		own := im.Size
		for _, l := range du.ImageLayers[im.ID] {
			own -= du.LayerSizes[l]
			if counted[l] {
				continue
			}
			counted[l] = true
			size += du.LayerSizes[l]
			if !neededByActive[l] {
				free += du.LayerSizes[l]
			}
		}
		own = max(own, 0)
		size += own
		if !used[im.ID] {
			free += own
		}
	}
	return size, free, active
}
