package container

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/boxcli/box/atomicfile"
)

// On-disk layout, under the store's directory:
//
//	.lock              store lock: create, rename and remove
//	<id>/config.json   Config, written once
//	<id>/state.json    State, replaced atomically
//	<id>/lock          the container's own lock
//	.tmp-*  .rm-*      a create or remove in progress (or crashed)
const (
	configFile = "config.json"
	stateFile  = "state.json"
	lockFile   = "lock"
	// volatileFile marks the record of a --rm container (see durable).
	volatileFile = "volatile"
	storeLock    = ".lock"
	tmpPrefix    = ".tmp-"
	rmPrefix     = ".rm-"
)

// maxNameTries bounds the search for a free random name; with thousands of
// combinations and a growing suffix it is only reached by a broken store.
const maxNameTries = 100

// Store is a directory of container records.
type Store struct {
	dir string
}

// Open returns the store in dir, creating dir (mode 0700) if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open container store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the directory of the container with full ID id; other packages keep
// their per-container files (logs, sockets) there, so they go with it on
// Remove.
func (s *Store) Dir(id string) string { return filepath.Join(s.dir, id) }

// Create records a new container and returns it with Status Created.
//
// It assigns a random 64-hex ID when cfg.ID is empty (a given ID must be 64
// lowercase hex digits), a random docker-style name ("eager_turing") when
// cfg.Name is empty, and the creation time when cfg.Created is zero. A name
// must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (ErrInvalidName) and be free
// (*NameInUseError).
//
// The record is built in a temp directory and renamed into place under the
// store lock, so a half-created container is never visible and two creates
// never take the same name.
func (s *Store) Create(cfg Config) (*Container, error) {
	genID := cfg.ID == ""
	if genID {
		cfg.ID = newID()
	} else if !validID(cfg.ID) {
		return nil, fmt.Errorf("create container: %w: %q is not 64 lowercase hex digits", ErrInvalidID, cfg.ID)
	}
	if cfg.Name != "" {
		if err := CheckName(cfg.Name); err != nil {
			return nil, fmt.Errorf("create container: %w", err)
		}
	}
	if cfg.Created.IsZero() {
		cfg.Created = now()
	}

	_, unlock, err := flock(filepath.Join(s.dir, storeLock))
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	defer unlock()

	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	s.sweep(ents)
	names := make(map[string]string) // name -> id
	ids := make(map[string]bool)
	for _, e := range ents {
		if !validID(e.Name()) {
			continue
		}
		ids[e.Name()] = true
		if c, err := s.load(e.Name()); err == nil {
			names[c.Config.Name] = c.Config.ID
		}
	}

	for ids[cfg.ID] {
		if !genID {
			return nil, fmt.Errorf("create container: ID %s exists", cfg.ID)
		}
		cfg.ID = newID()
	}
	if cfg.Name == "" {
		for try := 0; ; try++ {
			if try == maxNameTries {
				return nil, fmt.Errorf("create container: no free random name after %d tries", try)
			}
			if n := randomName(try / 10); names[n] == "" {
				cfg.Name = n
				break
			}
		}
	} else if id, ok := names[cfg.Name]; ok {
		return nil, &NameInUseError{Name: cfg.Name, ID: id}
	}

	c := &Container{Config: cfg, State: State{Status: Created}}
	if err := s.place(c); err != nil {
		return nil, fmt.Errorf("create container %s: %w", cfg.Name, err)
	}
	return c, nil
}

// MarkStopped records that the user (box stop, kill, or the healthcheck's
// on-failure action) ended the container, so that its monitor does not
// undo it with the restart policy, as Docker does for stop and kill.
func (s *Store) MarkStopped(id string) {
	_ = s.Update(id, func(st *State) error {
		st.StopRequested = true
		return nil
	})
}

// Exclusive runs fn under the store lock: no container is created while
// it runs, so what fn reads of the records (which containers use a
// volume) stays true until it returns.
func (s *Store) Exclusive(fn func() error) error {
	_, unlock, err := flock(filepath.Join(s.dir, storeLock))
	if err != nil {
		return fmt.Errorf("lock the container store: %w", err)
	}
	defer unlock()
	return fn()
}

// place writes c's files into a temp directory and renames it to its ID.
func (s *Store) place(c *Container) (err error) {
	tmp, err := os.MkdirTemp(s.dir, tmpPrefix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	keep := !c.Config.AutoRemove
	if !keep {
		if err := os.WriteFile(filepath.Join(tmp, volatileFile), nil, 0o600); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(tmp, configFile), c.Config, keep); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(tmp, stateFile), c.State, keep); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, lockFile), nil, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.Dir(c.Config.ID)); err != nil {
		return err
	}
	if !keep {
		return nil
	}
	// The record exists once the rename is on disk.
	return atomicfile.SyncDir(s.dir)
}

// durable says whether the record in dir must survive a crash: all but a
// --rm container's, which is removed when it exits anyway. Its fsyncs, a
// dozen per run, cost more than the rest of its bookkeeping (perf trace).
func durable(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, volatileFile))
	return err != nil
}

// sweep removes what a crashed Create or Remove left. It must run under
// the store lock: only then is every temp directory an orphan.
func (s *Store) sweep(ents []fs.DirEntry) {
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, tmpPrefix) || strings.HasPrefix(n, rmPrefix) {
			os.RemoveAll(filepath.Join(s.dir, n)) // best effort; tried again next time
		}
	}
}

// Get finds a container by full ID, exact name, or unique ID prefix, in that
// order, like docker: a container named "abc" wins over IDs starting with
// "abc". Not found is an error that Is ErrNotFound; a prefix of several IDs
// is an *AmbiguousError.
//
// The state is a view: a record that says running, but whose box process
// has died, is reported as exited with code 137 (see State.MonitorPid).
func (s *Store) Get(ref string) (*Container, error) {
	if validID(ref) {
		c, err := s.load(ref)
		if err == nil {
			c.State = Observed(c.State, Alive)
			return c, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("get container %s: %w", ref, err)
		}
	}
	cs, err := s.all()
	if err != nil {
		return nil, fmt.Errorf("get container %s: %w", ref, err)
	}
	c, err := match(cs, ref)
	if err != nil {
		return nil, err
	}
	c.State = Observed(c.State, Alive)
	return c, nil
}

// match picks ref out of cs: exact name first, then a unique ID prefix.
func match(cs []*Container, ref string) (*Container, error) {
	if ref == "" {
		return nil, notFound(`""`)
	}
	for _, c := range cs {
		if c.Config.Name == ref {
			return c, nil
		}
	}
	var found []*Container
	for _, c := range cs {
		if strings.HasPrefix(c.Config.ID, ref) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, notFound(ref)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, c := range found {
		ids[i] = c.Config.ID
	}
	slices.Sort(ids)
	return nil, &AmbiguousError{Ref: ref, IDs: ids}
}

// List returns every container, newest first, with states viewed as in Get.
// Records it cannot read are left out: a list must not fail because of one
// damaged directory.
func (s *Store) List() ([]*Container, error) {
	cs, err := s.all()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		c.State = Observed(c.State, Alive)
	}
	slices.SortFunc(cs, func(a, b *Container) int {
		if c := b.Config.Created.Compare(a.Config.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.Config.ID, b.Config.ID)
	})
	return cs, nil
}

// Update runs fn on the container's recorded state under its lock and
// writes the result atomically. fn sees the state as recorded, not the view
// Get returns. If fn fails, nothing is written and its error is returned
// as is. id is a full ID.
func (s *Store) Update(id string, fn func(*State) error) error {
	return updateRecord(s, id, stateFile, fn)
}

// UpdateConfig runs fn on the container's recorded configuration under
// its lock and writes the result atomically (box update). As with Update,
// a failing fn writes nothing, and id is a full ID.
func (s *Store) UpdateConfig(id string, fn func(*Config) error) error {
	return updateRecord(s, id, configFile, fn)
}

// updateRecord is Update for either of a record's files.
func updateRecord[T any](s *Store, id, file string, fn func(*T) error) error {
	unlock, err := s.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	var v T
	if err := readJSON(filepath.Join(s.Dir(id), file), &v); err != nil {
		return fmt.Errorf("update container %s: %w", id, err)
	}
	if err := fn(&v); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(s.Dir(id), file), v, durable(s.Dir(id))); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFound(id) // removed while fn ran
		}
		return fmt.Errorf("update container %s: %w", id, err)
	}
	return nil
}

// Remove deletes the container's record and everything in its directory.
// It takes the store lock but not the container's, so a caller that checks
// the state first (is it running?) can hold Lock(id) across the check and
// the Remove. Removing a missing id is an error that Is ErrNotFound.
//
// The record disappears in one rename; if deleting the files then fails,
// the error is returned, the container is gone anyway, and the next Create
// tries to delete them again.
func (s *Store) Remove(id string) error {
	if !validID(id) {
		return notFound(id)
	}
	_, unlock, err := flock(filepath.Join(s.dir, storeLock))
	if err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	defer unlock()
	if _, err := os.Lstat(s.Dir(id)); errors.Is(err, fs.ErrNotExist) {
		return notFound(id)
	}
	// Under the store lock nothing else uses this name; a leftover from a
	// crashed remove of a container with the same (given) ID goes first.
	tmp := filepath.Join(s.dir, rmPrefix+id)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	sync := durable(s.Dir(id))
	if err := os.Rename(s.Dir(id), tmp); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if err := syncDir(s.dir, sync); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove container %s: delete its files: %w", id, err)
	}
	return nil
}

// Lock takes the container's own lock, for changes that span several steps
// (read the state, signal, record). It waits for the lock; the returned
// func releases it and may be called more than once. A container removed
// before the lock was obtained is ErrNotFound. Locks are not reentrant:
// calling Update while holding Lock for the same container deadlocks.
func (s *Store) Lock(id string) (func(), error) {
	if !validID(id) {
		return nil, notFound(id)
	}
	path := filepath.Join(s.Dir(id), lockFile)
	f, unlock, err := flock(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	// While we waited the container may have been removed (our file now lives
	// in a doomed directory) or even re-created: only the lock file at path
	// counts.
	held, err1 := f.Stat()
	cur, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, cur) {
		unlock()
		return nil, notFound(id)
	}
	return unlock, nil
}

// all loads every readable record, in no particular order.
func (s *Store) all() ([]*Container, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var cs []*Container
	for _, e := range ents {
		if !validID(e.Name()) {
			continue
		}
		if c, err := s.load(e.Name()); err == nil {
			cs = append(cs, c)
		}
	}
	return cs, nil
}

// load reads a record as stored, without the liveness view.
func (s *Store) load(id string) (*Container, error) {
	c := &Container{}
	if err := readJSON(filepath.Join(s.Dir(id), configFile), &c.Config); err != nil {
		return nil, err
	}
	if c.Config.ID != id {
		return nil, fmt.Errorf("%s in %s: ID is %q", configFile, s.Dir(id), c.Config.ID)
	}
	if err := readJSON(filepath.Join(s.Dir(id), stateFile), &c.State); err != nil {
		return nil, err
	}
	return c, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any, sync bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if !sync {
		return atomicfile.WriteFileNoSync(path, append(b, '\n'), 0o600)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

func syncDir(dir string, sync bool) error {
	if !sync {
		return nil
	}
	return atomicfile.SyncDir(dir)
}

// now is the creation time as it will read back from JSON: UTC, without the
// monotonic reading that a decoded time lacks.
func now() time.Time { return time.Now().UTC().Round(0) }

// Rename gives container id a new name, refusing one in use (under the
// store lock, like Create) or one that breaks docker's rule.
func (s *Store) Rename(id, name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("rename container: %w", err)
	}
	// The container's lock first, as everywhere, so that a rename and an
	// UpdateConfig do not both rewrite the configuration from what they read.
	unlockCt, err := s.Lock(id)
	if err != nil {
		return err
	}
	defer unlockCt()
	_, unlock, err := flock(filepath.Join(s.dir, storeLock))
	if err != nil {
		return fmt.Errorf("rename container: %w", err)
	}
	defer unlock()
	all, err := s.all()
	if err != nil {
		return err
	}
	var c *Container
	for _, other := range all {
		if other.Config.Name == name && other.Config.ID != id {
			return &NameInUseError{Name: name, ID: other.Config.ID}
		}
		if other.Config.ID == id {
			c = other
		}
	}
	if c == nil {
		return notFound(id)
	}
	c.Config.Name = name
	return writeJSON(filepath.Join(s.Dir(id), configFile), c.Config, durable(s.Dir(id)))
}

// StartLock serializes starts of one container (a lock of its own: the
// state lock is taken by the starting monitor itself to record that the
// container runs, while the starter still holds this one).
func (s *Store) StartLock(id string) (func(), error) {
	if !validID(id) {
		return nil, notFound(id)
	}
	_, unlock, err := flock(filepath.Join(s.Dir(id), "start.lock"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s for start: %w", id, err)
	}
	return unlock, nil
}
