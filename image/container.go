package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	"go.podman.io/storage/types"

	"github.com/boxcli/box/diskreserve"
	"github.com/boxcli/box/userns"
)

// ContainerOptions are how a container's layer is made.
type ContainerOptions struct {
	// UIDMap and GIDMap, if set, shift the image's owners (below).
	UIDMap, GIDMap []userns.IDMap
	// Volatile: the container is removed when it exits (run --rm), so
	// nothing about it needs to survive a crash: its records are written
	// without fsync and its overlay is mounted "volatile" (no syncs to the
	// upper layer), as podman does for --rm.
	Volatile bool
}

// CreateContainer creates a writable layer for container id on top of
// image imageID (a full image ID, as Lookup returns). box uses its own
// container ID as the storage container ID.
//
// With maps (container ids -> ids of box's namespace), the container sees
// the image through a copy whose owners are shifted by them: what the
// image gives to root belongs to the container's root, whichever id that
// is in box's namespace (--userns=keep-id). containers/storage keeps that
// copy and reuses it for the next container with the same maps.
func (s *Store) CreateContainer(id, imageID string, o ContainerOptions) error {
	opts := &storage.ContainerOptions{Volatile: o.Volatile}
	if len(o.UIDMap) > 0 {
		opts.IDMappingOptions = types.IDMappingOptions{
			UIDMap: toIDTools(o.UIDMap),
			GIDMap: toIDTools(o.GIDMap),
		}
	}
	if _, err := s.store.CreateContainer(id, nil, imageID, "", "", opts); err != nil {
		if errors.Is(err, storage.ErrImageUnknown) {
			return fmt.Errorf("create container layer %s: %w: %s", id, ErrImageNotFound, imageID)
		}
		return fmt.Errorf("create container layer %s: %w", id, err)
	}
	return nil
}

// Mount mounts the container's root filesystem and returns its path. The
// mount lives in the caller's mount namespace.
func (s *Store) Mount(id string) (string, error) {
	dir, err := s.store.Mount(id, "")
	if err != nil {
		return "", fmt.Errorf("mount container %s: %w", id, err)
	}
	if s.mounted == nil {
		s.mounted = map[string]bool{}
	}
	s.mounted[id] = true
	return dir, nil
}

// Unmount unmounts the container's root filesystem. It forces the unmount:
// each stage mounts in its own mount namespace, so a mount count left by a
// stage that died says nothing about this namespace, and box never mounts
// one container twice in the same stage.
func (s *Store) Unmount(id string) error {
	if _, err := s.store.Unmount(id, true); err != nil && !errors.Is(err, storage.ErrLayerNotMounted) {
		return fmt.Errorf("unmount container %s: %w", id, err)
	}
	delete(s.mounted, id)
	return nil
}

// DeleteContainer removes the container's layer, unmounting it first. A
// container that does not exist is not an error, so cleanup can be repeated.
//
// It works on a full disk too, where containers/storage cannot delete a
// layer (it rewrites its records first): the files of the container's own
// layer, most often what filled the disk, go first; failing that, the
// store's reserve makes room.
func (s *Store) DeleteContainer(id string) error {
	del := func() error {
		err := s.store.DeleteContainer(id)
		if errors.Is(err, storage.ErrContainerUnknown) || errors.Is(err, storage.ErrNotAContainer) {
			return nil
		}
		return err
	}
	err := del()
	if diskreserve.NoSpace(err) {
		if freed, ferr := s.emptyLayer(id); ferr == nil && freed {
			s.warnf("the filesystem of %s is full: box deleted the files of container %s before its record", s.store.GraphRoot(), shortID(id))
			err = del()
		}
	}
	if diskreserve.NoSpace(err) {
		err = s.freeing("container "+shortID(id), del)
	}
	if err != nil {
		return fmt.Errorf("delete container layer %s: %w", id, err)
	}
	delete(s.mounted, id) // deleting unmounts it
	return nil
}

// emptyLayer deletes the files of container id's own layer, behind
// containers/storage's back: only for a container on its way out. It
// says whether there were files to delete.
func (s *Store) emptyLayer(id string) (bool, error) {
	c, err := s.store.Container(id)
	if err != nil || c.LayerID == "" {
		return false, err
	}
	dir, err := s.layerDir(c.LayerID)
	if err != nil {
		return false, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return false, err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return true, err
		}
	}
	return true, nil
}

func shortID(id string) string { return id[:min(12, len(id))] }

// Containers lists the IDs of all container layers in the store, so that
// box can find those whose container record is gone.
func (s *Store) Containers() ([]string, error) {
	cs, err := s.store.Containers()
	if err != nil {
		return nil, fmt.Errorf("list container layers: %w", err)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids, nil
}

func toIDTools(m []userns.IDMap) []idtools.IDMap {
	out := make([]idtools.IDMap, len(m))
	for i, e := range m {
		out[i] = idtools.IDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// ContainerSize is how much a container's files take: its own layer
// (RW), and that with its image's (RootFs), as Docker's ps --size.
type ContainerSize struct {
	RW     int64 `json:"rw"`
	RootFs int64 `json:"rootFs"`
}

// Size measures container id's layer, and its image.
func (s *Store) Size(id string) (ContainerSize, error) {
	rw, err := s.store.ContainerSize(id)
	if err != nil {
		return ContainerSize{}, fmt.Errorf("size of container %s: %w", id, err)
	}
	c, err := s.store.Container(id)
	if err != nil {
		return ContainerSize{}, fmt.Errorf("size of container %s: %w", id, err)
	}
	img, err := s.store.ImageSize(c.ImageID)
	if err != nil {
		img = 0 // a container outlives its image's record only in a broken store
	}
	return ContainerSize{RW: rw, RootFs: rw + img}, nil
}
