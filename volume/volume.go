// Package volume keeps box's volumes: directories a container's data
// lives in apart from its layer, each at DIR/NAME/_data (podman's layout).
// An anonymous volume (-v /path, an image's VOLUME) is named by 64 random
// hex digits and goes with its container on rm -v or --rm.
//
// It only makes and removes directories; it must run where their files'
// owners are mapped (box's stage), since containers fill them with files
// of subordinate ids.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Store is the directory volumes live in.
type Store struct{ dir string }

// Open uses dir (created when the first volume is).
func Open(dir string) *Store { return &Store{dir: dir} }

// ErrBadName is a volume name that cannot be a directory name here.
var ErrBadName = errors.New("invalid volume name")

// Path is where volume name's data is.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name, "_data") }

// CreateAnonymous makes a new volume with a random name.
func (s *Store) CreateAnonymous() (name string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	name = hex.EncodeToString(b)
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", fmt.Errorf("create volume directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(s.dir, name), 0o700); err != nil {
		return "", fmt.Errorf("create volume %s: %w", name[:12], err)
	}
	// The container's root owns its data; 0755 like Docker's fresh volume.
	if err := os.Mkdir(s.Path(name), 0o755); err != nil {
		_ = os.RemoveAll(filepath.Join(s.dir, name))
		return "", fmt.Errorf("create volume %s: %w", name[:12], err)
	}
	return name, nil
}

// validName is Docker's rule for volume names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CheckName refuses a name Docker would refuse.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%w %q: two or more of a-z A-Z 0-9 _ . -, starting with a letter or digit", ErrBadName, name)
	}
	return nil
}

// Create makes the named volume if it does not exist yet, and says
// whether it did.
func (s *Store) Create(name string) (created bool, err error) {
	if err := CheckName(name); err != nil {
		return false, err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return false, fmt.Errorf("create volume directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(s.dir, name), 0o700); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Mkdir(s.Path(name), 0o755); err != nil {
		_ = os.RemoveAll(filepath.Join(s.dir, name))
		return false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return true, nil
}

// Info is what box volume ls and inspect show of a volume.
type Info struct {
	Name       string
	Mountpoint string
	CreatedAt  time.Time
	// Anonymous: named by box (64 hex digits), for -v /path or VOLUME.
	Anonymous bool
}

// Get describes volume name; a missing one Is fs.ErrNotExist.
func (s *Store) Get(name string) (Info, error) {
	if CheckName(name) != nil {
		return Info{}, fmt.Errorf("volume %q: %w", name, fs.ErrNotExist)
	}
	fi, err := os.Stat(s.Path(name))
	if err != nil {
		return Info{}, fmt.Errorf("volume %s: %w", name, fs.ErrNotExist)
	}
	return Info{Name: name, Mountpoint: s.Path(name), CreatedAt: fi.ModTime().UTC(), Anonymous: anonymous(name)}, nil
}

// List describes every volume, by name.
func (s *Store) List() ([]Info, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []Info
	for _, e := range ents {
		if i, err := s.Get(e.Name()); err == nil {
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func anonymous(name string) bool {
	if len(name) != 64 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

// Remove deletes volume name and its data; a missing one is no error.
func (s *Store) Remove(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// Empty says whether volume name holds no files yet: a new volume gets a
// copy of what the image has at its mount point.
func (s *Store) Empty(name string) bool {
	d, err := os.Open(s.Path(name))
	if err != nil {
		return false
	}
	defer d.Close()
	names, _ := d.Readdirnames(1)
	return len(names) == 0
}

// fillPrefix names the private directories Fill makes beside a volume's
// _data, where no container sees them.
const fillPrefix = ".fill-"

// Fill gives volume name its first contents (what the image has at the
// mount point). fill makes them in a new directory of the volume's own,
// beside _data, that no container sees; each top-level entry is then
// renamed into _data (renameat2 RENAME_NOREPLACE between two directory
// handles). A container that shares the volume and runs meanwhile thus
// sees each entry appear whole, and has nothing half-made to swap for a
// symlink: nothing is ever written by path in a directory a container can
// change. An entry the volume got meanwhile is kept, not replaced. The
// volume's root keeps its own owner and mode, as with a copy straight
// into it.
func (s *Store) Fill(name string, fill func(dir string) error) error {
	vdir := filepath.Join(s.dir, name)
	sweepFills(vdir)
	tmp, err := os.MkdirTemp(vdir, fillPrefix)
	if err != nil {
		return fmt.Errorf("fill volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	src, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("fill volume %s: %w", name, err)
	}
	defer src.Close()
	// Held until the end: the lock tells a live fill from a dead one's
	// leftovers (sweepFills).
	if err := unix.Flock(int(src.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("fill volume %s: %w", name, err)
	}
	if err := fill(tmp); err != nil {
		return err
	}
	dst, err := os.OpenFile(s.Path(name), unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fill volume %s: %w", name, err)
	}
	defer dst.Close()
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("fill volume %s: %w", name, err)
	}
	for _, n := range names {
		if err := moveIn(int(src.Fd()), int(dst.Fd()), n); err != nil {
			return fmt.Errorf("fill volume %s: move %s in: %w", name, n, err)
		}
	}
	return nil
}

// moveIn renames n from the directory from to the directory to, unless
// to has an n already.
func moveIn(from, to int, n string) error {
	err := unix.Renameat2(from, n, to, n, unix.RENAME_NOREPLACE)
	switch {
	case err == nil, errors.Is(err, unix.EEXIST):
		return nil
	case !errors.Is(err, unix.EINVAL):
		return err
	}
	// A filesystem without RENAME_NOREPLACE: look first. What appears in
	// between is replaced, inside the volume all the same.
	var st unix.Stat_t
	if err := unix.Fstatat(to, n, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return nil
	}
	return unix.Renameat(from, n, to, n)
}

// sweepFills removes what fills that died (a stage killed mid-copy) left
// in the volume's directory: a live fill holds its directory's lock.
func sweepFills(vdir string) {
	ents, err := os.ReadDir(vdir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), fillPrefix) {
			continue
		}
		p := filepath.Join(vdir, e.Name())
		d, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			_ = os.RemoveAll(p)
		}
		d.Close()
	}
}
