package buildctx

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"go.podman.io/storage/pkg/archive"
)

// openNoFollow opens a regular file that must not be a symlink (it was
// resolved already: one swapped in since must not lead elsewhere).
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
}

// isTar says whether r holds a tar archive, compressed with anything
// Docker's ADD unpacks (gzip, bzip2, xz, zstd) or not.
func isTar(r io.Reader) bool {
	rc, err := archive.DecompressStream(r)
	if err != nil {
		return false
	}
	defer rc.Close()
	_, err = tar.NewReader(rc).Next()
	return err == nil
}

// Digest adds what the copy of srcs would write to h: for every entry,
// its path below its source, its type, permission bits and, for a
// symlink, its target, for a regular file the SHA-256 of its content. Not
// owners (COPY sets them) and not times: the cache keys on content.
func (t *Tree) Digest(srcs []Source, h io.Writer) error {
	buf := make([]byte, 256<<10)
	for _, s := range srcs {
		fmt.Fprintf(h, "source %q\n", s.Name)
		err := t.Walk(s, func(e Entry) error {
			mode := e.Info.Mode()
			fmt.Fprintf(h, "%q %o %d", e.Rel, uint32(mode.Type()|mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)), e.Info.Size())
			switch {
			case mode&fs.ModeSymlink != 0:
				fmt.Fprintf(h, " -> %q", e.Link)
			case mode.IsRegular():
				sum, err := fileSum(e, buf)
				if err != nil {
					return err
				}
				fmt.Fprintf(h, " %s", sum)
			}
			fmt.Fprintln(h)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// fileSum is the SHA-256 of a regular file's content.
func fileSum(e Entry, buf []byte) (string, error) {
	f, err := e.Open()
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return "", fmt.Errorf("read %s: %w", e.Rel, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Unpack writes the tar archive r (compressed with anything ADD knows, or
// not) into dir: a context given as an archive or on stdin. Owners are
// not kept (COPY sets them), and no entry may land outside dir.
func Unpack(r io.Reader, dir string) error {
	if err := archive.Untar(r, dir, &archive.TarOptions{NoLchown: true, InUserNS: true}); err != nil {
		return fmt.Errorf("unpack the build context: %w", err)
	}
	return nil
}
