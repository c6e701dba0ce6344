package stage

import (
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/boxcli/box/image"
)

// progress is where pull and push report: the user's stderr, as bars when
// it is a terminal, one line per blob otherwise, nothing with --quiet. A
// stage that goes on as a monitor must not hold the user's stderr, so it
// sends its progress as replies (Request.ProgressReplies).
func (s *stage) progress(quiet bool) (io.Writer, bool) {
	switch {
	case quiet:
		return nil, false
	case s.req.ProgressReplies:
		return progressReplies{s.out}, s.req.ProgressTerminal
	}
	return os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))
}

type progressReplies struct{ out *replier }

func (p progressReplies) Write(b []byte) (int, error) {
	p.out.send(Reply{Progress: string(b)})
	return len(b), nil
}

func (s *stage) registryOptions(r *PullRequest) {
	if r.Registry.ConfigDir == "" {
		r.Registry.ConfigDir = s.req.Dirs.Config
	}
}

func (s *stage) pull(ctx context.Context, is *image.Store, r *PullRequest) (*image.Image, error) {
	s.registryOptions(r)
	w, tty := s.progress(r.Quiet)
	return is.Pull(ctx, r.Ref, image.PullOptions{
		Policy:   r.Policy,
		Registry: r.Registry,
		Progress: w,
		Terminal: tty,
		Warnf:    s.out.warnf,
	})
}

func (s *stage) push(ctx context.Context, is *image.Store, r *PullRequest) error {
	s.registryOptions(r)
	w, tty := s.progress(r.Quiet)
	return is.Push(ctx, r.Ref, r.Dest, image.PushOptions{Registry: r.Registry, Progress: w, Terminal: tty})
}

// imageForRun finds the image to run, pulling it as --pull says: missing
// (the default) only when it is not stored, always, newer, or never.
func (s *stage) imageForRun(ctx context.Context, is *image.Store, ref string, r *PullRequest) (*image.Image, error) {
	if r == nil || r.Policy == image.PullNever {
		return is.Lookup(ctx, ref)
	}
	if r.Policy == image.PullMissing || r.Policy == "" {
		img, err := is.Lookup(ctx, ref)
		if err == nil || !errors.Is(err, image.ErrImageNotFound) {
			return img, err
		}
	}
	pr := *r
	pr.Ref = ref
	img, err := s.pull(ctx, is, &pr)
	if err == nil {
		s.event("image", "pull", img.ID, map[string]string{"name": ref})
	}
	return img, err
}
