package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/events"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/logbridge"
	"github.com/boxcli/box/subreaper"
	"github.com/boxcli/box/userns"
)

// The stage's inherited descriptors, in the order client.go passes them.
const (
	fdRequest = 3
	fdReplies = 4
	fdConsole = 5 // /dev/null when there is no console
	fdNetNS   = 6 // --network container:NAME or ns:PATH
)

// replier writes the stage's answer, one JSON line per reply.
type replier struct {
	mu     sync.Mutex
	f      *os.File
	enc    *json.Encoder
	closed bool
}

func (r *replier) send(rep Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		_ = r.enc.Encode(rep)
	}
}

// finish sends the last reply and closes the pipe: the CLI returns while
// this stage goes on as a detached container's monitor.
func (r *replier) finish(rep Reply) {
	r.send(rep)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.f.Close()
}

// started tells a foreground run's CLI that the container runs.
func (r *replier) started() { r.send(Reply{Started: true}) }

func (r *replier) warnf(format string, args ...any) {
	r.send(Reply{Warning: fmt.Sprintf(format, args...)})
}

// stage holds what one request needs.
type stage struct {
	req Request
	out *replier
	// requests is the request pipe, which a CgroupMsg may follow.
	requests *json.Decoder
	// hostProc is the host's /proc (see openHostProc); nil if unknown.
	hostProc *os.File
}

// awaitCgroup waits for the cgroup the CLI makes while this stage works,
// if it makes one, and sets s.req.Cgroup. It must be called before the
// stage forks anything that belongs in the container's cgroup.
func (s *stage) awaitCgroup() error {
	if !s.req.CgroupFollows {
		return nil
	}
	s.req.CgroupFollows = false
	var m CgroupMsg
	if err := s.requests.Decode(&m); err != nil {
		return fmt.Errorf("read the container's cgroup from box: %w", err)
	}
	if m.Error != "" {
		return errors.New(m.Error)
	}
	s.req.Cgroup = m.Path
	return nil
}

// Main is the Stage role.
func Main() int {
	if err := userns.WaitMapped(); err != nil {
		fmt.Fprintf(os.Stderr, "box: %v\n", err)
		return 125
	}
	// Its inherited fds are close-on-exec (main.go): no helper the stage
	// starts (fuse-overlayfs daemons, containers/storage's re-execs) holds
	// the reply pipe open, which would keep a detached run from ever
	// answering. What the init needs it gets explicitly.
	rf := os.NewFile(fdReplies, "replies")
	out := &replier{f: rf, enc: json.NewEncoder(rf)}
	var req Request
	requests := json.NewDecoder(os.NewFile(fdRequest, "request"))
	if err := requests.Decode(&req); err != nil {
		out.send(Reply{Error: &Error{Msg: fmt.Sprintf("read request: %v", err)}})
		return 125
	}
	// What containers/storage and containers/image log goes to the CLI
	// as warnings, not raw to stderr.
	logbridge.Install(func(msg string) { out.warnf("%s", msg) }, req.Debug)
	// containers/storage must see itself as rootless (it then mounts
	// overlay with userxattr and probes what the kernel allows) even
	// though it runs as root here: deps.md pitfall 5.
	os.Setenv("_CONTAINERS_USERNS_CONFIGURED", "1")
	// And who the user is outside, or containers/image takes uid 0 for
	// real root and reads root's /var/lib/containers and /var/cache.
	os.Setenv("_CONTAINERS_ROOTLESS_UID", strconv.Itoa(int(req.HostUID)))
	// Mounts made here must never propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		out.send(Reply{Error: &Error{Msg: fmt.Sprintf("make mounts private: %v", err)}})
		return 125
	}
	// A /proc of the stage's own pid namespace, so the pids of its children
	// name the right processes (keep-id writes their id maps). Host pids
	// therefore mean nothing here: liveness and kills stay in the CLI. The
	// host's, kept open, only tells the container's PID 1 for its record.
	hostProc := openHostProc()
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		out.send(Reply{Error: &Error{Msg: fmt.Sprintf("mount /proc for box's pid namespace: %v", err)}})
		return 125
	}
	// PID 1 of its pid namespace, the stage inherits whatever is orphaned
	// in it: above all a healthcheck's or exec's child in the container,
	// once nsenter, which forked it, is gone. Unreaped, one such zombie
	// keeps the container's pid namespace, and so the wait for its init,
	// from ever ending.
	defer subreaper.Start()()
	s := &stage{req: req, out: out, requests: requests, hostProc: hostProc}
	result, exit, err := s.dispatch(context.Background())
	switch {
	case err != nil:
		out.send(Reply{Error: wireError(err)})
	case exit != nil:
		out.send(Reply{Exit: exit})
	default:
		raw, err := json.Marshal(result)
		if err != nil {
			out.send(Reply{Error: wireError(err)})
			return 125
		}
		out.send(Reply{Result: raw})
	}
	return 0
}

func (s *stage) dispatch(ctx context.Context) (any, *int, error) {
	switch s.req.Op {
	case OpRun:
		code, err := s.run(ctx, s.req.Run)
		if err != nil {
			return nil, nil, err
		}
		return nil, &code, nil
	case OpCreate:
		res, err := s.createOnly(ctx, s.req.Run)
		return res, nil, err
	case OpStart:
		code, err := s.startExisting(s.req.Start)
		if err != nil {
			return nil, nil, err
		}
		return nil, &code, nil
	case OpImages:
		return s.withImages(func(is *image.Store) (any, error) { return is.Images() })
	case OpLoad:
		return s.withImages(func(is *image.Store) (any, error) { return is.Load(ctx, s.req.Load.Path) })
	case OpImport:
		r := s.req.Import
		return s.withImages(func(is *image.Store) (any, error) {
			return is.Import(ctx, r.Source, os.Stdin, r.Name, r.Changes, r.Message)
		})
	case OpRemove:
		res, err := s.remove(s.req.Remove)
		return res, nil, err
	case OpSave, OpTag, OpRemoveImages, OpPruneImages, OpInspectImage, OpHistory:
		return s.withImages(func(is *image.Store) (any, error) { return s.manageImages(ctx, is, s.req.Image) })
	case OpPull:
		return s.withImages(func(is *image.Store) (any, error) {
			img, err := s.pull(ctx, is, s.req.Pull)
			if err != nil {
				return nil, err
			}
			s.event("image", "pull", img.ID, map[string]string{"name": s.req.Pull.Ref})
			return img.ID, nil
		})
	case OpPush:
		return s.withImages(func(is *image.Store) (any, error) {
			if err := s.push(ctx, is, s.req.Pull); err != nil {
				return nil, err
			}
			s.event("image", "push", s.req.Pull.Ref, map[string]string{"name": s.req.Pull.Dest})
			return nil, nil
		})
	case OpSizes:
		return s.withImages(func(is *image.Store) (any, error) {
			sizes := map[string]image.ContainerSize{}
			for _, id := range s.req.IDs {
				// A container that has no layer (--rootfs) or lost it has
				// no size to show.
				if sz, err := is.Size(id); err == nil {
					sizes[id] = sz
				}
			}
			return sizes, nil
		})
	case OpPruneBuildCache:
		return s.withImages(func(is *image.Store) (any, error) { return s.pruneBuildCache(is) })
	case OpBuild:
		return s.withImages(func(is *image.Store) (any, error) { return s.build(ctx, is, s.req.Build) })
	case OpCommit:
		return s.withImages(func(is *image.Store) (any, error) { return s.commit(ctx, is, s.req.Commit) })
	case OpDiskUsage:
		return s.withImages(func(is *image.Store) (any, error) { return s.diskUsage(is) })
	case OpReset:
		return nil, nil, s.reset()
	case OpRemoveVolumes:
		return nil, nil, s.removeVolumeNames(s.req.IDs)
	case OpCopy, OpDiff, OpExport:
		res, err := s.files(s.req.Copy)
		return res, nil, err
	case OpUnshare:
		code, err := s.unshare(s.req.Unshare)
		if err != nil {
			return nil, nil, err
		}
		return nil, &code, nil
	}
	return nil, nil, fmt.Errorf("unknown stage op %q", s.req.Op)
}

func (s *stage) openImages() (*image.Store, error) { return s.openImagesWith(s.req.Driver) }

func (s *stage) openImagesWith(driver string) (*image.Store, error) {
	return image.Open(image.Options{
		GraphRoot: s.req.Dirs.Storage(),
		RunRoot:   s.req.Dirs.StorageRun(),
		Driver:    driver,
		Warnf:     s.out.warnf,
	})
}

func (s *stage) withImages(fn func(*image.Store) (any, error)) (any, *int, error) {
	is, err := s.openImages()
	if err != nil {
		return nil, nil, err
	}
	defer is.Close()
	res, err := fn(is)
	return res, nil, err
}

// event records what happened for box events; a failure to record is not
// the user's command's failure.
func (s *stage) event(typ, action, id string, attrs map[string]string) {
	_ = events.Open(s.req.Dirs.Events()).Append(events.Event{Type: typ, Action: action, ID: id, Attributes: attrs})
}

func (s *stage) containers() (*container.Store, error) {
	return container.Open(s.req.Dirs.Containers())
}
