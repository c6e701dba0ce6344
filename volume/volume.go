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
	"os"
	"path/filepath"
	"strings"
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
