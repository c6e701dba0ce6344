package cgdelegate

import (
	"context"
	"fmt"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
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
