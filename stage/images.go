package stage

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/boxcli/box/image"
)

// manageImages runs the image management ops.
func (s *stage) manageImages(ctx context.Context, is *image.Store, r *ImageRequest) (any, error) {
	if r == nil {
		return nil, fmt.Errorf("%s: no arguments", s.req.Op)
	}
	switch s.req.Op {
	case OpSave:
		if r.Dest == "" {
			// To the CLI's stdout, which this stage shares. A reader that
			// gives up (box save | head) must end the save with EPIPE,
			// not kill the stage, which would leave no answer.
			sigpipe := make(chan os.Signal, 1)
			signal.Notify(sigpipe, syscall.SIGPIPE)
			defer signal.Stop(sigpipe)
			return nil, toStdout(is.SaveTo(ctx, r.Refs, os.Stdout, r.Format))
		}
		return nil, is.Save(ctx, r.Refs, r.Dest, r.Format)
	case OpTag:
		if err := is.Tag(r.Refs[0], r.Name); err != nil {
			return nil, err
		}
		s.event("image", "tag", r.Refs[0], map[string]string{"name": r.Name})
		return nil, nil
	case OpRemoveImages:
		var refs []string
		var refused []error
		for _, ref := range r.Refs {
			if img, err := is.Lookup(ctx, ref); err == nil && r.Running[img.ID] != "" {
				refused = append(refused, fmt.Errorf("image %s is used by running container %s: stop it first: %w", ref, r.Running[img.ID], image.ErrImageInUse))
				continue
			}
			refs = append(refs, ref)
		}
		rep, errs := is.Remove(refs, r.Force)
		s.imageEvents(rep)
		res := removeResult(rep)
		for _, err := range append(refused, errs...) {
			res.Errors = append(res.Errors, wireError(err))
		}
		return res, s.forgetContainers(rep.Containers)
	case OpPruneImages:
		rep, err := is.Prune(r.All)
		if err != nil {
			return nil, err
		}
		s.imageEvents(rep)
		res := removeResult(rep)
		// Builds' leftovers go with the images (box image prune clears
		// the build cache).
		if res.BuildCache, err = s.pruneBuildCache(is); err != nil {
			res.Errors = append(res.Errors, wireError(err))
		}
		return res, nil
	case OpInspectImage:
		var out []*image.Inspect
		for _, ref := range r.Refs {
			in, err := is.Inspect(ctx, ref)
			if err != nil {
				return nil, err
			}
			out = append(out, in)
		}
		return out, nil
	case OpHistory:
		return is.History(ctx, r.Refs[0])
	}
	return nil, fmt.Errorf("unknown image op %q", s.req.Op)
}

// imageEvents records what rmi and prune did.
func (s *stage) imageEvents(rep image.RemoveReport) {
	for _, n := range rep.Untagged {
		s.event("image", "untag", n, map[string]string{"name": n})
	}
	for _, id := range rep.Deleted {
		s.event("image", "delete", id, nil)
	}
}

func removeResult(rep image.RemoveReport) *RemoveImagesResult {
	return &RemoveImagesResult{Untagged: nonNil(rep.Untagged), Deleted: nonNil(rep.Deleted)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// forgetContainers removes the records of containers whose layers rmi -f
// deleted with their image, as podman does.
func (s *stage) forgetContainers(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	records, err := s.containers()
	if err != nil {
		return err
	}
	for _, id := range ids {
		_ = records.Remove(id)
	}
	return nil
}
