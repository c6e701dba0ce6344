package cgdelegate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// CreateScope asks the user's systemd for a transient scope named unit
// ("box-....scope") holding pid, with Delegate=yes so that box may manage
// the cgroups below it, and returns the scope's cgroup directory.
func (h Hierarchy) CreateScope(ctx context.Context, unit, description string, pid int) (string, error) {
	if !h.Unified() {
		// systemd makes scopes on a hybrid host too, but delegates nothing.
		return "", fmt.Errorf("%w: %s is cgroup v1 or hybrid", ErrUnavailable, h.Root)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := sddbus.NewUserConnectionContext(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: no systemd user manager: %v", ErrUnavailable, err)
	}
	defer conn.Close()
	props := []sddbus.Property{
		sddbus.PropDescription(description),
		sddbus.PropPids(uint32(pid)),
		{Name: "Delegate", Value: godbus.MakeVariant(true)},
		// Empty when the container is gone, so systemd forgets it.
		{Name: "CollectMode", Value: godbus.MakeVariant("inactive-or-failed")},
	}
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, unit, "fail", props, done); err != nil {
		return "", fmt.Errorf("create systemd scope %s: %w", unit, err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return "", fmt.Errorf("create systemd scope %s: job %s", unit, res)
		}
	case <-ctx.Done():
		return "", fmt.Errorf("create systemd scope %s: %w", unit, ctx.Err())
	}
	return h.Of(pid)
}

// Probe is how box would get a container's cgroup here, for box info.
type Probe struct {
	Version int // 1 (v1 or hybrid) or 2
	// Manager is "systemd" (a user manager answers on D-Bus), "cgroupfs"
	// (box's own cgroup is delegated to the user), or "" (neither).
	Manager string
	// Controllers are those a container's cgroup would get, sorted.
	Controllers []string
}

// Probe asks the user's systemd, else looks at box's own cgroup. manager
// is --cgroup-manager's value, "" to pick as box run does.
func (h Hierarchy) Probe(ctx context.Context, manager string) Probe {
	if !h.Unified() {
		return Probe{Version: 1}
	}
	p := Probe{Version: 2}
	if manager != "cgroupfs" {
		if dir, err := h.userManagerCgroup(ctx); err == nil {
			p.Manager, p.Controllers = "systemd", sortedControllers(dir)
			return p
		}
	}
	if own, err := h.Own(); err == nil && manager != "systemd" && unix.Access(filepath.Join(own, "cgroup.procs"), unix.W_OK) == nil {
		p.Manager, p.Controllers = "cgroupfs", sortedControllers(own)
	}
	return p
}

// userManagerCgroup is the cgroup of the user's systemd
// (user@UID.service): what it has is what it may delegate.
func (h Hierarchy) userManagerCgroup(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := sddbus.NewUserConnectionContext(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	v, err := conn.GetManagerProperty("ControlGroup")
	if err != nil {
		return "", err
	}
	// go-systemd gives the variant's text form: a quoted string.
	cg, err := strconv.Unquote(v)
	if err != nil {
		return "", fmt.Errorf("systemd's ControlGroup %s: %w", v, err)
	}
	return filepath.Join(h.Root, cg), nil
}

func sortedControllers(dir string) []string {
	have, _ := controllers(dir)
	return slices.Sorted(maps.Keys(have))
}

// Attach moves process pid into the container's cgroup: itself where the
// user may (the two cgroups' common ancestor is theirs: a CI job's, a
// scope's), else by asking the user's systemd, whose scope the group is;
// systemd has PID 1 do it when the process is in a login session, whose
// cgroup no user may leave on their own.
func (g Group) Attach(ctx context.Context, pid int) error {
	err := g.Join(pid)
	if err == nil || !errors.Is(err, fs.ErrPermission) || !strings.HasSuffix(g.Dir, ".scope") {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, cerr := sddbus.NewUserConnectionContext(ctx)
	if cerr != nil {
		return fmt.Errorf("%w (and no systemd user manager to ask: %v)", err, cerr)
	}
	defer conn.Close()
	if err := conn.AttachProcessesToUnit(ctx, filepath.Base(g.Dir), "/"+containerDir, []uint32{uint32(pid)}); err != nil {
		return fmt.Errorf("move process %d into %s: %w", pid, g.Container(), err)
	}
	return nil
}
