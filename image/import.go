package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/tarball"
	"go.podman.io/storage/pkg/archive"
)

// Import makes a one-layer image from a root filesystem, like docker
// import. src is a tar file (plain, gzip, bzip2, xz or zstd), a directory,
// or "-" for stdin. name may be "" for an untagged image; a name without a
// registry is stored under localhost/, as podman does for images made
// locally. changes are Dockerfile-like lines (see applyChanges) and message
// becomes the layer's history comment. It returns the image ID; on error no
// image from this call stays behind.
func (s *Store) Import(ctx context.Context, src string, stdin io.Reader, name string, changes []string, message string) (_ string, retErr error) {
	now := time.Now().UTC()
	cfg := ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH},
	}
	if err := applyChanges(&cfg.Config, changes); err != nil {
		return "", fmt.Errorf("import %s: %w", src, err)
	}
	var names []string
	if name != "" {
		n, err := normalizeName(name, "localhost")
		if err != nil {
			return "", fmt.Errorf("import %s: %w", src, err)
		}
		names = []string{n}
	}
	if message != "" {
		cfg.History = []ocispec.History{{Created: &now, Comment: message}}
	}

	dir, err := os.MkdirTemp(s.tmpDir, "import-")
	if err != nil {
		return "", fmt.Errorf("import %s: %w", src, err)
	}
	defer os.RemoveAll(dir)
	layer := filepath.Join(dir, "layer.tar")
	if err := writeLayer(src, stdin, layer); err != nil {
		return "", fmt.Errorf("import %s: %w", src, err)
	}
	ref, err := tarball.NewReference([]string{layer}, nil)
	if err != nil {
		return "", fmt.Errorf("import %s: %w", src, err)
	}
	updater, ok := ref.(tarball.ConfigUpdater)
	if !ok {
		return "", fmt.Errorf("import %s: tarball reference cannot take a config", src)
	}
	if err := updater.ConfigUpdate(cfg, nil); err != nil {
		return "", fmt.Errorf("import %s: %w", src, err)
	}

	tx := s.newTx()
	defer func() {
		if retErr != nil {
			if err := tx.rollback(); err != nil {
				retErr = errors.Join(retErr, err)
			}
		}
	}()
	got, err := s.copyIn(ctx, tx, ref, names)
	if err != nil {
		return "", fmt.Errorf("import %s: %w", src, err)
	}
	if len(names) == 0 {
		return got[0], nil
	}
	img, err := s.store.Image(names[0])
	if err != nil {
		return "", fmt.Errorf("import %s: %w", src, err)
	}
	return img.ID, nil
}

// writeLayer writes src as an uncompressed tar to dst, checking on the way
// that it is one: a file that is not would otherwise become an empty layer
// or a confusing error deep in the copy.
func writeLayer(src string, stdin io.Reader, dst string) error {
	var in io.ReadCloser
	switch fi, err := os.Stat(src); {
	case src == "-":
		if stdin == nil {
			return errors.New("no standard input given")
		}
		in = io.NopCloser(stdin)
	case err != nil:
		return err
	case fi.IsDir():
		// Owners are recorded as this user namespace sees them.
		in, err = archive.TarWithOptions(src, &archive.TarOptions{})
		if err != nil {
			return fmt.Errorf("tar %s: %w", src, err)
		}
	default:
		in, err = os.Open(src)
		if err != nil {
			return err
		}
	}
	defer in.Close()
	plain, _, err := compression.AutoDecompress(in)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadFormat, err)
	}
	defer plain.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	// A failed write (a full disk) reaches the tar reader as a failed
	// read: keep it apart, or it reads as a broken archive.
	w := &copyTo{w: out}
	tr := tar.NewReader(io.TeeReader(plain, w))
	for n := 0; ; n++ {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) && n > 0 {
			break
		}
		if w.err != nil {
			return fmt.Errorf("copy the archive: %w", w.err)
		}
		if err != nil {
			if n == 0 {
				return fmt.Errorf("%w: not a tar archive (%v)", ErrBadFormat, err)
			}
			return fmt.Errorf("read tar: %w", err)
		}
	}
	// The tar reader stops at the end-of-archive marker; keep the rest
	// (padding) so the layer's digest is that of the whole input.
	// (The struct hides pgzip's WriteTo, which panics when the stream has
	// already been partly read.)
	if _, err := io.Copy(w, struct{ io.Reader }{plain}); err != nil {
		if w.err != nil {
			return fmt.Errorf("copy the archive: %w", w.err)
		}
		return fmt.Errorf("read tar: %w", err)
	}
	return out.Close()
}

// copyTo is a writer that remembers its first error.
type copyTo struct {
	w   io.Writer
	err error
}

func (c *copyTo) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.err = err
	return n, err
}
