// Package buildctx is what COPY and ADD read: the build context (a
// directory, seen through .dockerignore), or the root file system of an
// earlier stage or an image. It resolves sources with Docker's rules
// (wildcards, symlinks followed inside the tree and never out of it),
// walks them in a stable order, and digests their content for the cache.
//
// Files are streamed, never read whole into memory. A tree is read as it
// is: do not use it on a directory something else is changing, and
// never to write (package build writes, confined to the layer).
package buildctx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// ErrNotFound: a COPY or ADD source that does not exist (or that
// .dockerignore excludes, which is the same to the build).
var ErrNotFound = errors.New("no such file or directory in the build context")

// Tree is a directory COPY reads from.
type Tree struct {
	// Root is the directory; sources are relative to it, and no symlink
	// leads out of it.
	Root string
	// ignore excludes paths, as .dockerignore does for a context; nil for
	// a stage's or an image's files.
	ignore *patternmatcher.PatternMatcher
}

// NewTree is the tree at root, with no exclusions.
func NewTree(root string) *Tree { return &Tree{Root: root} }

// Open is the build context in dir, through its ignore file: the
// Dockerfile's own (<Dockerfile>.dockerignore, beside it) if there is
// one, else dir/.dockerignore. dockerfile is the Dockerfile's path on
// disk ("" when it came from stdin).
func Open(dir, dockerfile string) (*Tree, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", dir)
	}
	t := &Tree{Root: dir}
	var candidates []string
	if dockerfile != "" {
		candidates = append(candidates, dockerfile+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(dir, ".dockerignore"))
	for _, p := range candidates {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if err := t.setIgnore(patterns); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		break
	}
	return t, nil
}

func (t *Tree) setIgnore(patterns []string) error {
	if len(patterns) == 0 {
		return nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	t.ignore = pm
	return nil
}

// excluded says whether .dockerignore leaves rel (slash-separated,
// relative to the root) out of the context.
func (t *Tree) excluded(rel string) bool {
	if t.ignore == nil || rel == "." || rel == "" {
		return false
	}
	ok, err := t.ignore.MatchesOrParentMatches(rel)
	return err == nil && ok
}

// mayHoldIncluded says whether an excluded directory may still hold files
// that a "!" pattern brings back.
func (t *Tree) mayHoldIncluded() bool { return t.ignore != nil && t.ignore.Exclusions() }

// Source is one path a COPY source resolved to.
type Source struct {
	// Name is the last element of the path as written (a symlink's own
	// name, not its target's): what the copy is called in a directory.
	Name string
	// Rel is where it really is, relative to the root, symlinks resolved.
	Rel  string
	Info fs.FileInfo // Lstat of Rel: never a symlink
}

// Match resolves src (relative to the root; leading / and .. cannot leave
// it) to the paths it names, with Docker's rules: wildcards (* ? [...])
// in any element, each match and every symlink on the way followed inside
// the tree. A path without wildcards must exist; a wildcard may match
// nothing.
func (t *Tree) Match(src string) ([]Source, error) {
	clean := path.Clean("/" + filepath.ToSlash(src))
	if !hasWildcards(clean) {
		s, err := t.resolve(clean)
		if err != nil {
			return nil, err
		}
		return []Source{s}, nil
	}
	var out []Source
	if err := t.glob("/", strings.Split(strings.TrimPrefix(clean, "/"), "/"), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// glob matches the elements left against the directory at dir (a path
// inside the tree, symlinks resolved).
func (t *Tree) glob(dir string, elems []string, out *[]Source) error {
	if len(elems) == 0 {
		s, err := t.resolve(dir)
		if err == nil {
			*out = append(*out, s)
		}
		return nil
	}
	first, rest := elems[0], elems[1:]
	if !hasWildcards(first) {
		next, err := t.follow(path.Join(dir, first))
		if err != nil {
			return nil // nothing here: a wildcard may match nothing
		}
		return t.glob(next, rest, out)
	}
	real, err := t.follow(dir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir(t.host(real))
	if err != nil {
		return nil
	}
	for _, e := range entries {
		ok, err := path.Match(first, e.Name())
		if err != nil {
			return fmt.Errorf("bad pattern %q: %w", first, err)
		}
		if !ok || t.excluded(strings.TrimPrefix(path.Join(real, e.Name()), "/")) && !(e.IsDir() && t.mayHoldIncluded()) {
			continue
		}
		if len(rest) == 0 {
			s, err := t.resolve(path.Join(real, e.Name()))
			if err == nil {
				*out = append(*out, s)
			}
			continue
		}
		next, err := t.follow(path.Join(real, e.Name()))
		if err != nil {
			continue
		}
		if err := t.glob(next, rest, out); err != nil {
			return err
		}
	}
	return nil
}

// resolve follows p (a cleaned absolute path inside the tree) to what it
// names and checks that the context has it.
func (t *Tree) resolve(p string) (Source, error) {
	real, err := t.follow(p)
	if err != nil {
		return Source{}, err
	}
	fi, err := os.Lstat(t.host(real))
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	rel := strings.TrimPrefix(real, "/")
	if rel == "" {
		rel = "."
	}
	if t.excluded(rel) && !(fi.IsDir() && t.mayHoldIncluded()) {
		return Source{}, fmt.Errorf("%s: %w (.dockerignore excludes it)", p, ErrNotFound)
	}
	name := path.Base(p)
	if p == "/" {
		name = "."
	}
	return Source{Name: name, Rel: rel, Info: fi}, nil
}

// follow resolves every symlink in p inside the tree (an absolute link
// means the tree's root), returning the real path, rooted at "/".
func (t *Tree) follow(p string) (string, error) {
	joined, err := securejoin.SecureJoin(t.Root, p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	rel, err := filepath.Rel(t.Root, joined)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s: leaves the tree", p)
	}
	return path.Clean("/" + filepath.ToSlash(rel)), nil
}

// host is the path on the host of p, a real path inside the tree.
func (t *Tree) host(p string) string { return filepath.Join(t.Root, filepath.FromSlash(p)) }

// Entry is one file, directory or symlink a copy writes.
type Entry struct {
	// Rel is the entry's path below the source ("." for the source
	// itself), slash-separated.
	Rel  string
	Info fs.FileInfo
	// Link is a symlink's target, as stored (never followed).
	Link string
	// host is where it is on disk.
	host string
}

// Open opens a regular file's content.
func (e Entry) Open() (*os.File, error) { return openNoFollow(e.host) }

// Walk calls fn for s and, for a directory, everything below it, parents
// before children and siblings in name order, without following symlinks.
// Excluded paths are skipped; an excluded directory that a "!" pattern
// reaches into is walked, and its included files come with their parents.
func (t *Tree) Walk(s Source, fn func(Entry) error) error {
	var link string
	if s.Info.Mode()&fs.ModeSymlink != 0 {
		l, err := os.Readlink(t.host("/" + s.Rel))
		if err != nil {
			return err
		}
		link = l
	}
	if !s.Info.IsDir() {
		return fn(Entry{Rel: ".", Info: s.Info, Link: link, host: t.host("/" + s.Rel)})
	}
	var pending []Entry // excluded parents, written only if something below is
	return t.walkDir(s.Rel, ".", s.Info, t.excluded(s.Rel), &pending, fn)
}

func (t *Tree) walkDir(real, rel string, fi fs.FileInfo, excluded bool, pending *[]Entry, fn func(Entry) error) error {
	self := Entry{Rel: rel, Info: fi, host: t.host("/" + real)}
	depth := len(*pending)
	if excluded {
		*pending = append(*pending, self)
	} else {
		if err := flush(pending, fn); err != nil {
			return err
		}
		if err := fn(self); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(self.host)
	if err != nil {
		return err
	}
	for _, e := range entries {
		childReal := path.Join(real, e.Name())
		if real == "." {
			childReal = e.Name()
		}
		childRel := path.Join(rel, e.Name())
		cfi, err := e.Info()
		if err != nil {
			return err
		}
		childExcluded := t.excluded(childReal)
		if cfi.IsDir() {
			if childExcluded && !t.mayHoldIncluded() {
				continue
			}
			if err := t.walkDir(childReal, childRel, cfi, childExcluded, pending, fn); err != nil {
				return err
			}
			continue
		}
		if childExcluded {
			continue
		}
		ent := Entry{Rel: childRel, Info: cfi, host: t.host("/" + childReal)}
		if cfi.Mode()&fs.ModeSymlink != 0 {
			if ent.Link, err = os.Readlink(ent.host); err != nil {
				return err
			}
		}
		if err := flush(pending, fn); err != nil {
			return err
		}
		if err := fn(ent); err != nil {
			return err
		}
	}
	if len(*pending) > depth {
		*pending = (*pending)[:depth]
	}
	return nil
}

// flush writes the excluded parents that turned out to hold something.
func flush(pending *[]Entry, fn func(Entry) error) error {
	for _, e := range *pending {
		if err := fn(e); err != nil {
			return err
		}
	}
	*pending = (*pending)[:0]
	return nil
}

// IsArchive says whether the regular file s is a tar archive, compressed
// or not, which ADD unpacks.
func (t *Tree) IsArchive(s Source) bool {
	if !s.Info.Mode().IsRegular() {
		return false
	}
	f, err := openNoFollow(t.host("/" + s.Rel))
	if err != nil {
		return false
	}
	defer f.Close()
	return isTar(f)
}

// OpenSource opens the regular file s.
func (t *Tree) OpenSource(s Source) (*os.File, error) { return openNoFollow(t.host("/" + s.Rel)) }

func hasWildcards(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[':
			return true
		case '\\':
			i++
		}
	}
	return false
}
