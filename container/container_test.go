package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Environment of a re-executed test binary that plays another box process.
const (
	childDirEnv = "_BOX_CONTAINER_TEST_DIR"
	childIDEnv  = "_BOX_CONTAINER_TEST_ID"
	childN      = 25
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(childIncrement(dir, os.Getenv(childIDEnv)))
	}
	os.Exit(m.Run())
}

// childIncrement is the other process in TestCrossProcessUpdate.
func childIncrement(dir, id string) int {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < childN; i++ {
		if err := s.Update(id, increment); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// increment counts through ExitCode; the pause widens the window in which a
// missing lock would lose an update.
func increment(st *State) error {
	n := st.ExitCode
	time.Sleep(100 * time.Microsecond)
	st.ExitCode = n + 1
	return nil
}

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "box", "containers"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func create(t *testing.T, s *Store, cfg Config) *Container {
	t.Helper()
	c, err := s.Create(cfg)
	if err != nil {
		t.Fatalf("Create(%+v) = %v", cfg, err)
	}
	return c
}

func readFile(t *testing.T, s *Store, id, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir(id), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

func id(prefix string, n int) string { return prefix + fmt.Sprintf("%0*d", 64-len(prefix), n) }

func TestRoundTrip(t *testing.T) {
	s := open(t)
	cfg := Config{
		Name:       "web",
		Image:      "docker.io/library/busybox:latest",
		ImageID:    "sha256:abc",
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{"echo hi"},
		Env:        []string{"A=1", "B="},
		Tty:        true,
		Mounts: []Mount{
			{Type: "bind", Source: "/src", Destination: "/dst", Options: []string{"ro"}},
			{Type: "tmpfs", Destination: "/tmp", Options: []string{"size=64m", "mode=1777"}},
		},
		Labels: map[string]string{"a": "b"},
	}
	c := create(t, s, cfg)
	if !validID(c.Config.ID) {
		t.Errorf("Create gave ID %q, want 64 hex digits", c.Config.ID)
	}
	if c.Config.Created.IsZero() || time.Since(c.Config.Created) > time.Minute {
		t.Errorf("Create set Created = %v, want now", c.Config.Created)
	}
	if !reflect.DeepEqual(c.State, State{Status: Created}) {
		t.Errorf("Create gave State %+v, want status created", c.State)
	}
	want := cfg
	want.ID, want.Created = c.Config.ID, c.Config.Created
	if !reflect.DeepEqual(c.Config, want) {
		t.Errorf("Create returned Config %+v, want %+v", c.Config, want)
	}

	for _, ref := range []string{c.Config.ID, "web", c.Config.ID[:12], c.Config.ID[:1]} {
		got, err := s.Get(ref)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("Get(%q) = %+v, %v, want %+v", ref, got, err, c)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], c) {
		t.Errorf("List() = %v, %v, want [%+v]", list, err, c)
	}

	for path, want := range map[string]os.FileMode{
		s.dir:              0o700 | os.ModeDir,
		s.Dir(c.Config.ID): 0o700 | os.ModeDir,
		filepath.Join(s.Dir(c.Config.ID), configFile): 0o600,
		filepath.Join(s.Dir(c.Config.ID), stateFile):  0o600,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("mode of %s = %v, %v, want %v", path, fi.Mode(), err, want)
		}
	}

	if err := s.Remove(c.Config.ID); err != nil {
		t.Fatalf("Remove(%s) = %v", c.Config.ID, err)
	}
	if _, err := s.Get("web"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "web") {
		t.Errorf("Get(web) after Remove = %v, want ErrNotFound naming web", err)
	}
	if err := s.Remove(c.Config.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Errorf("List() after Remove = %v, %v, want none", list, err)
	}
	assertEntries(t, s.dir, storeLock)

	// The name is free again.
	create(t, s, Config{Name: "web"})
}

func TestCreateGivenIDAndTime(t *testing.T) {
	s := open(t)
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	c := create(t, s, Config{ID: id("ab", 1), Created: at})
	if c.Config.ID != id("ab", 1) || !c.Config.Created.Equal(at) || !validName(c.Config.Name) {
		t.Errorf("Create kept ID %q, Created %v, name %q; want %q, %v, a generated name", c.Config.ID, c.Config.Created, c.Config.Name, id("ab", 1), at)
	}
	if _, err := s.Create(Config{ID: id("ab", 1), Name: "other"}); err == nil {
		t.Errorf("Create with an existing ID succeeded")
	}
	for _, bad := range []string{"abc", strings.ToUpper(id("ab", 2)), "../" + id("", 1)[3:]} {
		if _, err := s.Create(Config{ID: bad}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Create(ID %q) = %v, want ErrInvalidID", bad, err)
		}
	}
}

func TestNameConflictAndValidation(t *testing.T) {
	s := open(t)
	first := create(t, s, Config{Name: "a"})
	_, err := s.Create(Config{Name: "a"})
	var nu *NameInUseError
	if !errors.Is(err, ErrNameInUse) || !errors.As(err, &nu) || nu.Name != "a" || nu.ID != first.Config.ID {
		t.Fatalf("second Create(name a) = %v, want *NameInUseError{a, %s}", err, first.Config.ID)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"ok-name_1.x", true},
		{"9lives", true},
		{"-x", false},
		{"_x", false},
		{"a b", false},
		{"a/b", false},
		{"../escape", false},
		{"ü", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(Config{Name: tc.name})
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrInvalidName) {
				t.Errorf("Create(name %q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func TestGeneratedNamesAreUnique(t *testing.T) {
	s := open(t)
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		c := create(t, s, Config{})
		if seen[c.Config.Name] || !validName(c.Config.Name) {
			t.Fatalf("Create gave name %q, already used or invalid", c.Config.Name)
		}
		seen[c.Config.Name] = true
	}
}

func TestGet(t *testing.T) {
	s := open(t)
	create(t, s, Config{ID: id("abc1", 1), Name: "one"})
	create(t, s, Config{ID: id("abc2", 2), Name: "two"})
	create(t, s, Config{ID: id("ffff", 3), Name: "abc"}) // a name that is also a prefix of others
	create(t, s, Config{ID: id("eeee", 4), Name: id("abc1", 1)[:10]})
	tests := []struct {
		ref       string
		wantName  string
		ambiguous []string
		notFound  bool
	}{
		{ref: id("abc1", 1), wantName: "one"},
		{ref: "one", wantName: "one"},
		{ref: "abc1", wantName: "one"},
		{ref: "abc2", wantName: "two"},
		{ref: "ff", wantName: "abc"},
		{ref: "abc", wantName: "abc"},                           // exact name wins over prefix
		{ref: id("abc1", 1)[:10], wantName: id("abc1", 1)[:10]}, // and over a unique prefix
		{ref: "ab", ambiguous: []string{id("abc1", 1), id("abc2", 2)}},
		{ref: "a", ambiguous: []string{id("abc1", 1), id("abc2", 2)}},
		{ref: "zzz", notFound: true},
		{ref: "", notFound: true},
		{ref: "..", notFound: true},
		{ref: "../containers/" + id("abc1", 1), notFound: true},
		{ref: ".lock", notFound: true},
		{ref: id("dddd", 9), notFound: true},
		{ref: "ONE", notFound: true},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := s.Get(tc.ref)
			switch {
			case tc.notFound:
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tc.ref) {
					t.Errorf("Get(%q) = %v, %v, want ErrNotFound naming the ref", tc.ref, got, err)
				}
			case tc.ambiguous != nil:
				var amb *AmbiguousError
				if !errors.As(err, &amb) || !errors.Is(err, ErrAmbiguous) || amb.Ref != tc.ref || !reflect.DeepEqual(amb.IDs, tc.ambiguous) {
					t.Errorf("Get(%q) = %v, %v, want *AmbiguousError with %v", tc.ref, got, err, tc.ambiguous)
				}
			default:
				if err != nil || got.Config.Name != tc.wantName {
					t.Errorf("Get(%q) = %+v, %v, want the container named %q", tc.ref, got, err, tc.wantName)
				}
			}
		})
	}
}

func TestListOrderAndSkips(t *testing.T) {
	s := open(t)
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	create(t, s, Config{Name: "middle", Created: base.Add(time.Hour)})
	create(t, s, Config{Name: "oldest", Created: base})
	create(t, s, Config{Name: "newest", Created: base.Add(2 * time.Hour)})

	// What a crash or a stranger can leave: a create in progress, a record
	// without state, a record with broken JSON, a stray file.
	mkdir := func(name string) string {
		d := filepath.Join(s.dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	write := func(path, data string) {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := mkdir(tmpPrefix + "123")
	write(filepath.Join(tmp, configFile), `{"id":"`+id("1", 1)+`","name":"half"}`)
	write(filepath.Join(tmp, stateFile), `{"status":"created"}`)
	half := mkdir(id("2", 2))
	write(filepath.Join(half, configFile), `{"id":"`+id("2", 2)+`","name":"nostate"}`)
	broken := mkdir(id("3", 3))
	write(filepath.Join(broken, configFile), `{"id":`)
	write(filepath.Join(broken, stateFile), `{"status":"created"}`)
	wrongID := mkdir(id("4", 4))
	write(filepath.Join(wrongID, configFile), `{"id":"`+id("5", 5)+`","name":"liar"}`)
	write(filepath.Join(wrongID, stateFile), `{"status":"created"}`)
	write(filepath.Join(s.dir, "notes"), "hello")

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Config.Name)
	}
	if want := []string{"newest", "middle", "oldest"}; !reflect.DeepEqual(names, want) {
		t.Errorf("List() names = %q, want %q", names, want)
	}
	for _, ref := range []string{"half", "nostate", id("2", 2), "liar"} {
		if _, err := s.Get(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := s.Get(id("3", 3)); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a record with broken JSON = %v, want a parse error", err)
	}

	// The next Create, holding the store lock, knows the temp dir is an orphan.
	create(t, s, Config{})
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("Create left the orphaned %s: %v", tmp, err)
	}
}

func TestUpdate(t *testing.T) {
	s := open(t)
	c := create(t, s, Config{Name: "u"})
	started := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.Update(c.Config.ID, func(st *State) error {
		if st.Status != Created {
			t.Errorf("Update: fn saw status %q, want created", st.Status)
		}
		st.Status, st.ExitCode, st.StartedAt = Exited, 3, started
		return nil
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	want := State{Status: Exited, ExitCode: 3, StartedAt: started}
	if got, err := s.Get("u"); err != nil || !reflect.DeepEqual(got.State, want) {
		t.Fatalf("Get after Update = %+v, %v, want state %+v", got, err, want)
	}

	before := readFile(t, s, c.Config.ID, stateFile)
	boom := errors.New("boom")
	err = s.Update(c.Config.ID, func(st *State) error {
		st.ExitCode = 99
		return boom
	})
	if err != boom {
		t.Errorf("Update with failing fn = %v, want fn's error as is", err)
	}
	if after := readFile(t, s, c.Config.ID, stateFile); after != before {
		t.Errorf("failing fn changed state.json:\n%s\nwant\n%s", after, before)
	}

	for _, ref := range []string{id("9", 9), "u", c.Config.ID[:10], "../x"} {
		called := false
		err := s.Update(ref, func(*State) error { called = true; return nil })
		if !errors.Is(err, ErrNotFound) || called {
			t.Errorf("Update(%q) = %v (fn called: %v), want ErrNotFound without calling fn", ref, err, called)
		}
	}
	assertEntries(t, s.Dir(c.Config.ID), configFile, lockFile, stateFile)
}

func TestLock(t *testing.T) {
	s := open(t)
	c := create(t, s, Config{Name: "l"})
	unlock, err := s.Lock(c.Config.ID)
	if err != nil {
		t.Fatal(err)
	}
	var updated atomic.Bool
	done := make(chan error)
	go func() {
		done <- s.Update(c.Config.ID, func(st *State) error { updated.Store(true); return nil })
	}()
	time.Sleep(50 * time.Millisecond)
	if updated.Load() {
		t.Fatal("Update ran while another caller held the container's lock")
	}
	unlock()
	unlock() // releasing twice is harmless
	if err := <-done; err != nil || !updated.Load() {
		t.Fatalf("Update after unlock = %v (ran: %v)", err, updated.Load())
	}

	if _, err := s.Lock(id("9", 9)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lock of a missing container = %v, want ErrNotFound", err)
	}
}

// A caller waiting for the lock of a container that is removed meanwhile
// gets ErrNotFound, not a lock on a dead record.
func TestLockWaiterSeesRemove(t *testing.T) {
	s := open(t)
	c := create(t, s, Config{Name: "doomed"})
	unlock, err := s.Lock(c.Config.ID)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		u, err := s.Lock(c.Config.ID)
		if err == nil {
			u()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the goroutine open the lock file and wait
	if err := s.Remove(c.Config.ID); err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := <-done; !errors.Is(err, ErrNotFound) {
		t.Errorf("waiting Lock after Remove = %v, want ErrNotFound", err)
	}
}

func TestConcurrentCreate(t *testing.T) {
	s := open(t)
	var wg sync.WaitGroup
	var wins atomic.Int32
	var winner atomic.Value
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			if _, err := s.Create(Config{Name: "c" + strconv.Itoa(i)}); err != nil {
				t.Errorf("Create(c%d) = %v", i, err)
			}
		})
	}
	for i := 0; i < 10; i++ {
		wg.Go(func() {
			c, err := s.Create(Config{Name: "same"})
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(c.Config.ID)
			case !errors.Is(err, ErrNameInUse):
				t.Errorf("racing Create(same) = %v, want nil or ErrNameInUse", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d creates of the same name won, want 1", wins.Load())
	}
	list, err := s.List()
	if err != nil || len(list) != 51 {
		t.Fatalf("List() = %d records, %v, want 51", len(list), err)
	}
	if c, err := s.Get("same"); err != nil || c.Config.ID != winner.Load() {
		t.Errorf("Get(same) = %v, %v, want the winner %v", c, err, winner.Load())
	}
	entries, _ := os.ReadDir(s.dir)
	if len(entries) != 52 { // 51 records and .lock
		t.Errorf("store holds %d entries, want 51 records and the lock", len(entries))
	}
}

// Goroutines count through ExitCode while a reader checks that state.json
// always parses; a lost update shows as a smaller count.
func TestConcurrentUpdate(t *testing.T) {
	s := open(t)
	c := create(t, s, Config{Name: "counter"})
	const workers, each = 10, 10
	stop := make(chan struct{})
	var reads atomic.Int32
	reader := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				reader <- nil
				return
			default:
			}
			b, err := os.ReadFile(filepath.Join(s.Dir(c.Config.ID), stateFile))
			var st State
			if err == nil {
				err = json.Unmarshal(b, &st)
			}
			if err != nil {
				reader <- fmt.Errorf("state.json mid-update: %w", err)
				return
			}
			reads.Add(1)
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if err := s.Update(c.Config.ID, increment); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-reader; err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(c.Config.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := workers * each; got.State.ExitCode != want {
		t.Errorf("counter = %d, want %d: updates were lost", got.State.ExitCode, want)
	}
	if reads.Load() == 0 {
		t.Error("the reader never read state.json")
	}
	assertEntries(t, s.Dir(c.Config.ID), configFile, lockFile, stateFile)
}

// Other box processes update the same container: flock must hold across
// processes, not just goroutines.
func TestCrossProcessUpdate(t *testing.T) {
	s := open(t)
	c := create(t, s, Config{Name: "shared"})
	const procs = 4
	var cmds []*exec.Cmd
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childDirEnv+"="+s.dir, childIDEnv+"="+c.Config.ID)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for range childN {
		if err := s.Update(c.Config.ID, increment); err != nil {
			t.Error(err)
		}
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child process: %v", err)
		}
	}
	got, err := s.Get(c.Config.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (procs + 1) * childN; got.State.ExitCode != want {
		t.Errorf("counter = %d, want %d: updates were lost across processes", got.State.ExitCode, want)
	}
}

// assertEntries fails unless dir holds exactly the named entries (sorted).
func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func TestRename(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Create(Config{Name: "alpha"})
	if _, err := s.Create(Config{Name: "beta"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename(a.Config.ID, "beta"); !errors.Is(err, ErrNameInUse) {
		t.Errorf("Rename to a used name = %v, want ErrNameInUse", err)
	}
	if err := s.Rename(a.Config.ID, "bad name"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Rename to a bad name = %v, want ErrInvalidName", err)
	}
	if err := s.Rename(a.Config.ID, "gamma"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("gamma"); err != nil || got.Config.ID != a.Config.ID {
		t.Errorf("Get(c) after rename = %v, %v", got, err)
	}
	if _, err := s.Get("alpha"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old name still resolves: %v", err)
	}
}

func TestUpdateConfig(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "u", Restart: "no"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateConfig(c.Config.ID, func(cfg *Config) error { cfg.Restart = "always"; return nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := s.UpdateConfig(c.Config.ID, func(cfg *Config) error { cfg.Restart = "no"; return boom }); err != boom {
		t.Errorf("UpdateConfig with a failing fn = %v, want its error", err)
	}
	if got, err := s.Get("u"); err != nil || got.Config.Restart != "always" || got.Config.Name != "u" {
		t.Errorf("after UpdateConfig: %+v, %v", got, err)
	}
	if err := s.UpdateConfig(strings.Repeat("a", 64), func(*Config) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateConfig of a missing container = %v, want ErrNotFound", err)
	}
}

// A --rm container's record is marked volatile (written without fsync, see
// durable) and otherwise behaves like any other; others are not marked.
func TestVolatileRecord(t *testing.T) {
	s := open(t)
	rm := create(t, s, Config{Name: "rm", AutoRemove: true})
	kept := create(t, s, Config{Name: "kept"})
	assertEntries(t, s.Dir(rm.Config.ID), configFile, lockFile, stateFile, volatileFile)
	assertEntries(t, s.Dir(kept.Config.ID), configFile, lockFile, stateFile)
	if durable(s.Dir(rm.Config.ID)) || !durable(s.Dir(kept.Config.ID)) {
		t.Errorf("durable(rm, kept) = %v, %v, want false, true", durable(s.Dir(rm.Config.ID)), durable(s.Dir(kept.Config.ID)))
	}
	if err := s.Update(rm.Config.ID, func(st *State) error { st.Status, st.ExitCode = Exited, 7; return nil }); err != nil {
		t.Fatalf("Update = %v", err)
	}
	if got, err := s.Get("rm"); err != nil || got.State.ExitCode != 7 || !got.Config.AutoRemove {
		t.Fatalf("Get after Update = %+v, %v, want exit code 7 and AutoRemove", got, err)
	}
	if err := s.Remove(rm.Config.ID); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := s.Get("rm"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v, want ErrNotFound", err)
	}
}
