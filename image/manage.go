package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.podman.io/storage"
)

// RemoveReport says what Remove or Prune did, in docker rmi's terms.
type RemoveReport struct {
	Untagged []string // names taken off images
	Deleted  []string // IDs of images deleted, with their unused layers
	// Containers are the container layers deleted with force because
	// they used a deleted image; their records are the caller's to remove.
	Containers []string
}

func (r *RemoveReport) add(o RemoveReport) {
	r.Untagged = append(r.Untagged, o.Untagged...)
	r.Deleted = append(r.Deleted, o.Deleted...)
	r.Containers = append(r.Containers, o.Containers...)
}

// Tag gives the image ref names the name newName as well. A name without
// a registry is stored under localhost/ and one without a tag gets
// "latest", as podman tags; an image that had the name loses it.
func (s *Store) Tag(ref, newName string) error {
	name, err := normalizeName(newName, "localhost")
	if err != nil {
		return fmt.Errorf("tag %s: %w", ref, err)
	}
	img, err := s.resolve(ref)
	if err != nil {
		return fmt.Errorf("tag %s: %w", ref, err)
	}
	if err := s.store.AddNames(img.ID, []string{name}); err != nil {
		return fmt.Errorf("tag %s as %s: %w", ref, name, err)
	}
	return nil
}

// Remove removes each of refs as RemoveImage does, going on past
// failures: the report says what was done, and there is one error for
// each ref that could not be removed.
func (s *Store) Remove(refs []string, force bool) (RemoveReport, []error) {
	var rep RemoveReport
	var errs []error
	for _, ref := range refs {
		r, err := s.remove(ref, force)
		rep.add(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errs
}

// RemoveImage removes what ref names. If ref is a name and the image has
// other names, only that name goes (like docker rmi of one tag). Otherwise
// the image goes, with all its names and the layers no other image or
// container uses, unless containers use it: then the error Is
// ErrImageInUse, or with force their layers are deleted first.
func (s *Store) RemoveImage(ref string, force bool) error {
	_, err := s.remove(ref, force)
	return err
}

func (s *Store) remove(ref string, force bool) (RemoveReport, error) {
	var rep RemoveReport
	img, err := s.resolve(ref)
	if err != nil {
		return rep, fmt.Errorf("remove image: %w", err)
	}
	if name, ok := namedBy(ref, img); ok && len(img.Names) > 1 {
		if err := s.store.RemoveNames(img.ID, []string{name}); err != nil {
			return rep, fmt.Errorf("untag %s: %w", name, err)
		}
		rep.Untagged = []string{name}
		return rep, nil
	}
	users, err := s.containersUsing()
	if err != nil {
		return rep, fmt.Errorf("remove image %s: %w", ref, err)
	}
	if len(users[img.ID]) > 0 && !force {
		return rep, fmt.Errorf("remove image %s: %w: %s; remove them first or use rmi -f", ref, ErrImageInUse, shortList(users[img.ID]))
	}
	for _, id := range users[img.ID] {
		if err := s.DeleteContainer(id); err != nil {
			return rep, fmt.Errorf("remove image %s: %w", ref, err)
		}
		rep.Containers = append(rep.Containers, id)
	}
	if err := s.deleteImage(img); err != nil {
		return rep, fmt.Errorf("remove image %s: %w", ref, err)
	}
	rep.Untagged = slices.Clone(img.Names)
	rep.Deleted = []string{img.ID}
	return rep, nil
}

// deleteImage deletes img and every layer of it that no other image or
// container uses (containers/storage walks down from the top layer and
// stops at the first shared one).
func (s *Store) deleteImage(img *storage.Image) error {
	err := s.freeing("image "+shortID(img.ID), func() error {
		_, err := s.store.DeleteImage(img.ID, true)
		return err
	})
	if errors.Is(err, storage.ErrImageUsedByContainer) {
		// A container was created since we looked.
		return fmt.Errorf("%w: %v", ErrImageInUse, err)
	}
	return err
}

// containersUsing maps image IDs to the IDs of the containers made from them.
func (s *Store) containersUsing() (map[string][]string, error) {
	cs, err := s.store.Containers()
	if err != nil {
		return nil, fmt.Errorf("list container layers: %w", err)
	}
	users := map[string][]string{}
	for _, c := range cs {
		users[c.ImageID] = append(users[c.ImageID], c.ID)
	}
	return users, nil
}

// Prune deletes the images no container uses: with all, every one of
// them; otherwise only the dangling ones, those without a name.
func (s *Store) Prune(all bool) (RemoveReport, error) {
	var rep RemoveReport
	imgs, err := s.store.Images()
	if err != nil {
		return rep, fmt.Errorf("prune images: %w", err)
	}
	users, err := s.containersUsing()
	if err != nil {
		return rep, fmt.Errorf("prune images: %w", err)
	}
	var errs []error
	for i := range imgs {
		img := &imgs[i]
		if len(users[img.ID]) > 0 || (!all && len(img.Names) > 0) {
			continue
		}
		err := s.deleteImage(img)
		switch {
		case errors.Is(err, ErrImageInUse), errors.Is(err, storage.ErrImageUnknown), errors.Is(err, storage.ErrNotAnImage):
			// Used or removed by another box since we listed: not ours to prune.
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("prune image %s: %w", img.ID, err))
			continue
		}
		rep.Untagged = append(rep.Untagged, img.Names...)
		rep.Deleted = append(rep.Deleted, img.ID)
	}
	return rep, errors.Join(errs...)
}

// MissingID is the ID docker history shows for rows other than the image's
// own: their intermediate images are not stored here.
const MissingID = "<missing>"

// HistoryEntry is one row of `box history`.
type HistoryEntry struct {
	ID         string // the image ID on the top row, MissingID below
	Created    time.Time
	CreatedBy  string
	Size       int64 // bytes the row's layer adds, uncompressed; 0 for an empty layer
	Comment    string
	EmptyLayer bool
}

// History lists how the image ref names was built, newest step first, as
// docker history does. Each history entry that made a layer is paired with
// the next layer from the bottom; layers beyond the history (configs that
// record none) get rows of their own.
func (s *Store) History(ctx context.Context, ref string) ([]HistoryEntry, error) {
	img, err := s.resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	cfg, _, err := s.imageConfig(ctx, img.ID)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", ref, err)
	}
	sizes, err := s.layerSizes(img.TopLayer)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", ref, err)
	}
	var rows []HistoryEntry
	next := 0
	for _, h := range cfg.History {
		row := HistoryEntry{CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if h.Created != nil {
			row.Created = *h.Created
		}
		if !h.EmptyLayer && next < len(sizes) {
			row.Size = sizes[next]
			next++
		}
		rows = append(rows, row)
	}
	for ; next < len(sizes); next++ {
		row := HistoryEntry{Size: sizes[next]}
		if cfg.Created != nil {
			row.Created = *cfg.Created
		}
		rows = append(rows, row)
	}
	slices.Reverse(rows)
	for i := range rows {
		rows[i].ID = MissingID
	}
	if len(rows) > 0 {
		rows[0].ID = img.ID
	}
	return rows, nil
}

// layerSizes returns the uncompressed sizes of the layer top and its
// parents, bottom first.
func (s *Store) layerSizes(top string) ([]int64, error) {
	var sizes []int64
	for id := top; id != ""; {
		l, err := s.store.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", id, err)
		}
		size := l.UncompressedSize
		if size <= 0 {
			// Layers made without a tar stream (none of box's today) do
			// not record it.
			if size, err = s.store.DiffSize(l.Parent, l.ID); err != nil {
				return nil, fmt.Errorf("size of layer %s: %w", id, err)
			}
		}
		sizes = append(sizes, size)
		id = l.Parent
	}
	slices.Reverse(sizes)
	return sizes, nil
}

// shortList names up to three containers by short ID, and counts the rest.
func shortList(ids []string) string {
	short := make([]string, 0, 3)
	for i, id := range ids {
		if i == 3 {
			return fmt.Sprintf("%s and %d more", strings.Join(short, ", "), len(ids)-3)
		}
		if len(id) > 12 {
			id = id[:12]
		}
		short = append(short, id)
	}
	return strings.Join(short, ", ")
}
