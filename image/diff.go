package image

import (
	"fmt"
	"sort"

	"go.podman.io/storage/pkg/archive"
)

// Change is one path a container changed in its image: Kind is "A", "C"
// or "D", as docker diff prints it.
type Change struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
}

// Changes compares container id's layer with the image under it. The
// overlay driver reads the layer's diff directory and needs no mount, so
// this works for a running container too.
func (s *Store) Changes(id string) ([]Change, error) {
	c, err := s.store.Container(id)
	if err != nil {
		return nil, fmt.Errorf("find container layer %s: %w", id, err)
	}
	changes, err := s.store.Changes("", c.LayerID)
	if err != nil {
		return nil, fmt.Errorf("compare container %s with its image: %w", id, err)
	}
	out := make([]Change, 0, len(changes))
	for _, ch := range changes {
		k := "C"
		switch ch.Kind {
		case archive.ChangeAdd:
			k = "A"
		case archive.ChangeDelete:
			k = "D"
		}
		out = append(out, Change{Kind: k, Path: ch.Path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
