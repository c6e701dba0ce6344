package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/dockerfile"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/rootfs"
)

// ErrSecretMissing: a RUN needs a secret the build was not given.
var ErrSecretMissing = errors.New("secret not provided")

// network is the network a RUN gets: its own --network, else the
// build's.
func (b *builder) network(n string) string {
	switch n {
	case instructions.NetworkNone, instructions.NetworkHost:
		return n
	}
	return b.o.Network
}

// sandboxPaths are what the sandbox mounts over in any root file system:
// where missing, it makes them, and the run must not leave them behind.
var sandboxPaths = []string{"/proc", "/dev", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

// run runs a RUN step's command in the layer mounted at root.
func (b *builder) run(ctx context.Context, st *dockerfile.Stage, step *dockerfile.Step, root string) ([]image.KeptDir, error) {
	rs := step.Run
	// The working directory is made if missing, as BuildKit does.
	d, err := openDest(root)
	if err != nil {
		return nil, err
	}
	dir, err := d.resolve(rs.Dir)
	if err != nil {
		d.close()
		return nil, err
	}
	h, err := d.mkdirAll(dir, ids{})
	d.close()
	if err != nil {
		return nil, fmt.Errorf("working directory %s: %w", rs.Dir, err)
	}
	h.Close()
	mounts, env, release, err := b.runMounts(ctx, rs)
	defer release()
	if err != nil {
		return nil, err
	}
	targets := append([]string{}, sandboxPaths...)
	for _, m := range mounts {
		targets = append(targets, m.Destination)
	}
	stubs := findStubs(root, targets)
	out := b.o.Out.output(st)
	code, err := b.o.Runner.Run(ctx, Process{
		Root: root, Args: rs.Args, Env: append(append([]string{}, rs.Env...), env...),
		User: rs.User, Dir: rs.Dir, Network: b.network(rs.Network), Mounts: mounts,
		Stdout: out, Stderr: out,
	})
	out.Close()
	stubs.remove()
	if err != nil {
		return nil, err
	}
	if code != 0 {
		b.o.Out.failed(out)
		return nil, &StepError{File: b.o.Dockerfile, Line: step.Line, Stage: b.stageName(st), Instruction: step.Instruction, Code: code}
	}
	return stubs.parents, nil
}

// runMounts prepares RUN --mount's (and heredoc scripts): what to mount,
// what to add to the environment (secrets given as variables), and how
// to let go of them afterwards.
func (b *builder) runMounts(ctx context.Context, rs *dockerfile.RunStep) (mounts []container.Mount, env []string, release func(), err error) {
	var releases []func()
	release = func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}
	for _, f := range rs.Files {
		p, err := b.scratchFile([]byte(f.Data), 0o755, ids{})
		if err != nil {
			return nil, nil, release, err
		}
		releases = append(releases, func() { os.Remove(p) })
		mounts = append(mounts, container.Mount{Type: "bind", Source: p, Destination: path.Join("/dev/pipes", f.Name), Options: []string{"ro"}})
	}
	for _, m := range rs.Mounts {
		switch m.Type {
		case instructions.MountTypeBind:
			src, rel, err := b.bindSource(ctx, m)
			if rel != nil {
				releases = append(releases, rel)
			}
			if err != nil {
				return nil, nil, release, err
			}
			if !m.ReadOnly {
				// rw: the command may write, and its writes are thrown away.
				fi, err := os.Stat(src)
				if err != nil {
					return nil, nil, release, err
				}
				if !fi.IsDir() {
					return nil, nil, release, fmt.Errorf("--mount=type=bind,rw of %s: only directories can be mounted read-write", m.Source)
				}
				scratch, err := os.MkdirTemp(b.o.TmpDir, "bind-")
				if err != nil {
					return nil, nil, release, err
				}
				view, err := rootfs.Overlay(src, filepath.Join(scratch, "view"), func(string, ...any) {})
				releases = append(releases, func() {
					_ = unix.Unmount(filepath.Join(scratch, "view"), unix.MNT_DETACH)
					_ = unix.Unmount(filepath.Join(scratch, "view.scratch"), unix.MNT_DETACH)
					os.RemoveAll(scratch)
				})
				if err != nil {
					return nil, nil, release, err
				}
				src = view
			}
			mounts = append(mounts, container.Mount{Type: "bind", Source: src, Destination: m.Target, Options: roOpt(m.ReadOnly)})
		case instructions.MountTypeCache:
			dir, rel, err := b.cacheMount(ctx, m)
			if rel != nil {
				releases = append(releases, rel)
			}
			if err != nil {
				return nil, nil, release, err
			}
			mounts = append(mounts, container.Mount{Type: "bind", Source: dir, Destination: m.Target, Options: roOpt(m.ReadOnly)})
		case instructions.MountTypeTmpfs:
			opts := []string{"mode=1777"}
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			mounts = append(mounts, container.Mount{Type: "tmpfs", Destination: m.Target, Options: opts})
		case instructions.MountTypeSecret:
			data, ok := b.o.Secrets[m.CacheID]
			if !ok {
				if m.Required {
					return nil, nil, release, fmt.Errorf("%w: %s (give it with --secret id=%s,src=FILE)", ErrSecretMissing, m.CacheID, m.CacheID)
				}
				continue
			}
			if m.Env != nil {
				env = append(env, *m.Env+"="+string(data))
			}
			if m.Target == "" {
				continue
			}
			owner := ids{}
			if m.UID != nil {
				owner.uid = int(*m.UID)
			}
			if m.GID != nil {
				owner.gid = int(*m.GID)
			}
			mode := uint32(0o400)
			if m.Mode != nil {
				mode = uint32(*m.Mode)
			}
			p, err := b.scratchFile(data, mode, owner)
			if err != nil {
				return nil, nil, release, err
			}
			releases = append(releases, func() { os.Remove(p) })
			mounts = append(mounts, container.Mount{Type: "bind", Source: p, Destination: m.Target, Options: []string{"ro"}})
		}
	}
	return mounts, env, release, nil
}

func roOpt(ro bool) []string {
	if ro {
		return []string{"ro"}
	}
	return nil
}

// scratchFile writes data to a new file of the build's scratch directory.
func (b *builder) scratchFile(data []byte, mode uint32, owner ids) (string, error) {
	f, err := os.CreateTemp(b.o.TmpDir, "file-")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Chown(owner.uid, owner.gid); err == nil {
		err = f.Chmod(fs.FileMode(mode))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// bindSource is where a bind mount's source is on this side: in the
// context, or in the mounted files of a stage or an image.
func (b *builder) bindSource(ctx context.Context, m *instructions.Mount) (string, func(), error) {
	var root string
	var release func()
	if m.From == "" {
		if b.o.Context == nil {
			return "", nil, fmt.Errorf("--mount=type=bind: %w", ErrNoContext)
		}
		root = b.o.Context.Root
	} else {
		st, img := b.fromStage(m.From)
		top, err := b.topLayerOf(ctx, st, img)
		if err != nil {
			return "", nil, err
		}
		tree, rel, err := b.mountTree(top)
		if err != nil {
			return "", nil, err
		}
		root, release = tree.Root, rel
	}
	src, err := securejoin.SecureJoin(root, m.Source)
	if err != nil {
		return "", release, err
	}
	if _, err := os.Stat(src); err != nil {
		return "", release, fmt.Errorf("--mount source %s: %w", m.Source, err)
	}
	return src, release, nil
}

// fromStage is the stage or image a from= names.
func (b *builder) fromStage(from string) (*dockerfile.Stage, string) {
	if i, err := strconv.Atoi(from); err == nil {
		for _, st := range b.o.Plan.Stages {
			if st.Index == i {
				return st, ""
			}
		}
	}
	for _, st := range b.o.Plan.Stages {
		if st.Name != "" && equalFold(st.Name, from) {
			return st, ""
		}
	}
	return nil, from
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// cacheMount is the directory of a RUN --mount=type=cache, kept between
// builds under box's data directory by id, and the lock its sharing
// mode takes: shared (the default) lets builds use it at once, locked
// makes them wait, private gives a second one a fresh directory.
func (b *builder) cacheMount(ctx context.Context, m *instructions.Mount) (string, func(), error) {
	if m.From != "" {
		return "", nil, errors.New("--mount=type=cache,from= is not supported")
	}
	sum := sha256.Sum256([]byte(m.CacheID))
	dir := filepath.Join(b.o.CacheMounts, hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(b.o.CacheMounts, 0o700); err != nil {
		return "", nil, err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", nil, err
	}
	release := func() { lock.Close() }
	how := unix.LOCK_SH
	switch m.CacheSharing {
	case instructions.MountSharingLocked:
		how = unix.LOCK_EX
	case instructions.MountSharingPrivate:
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			// In use: this run gets a directory of its own, thrown away.
			lock.Close()
			tmp, err := os.MkdirTemp(b.o.TmpDir, "cache-")
			if err != nil {
				return "", nil, err
			}
			if err := initCacheDir(tmp, m, false); err != nil {
				return "", nil, err
			}
			return tmp, func() { os.RemoveAll(tmp) }, nil
		}
		how = -1 // held already
	}
	if how >= 0 {
		if err := flockContext(ctx, lock, how); err != nil {
			lock.Close()
			return "", nil, err
		}
	}
	if err := initCacheDir(dir, m, true); err != nil {
		return "", release, err
	}
	src := dir
	if m.Source != "" {
		if src, err = securejoin.SecureJoin(dir, m.Source); err != nil {
			return "", release, err
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", release, err
		}
	}
	return src, release, nil
}

// initCacheDir makes a cache directory with the mount's owner and mode,
// if it is new.
func initCacheDir(dir string, m *instructions.Mount, keep bool) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) && keep {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	uid, gid, mode := 0, 0, uint32(0o755)
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if m.Mode != nil {
		mode = uint32(*m.Mode)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	return os.Chmod(dir, fs.FileMode(mode))
}

// flockContext takes a flock, giving up when ctx ends.
func flockContext(ctx context.Context, f *os.File, how int) error {
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), how) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// Closing the file (the caller does) ends the wait.
		return ctx.Err()
	}
}

// stub is a path the sandbox will make in a root file system that does
// not have it: top is the first missing element, leaf the path itself.
type stub struct{ top, leaf string }

// stubs are the mount points a run makes, and the directories they go
// in, as they were: making and removing the stubs must leave no trace.
type stubs struct {
	root    string
	list    []stub
	parents []image.KeptDir
}

// findStubs lists the targets (inside root, symlinks resolved as the
// sandbox resolves them) that do not exist yet.
func findStubs(root string, targets []string) *stubs {
	out := &stubs{root: root}
	seen := map[string]bool{}
	for _, t := range targets {
		real, err := securejoin.SecureJoin(root, t)
		if err != nil {
			continue
		}
		top := ""
		for p := real; p != root && len(p) > len(root); p = filepath.Dir(p) {
			if _, err := os.Lstat(p); err == nil {
				break
			}
			top = p
		}
		if top == "" {
			continue
		}
		out.list = append(out.list, stub{top: top, leaf: real})
		parent := filepath.Dir(top)
		if seen[parent] {
			continue
		}
		seen[parent] = true
		var st unix.Stat_t
		if err := unix.Lstat(parent, &st); err != nil {
			continue
		}
		rel, err := filepath.Rel(root, parent)
		if err != nil || rel == "." {
			continue // the root has no entry of its own in a layer
		}
		out.parents = append(out.parents, image.KeptDir{
			Path: "/" + filepath.ToSlash(rel), Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim,
		})
	}
	return out
}

// remove removes the mount points the sandbox made, where the command
// left them empty (they are not the step's doing), and gives their
// directories back their times.
func (s *stubs) remove() {
	for i := len(s.list) - 1; i >= 0; i-- {
		st := s.list[i]
		for p := st.leaf; ; p = filepath.Dir(p) {
			fi, err := os.Lstat(p)
			if err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
				break
			}
			if err == nil && os.Remove(p) != nil {
				break // not empty: the command put something there
			}
			if p == st.top || len(p) <= len(st.top) {
				break
			}
		}
	}
	for _, d := range s.parents {
		p := filepath.Join(s.root, filepath.FromSlash(d.Path))
		ts := []unix.Timespec{d.Mtime, d.Mtime}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
}
