package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/container"
)

// MountVolumes mounts the volumes and bind mounts among mounts on the
// root filesystem at rootfs, in order and the way the init does when the
// container starts (each destination resolved inside the root, each
// source opened once, read-only ones read-only), so that box cp on a
// stopped container reads and writes them where the container would see
// them. tmpfs mounts are left out: a stopped container has none, and a
// copy into one would be lost. It must run in a mount namespace of the
// caller's own (a stage's); unmount detaches them again, before the root
// itself is unmounted.
func MountVolumes(rootfs string, mounts []container.Mount) (unmount func(), err error) {
	f, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	root := rootDir{f: f}
	defer root.close()
	var made []*os.File
	unmount = func() {
		for i := len(made) - 1; i >= 0; i-- {
			_ = unix.Unmount(fdPath(made[i]), unix.MNT_DETACH)
			made[i].Close()
		}
	}
	for _, m := range mounts {
		if m.Type == "tmpfs" {
			continue
		}
		if err := mountUser(root, m, owner{}); err != nil {
			unmount()
			return nil, fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
		}
		// The mount's own root, to detach it by.
		h, err := root.open(m.Destination)
		if err != nil {
			unmount()
			return nil, fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
		}
		made = append(made, h)
	}
	return unmount, nil
}
