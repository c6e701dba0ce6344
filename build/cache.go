package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"github.com/boxcli/box/atomicfile"
)

// FileCache is the step cache on disk: a file per key, named by it,
// holding the layer the step made. Writes are atomic renames, so builds
// running at once may race to fill the same key and both win. An entry
// whose layer is gone (pruned, removed with its image) is a miss.
type FileCache struct{ Dir string }

// Get is the layer key names.
func (c FileCache) Get(key digest.Digest) (string, bool) {
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return "", false
	}
	id := strings.TrimSpace(string(b))
	return id, id != ""
}

// Put records that key made layer.
func (c FileCache) Put(key digest.Digest, layer string) error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	// No fsync: a cache entry lost in a crash costs a rebuild of a step.
	return atomicfile.WriteFileNoSync(c.path(key), []byte(layer+"\n"), 0o600)
}

func (c FileCache) path(key digest.Digest) string {
	return filepath.Join(c.Dir, key.Encoded())
}

// Clear removes every entry.
func (c FileCache) Clear() error {
	if err := os.RemoveAll(c.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
