// Package image is box's image and layer store: it opens containers/storage
// with a storage driver that really works in box's user namespace, loads and
// imports images through containers/image, resolves what the user typed to
// an image, and creates, mounts and deletes container layers.
//
// Every function here must run inside box's user namespace (the stage), with
// _CONTAINERS_USERNS_CONFIGURED=1 set so that containers/storage treats the
// process as rootless. Do not use it from the host-side box process: layers
// written there would get the wrong owners, and mounts would fail.
package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"

	"github.com/boxcli/box/diskreserve"
)

var (
	// ErrImageNotFound means no stored image matches the reference.
	ErrImageNotFound = errors.New("image not found")
	// ErrBadReference means the reference is not a valid image name or ID.
	ErrBadReference = errors.New("invalid image reference")
	// ErrAmbiguous means a short name or ID prefix matches several images.
	ErrAmbiguous = errors.New("image reference is ambiguous")
	// ErrImageInUse means an image cannot be removed because containers use it.
	ErrImageInUse = errors.New("image is in use by containers")
	// ErrDriverUnavailable means the requested storage driver does not work here.
	ErrDriverUnavailable = errors.New("storage driver unavailable")
	// ErrBadFormat means a file given to Load or Import is not an image
	// archive or rootfs tarball box understands.
	ErrBadFormat = errors.New("unrecognised image format")
)

// usernsEnv is what containers/storage's unshare.IsRootless reads: without
// it, root in a user namespace looks like real root, and overlay mounts lack
// userxattr (deleting a lower directory then fails with EIO).
const usernsEnv = "_CONTAINERS_USERNS_CONFIGURED"

// Driver names as box reports them.
const (
	DriverOverlay = "overlay"
	DriverFuse    = "fuse-overlayfs"
	DriverVFS     = "vfs"
)

// Options says where the store lives and which driver to use.
type Options struct {
	GraphRoot string // e.g. ~/.local/share/box/storage
	RunRoot   string // e.g. $XDG_RUNTIME_DIR/box/storage; each driver gets a subdirectory
	// Driver is "" (pick the best that works), DriverOverlay, DriverFuse or DriverVFS.
	Driver string
	// Warnf receives one-line warnings for the user; it may be nil.
	Warnf func(format string, args ...any)
}

// Store is an open containers/storage store. Close it before the process
// exits: the overlay driver leaves a bind mount behind otherwise.
type Store struct {
	store  storage.Store
	driver string
	sys    *types.SystemContext
	policy *signature.Policy
	tmpDir string
	// tmpLock holds tmpDir's lock: its temporary files are in use.
	tmpLock *os.File
	// mounted are the containers this Store mounted, the only ones Close
	// may unmount: mount counts in the run root are shared by every box
	// process, but each mount lives in one stage's namespace.
	mounted map[string]bool
	// single is set when the namespace maps one id; warnf is Options.Warnf.
	single bool
	warnf  func(format string, args ...any)
	// reserve is what lets removals work on a full disk (see Reserve).
	reserve diskreserve.Reserve
}

// Files and directories box keeps next to containers/storage's own in GraphRoot.
const (
	tmpDirName       = "box-tmp"
	cacheDirName     = "box-blobinfocache"
	registriesConf   = "box-registries.conf"
	overlayProbeFile = "box-overlay-probe"
	reserveFile      = "box-reserve"
)

// Reserve is the store's reserve of disk space (package diskreserve): on
// a full disk, containers/storage cannot delete a layer, as it rewrites
// its records first, and a monitor cannot record how its container ended.
// Every Open makes it where there is room.
func Reserve(graphRoot string) diskreserve.Reserve {
	return diskreserve.New(filepath.Join(graphRoot, reserveFile))
}

// Open opens the store in opts.GraphRoot, choosing the storage driver as
// described in Options.Driver.
func Open(opts Options) (*Store, error) {
	if os.Getenv(usernsEnv) == "" {
		return nil, fmt.Errorf("open image store: %s is not set; the caller must set it inside box's user namespace (programming error)", usernsEnv)
	}
	if opts.GraphRoot == "" || opts.RunRoot == "" {
		return nil, errors.New("open image store: GraphRoot and RunRoot must be set")
	}
	if !filepath.IsAbs(opts.GraphRoot) || !filepath.IsAbs(opts.RunRoot) {
		return nil, fmt.Errorf("open image store: GraphRoot %q and RunRoot %q must be absolute", opts.GraphRoot, opts.RunRoot)
	}
	warnf := opts.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	for _, dir := range []string{opts.GraphRoot, opts.RunRoot} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	sys, err := systemContext(opts.GraphRoot)
	if err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	single, err := singleIDNamespace()
	if err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	// What killed pulls and loads left (see tmpdir.go); then a place of
	// this store's own.
	shared := sys.BigFilesTemporaryDir
	if err := sweepTmp(shared, time.Now()); err != nil {
		warnf("remove what killed box processes left in %s: %v", shared, err)
	}
	tmpDir, tmpLock, err := privateTmp(shared)
	if err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	sys.BigFilesTemporaryDir = tmpDir
	st, driver, err := openDriver(opts, warnf)
	if err != nil {
		os.RemoveAll(tmpDir)
		tmpLock.Close()
		return nil, err
	}
	reserve := Reserve(opts.GraphRoot)
	_ = reserve.Ensure() // best effort: a store works without
	return &Store{
		store:   st,
		driver:  driver,
		sys:     sys,
		policy:  &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}},
		tmpDir:  tmpDir,
		tmpLock: tmpLock,
		single:  single,
		warnf:   warnf,
		reserve: reserve,
	}, nil
}

// freeing runs op, which frees space (it deletes what): if the disk is
// too full for it, it runs again with the reserve given back, and says so.
func (s *Store) freeing(what string, op func() error) error {
	used, err := s.reserve.Retry(op)
	if used && err == nil {
		s.warnf("the filesystem of %s is full: box used its reserve to delete %s", s.store.GraphRoot(), what)
	}
	return err
}

// systemContext keeps the host's /etc/containers and /var/tmp out of box:
// every path containers/image would read or write points into GraphRoot.
func systemContext(graphRoot string) (*types.SystemContext, error) {
	tmp := filepath.Join(graphRoot, tmpDirName)
	cache := filepath.Join(graphRoot, cacheDirName)
	for _, dir := range []string{tmp, cache} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	// containers/image refuses a registries.conf path that does not exist,
	// so an empty one stands for "no registries configured" until pulls come.
	conf := filepath.Join(graphRoot, registriesConf)
	f, err := os.OpenFile(conf, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	return &types.SystemContext{
		BigFilesTemporaryDir:        tmp,
		BlobInfoCacheDir:            cache,
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: filepath.Join(graphRoot, "box-registries.conf.d"),
		RegistriesDirPath:           filepath.Join(graphRoot, "box-registries.d"),
		AuthFilePath:                filepath.Join(graphRoot, "box-auth.json"),
		SignaturePolicyPath:         filepath.Join(graphRoot, "box-policy.json"),
	}, nil
}

// Driver names the storage driver in use: DriverOverlay, DriverFuse or DriverVFS.
func (s *Store) Driver() string { return s.driver }

// Close shuts the store down, unmounting whatever it still has mounted.
func (s *Store) Close() error {
	var errs []error
	for id := range s.mounted {
		if err := s.Unmount(id); err != nil {
			errs = append(errs, err)
		}
	}
	// Never Shutdown(true): it force-unmounts every layer the shared mount
	// counts name, i.e. other stages' running containers, and removes their
	// merged directories, and removing a mount point detaches the mounts on
	// it in every namespace (Linux >= 3.18): a neighbour would lose its root
	// filesystem. Other containers still counted as mounted make Shutdown
	// report ErrLayerUsedByContainer and skip the driver's cleanup; that only
	// concerns mounts in this stage's namespace, which dies with it.
	if _, err := s.store.Shutdown(false); err != nil && !errors.Is(err, storage.ErrLayerUsedByContainer) {
		errs = append(errs, fmt.Errorf("shut down image store: %w", err))
	}
	if err := os.RemoveAll(s.tmpDir); err != nil {
		errs = append(errs, err)
	}
	s.tmpLock.Close()
	return errors.Join(errs...)
}

func (s *Store) policyContext() (*signature.PolicyContext, error) {
	pc, err := signature.NewPolicyContext(s.policy)
	if err != nil {
		return nil, fmt.Errorf("create signature policy context: %w", err)
	}
	return pc, nil
}
