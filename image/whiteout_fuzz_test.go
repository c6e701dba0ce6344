package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

// FuzzLayerWhiteouts applies layer tars built from fuzzed entries with
// containers/storage's pkg/archive, as its graph drivers do (see the
// comment at the top of hostile_test.go): vfs applies a layer on a copy of
// the one below with ApplyUncompressedLayer, which carries out whiteouts
// by deleting; overlay unpacks each layer into an empty diff directory
// with Unpack and the overlay whiteout format (whiteouts become 0:0
// character devices, opaque markers an xattr); fuse-overlayfs does the
// same with the AUFS format (whiteout files stay as they are). The drivers
// run this in a chroot into the layer; here it runs without one, so that
// the library's own confinement (SecureJoin and its checks) is what is
// tested.
//
// Entries are regular files, directories, symlinks, hardlinks, fifos,
// device nodes, whiteouts, opaque markers and AUFS hardlink-directory
// entries, named by fixed hostile fragments ("../", ".wh.", ".wh..wh..opq",
// "a/.wh.b", absolute paths, symlinks out of the layer and through them)
// and by fuzzed strings. The target can start with hostile symlinks of its
// own, as a lower layer may leave them for vfs.
//
// Invariants: no panic; nothing outside the target directory is created,
// removed or changed (contents, mode, owner, link count, times, xattrs),
// which a tree of canary directories and files around it shows. (Only
// AUFS hardlink contents go elsewhere: to a temporary directory of the
// library's own, which it removes.) After a successful
// apply: with vfs and overlay no whiteout file is left as a file (only
// overlay's 0:0 devices), and no device node was made but those.
func FuzzLayerWhiteouts(f *testing.F) {
	w := newWhiteoutWorld(f)
	for _, s := range whiteoutSeeds(w) {
		f.Add(s.prog, s.names)
	}
	f.Fuzz(func(t *testing.T, prog []byte, names string) {
		w.run(t, prog, names)
	})
}

// The world is laid out as
//
//	root/p1/…/p5/world/canary/{f,d/g,l→f}
//	root/p1/…/p5/world/n1/…/n3/dest
//
// with a canary file "c" in every pi and ni. Symlink targets and names
// that are absolute are moved below canary, and the input may hold at
// most dotdotBudget ".." components in all, fewer than the levels between
// dest and root: whatever escapes dest lands inside root and shows there,
// and nothing outside root can be reached even by an escape.
const (
	worldOuter   = 5
	worldInner   = 3
	dotdotBudget = worldOuter + worldInner + 2
)

type whiteoutWorld struct {
	root, world, canary, dest string
	// up is dest's way to canary by "..".
	up       string
	paths    []string // all of the world, dest's contents aside
	baseline map[string]inodeState
	dirty    bool
	frags    []string
}

func newWhiteoutWorld(f *testing.F) *whiteoutWorld {
	mnt := f.TempDir()
	// A tmpfs of its own, where the test harness's namespaces allow one:
	// several times faster than a disk, and all of the world is on it.
	if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700,size=64m"); err == nil {
		f.Cleanup(func() {
			if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
				f.Errorf("unmount %s: %v", mnt, err)
			}
		})
	}
	root := filepath.Join(mnt, "r")
	w := &whiteoutWorld{root: root}
	p := root
	for i := 1; i <= worldOuter; i++ {
		p = filepath.Join(p, fmt.Sprintf("p%d", i))
	}
	w.world = filepath.Join(p, "world")
	w.canary = filepath.Join(w.world, "canary")
	p = w.world
	for i := 1; i <= worldInner; i++ {
		p = filepath.Join(p, fmt.Sprintf("n%d", i))
	}
	w.dest = filepath.Join(p, "dest")
	w.up = strings.Repeat("../", worldInner+1) + "canary"
	if err := w.build(); err != nil {
		f.Fatal(err)
	}
	w.frags = []string{
		"a", "b", "f", "d", "a/b", "dir", "dir/x", "file", "fifo", "link", "link/f",
		"out", "out/f", "out/d", "out/d/g", "out/l", "abs", "abs/f", "abs/d/g",
		".", "./", "..", "../", "../x", "../../canary/f", "./a/../../b", "a/../..", "/", "/a", "/f", "/d/g",
		w.canary, w.canary + "/f", w.up, w.up + "/f", w.up + "/d", "a/" + w.up,
		".wh.", ".wh.a", ".wh.file", ".wh.out", ".wh.abs", ".wh.dir", ".wh.link", ".wh..wh..opq",
		"a/.wh.b", "dir/.wh.x", "out/.wh.f", "out/.wh..wh..opq", "abs/.wh.f", "out/d/.wh.g", "link/.wh.f",
		".wh..wh.plnk", ".wh..wh.plnk/x", ".wh..wh.plnk/.wh.x", ".wh..wh.", ".wh...", ".wh..", ".wh.../x",
	}
	return w
}

// build makes the world afresh, dest empty, and records its baseline.
func (w *whiteoutWorld) build() error {
	if err := os.RemoveAll(w.root); err != nil {
		return err
	}
	for d := filepath.Dir(w.dest); d != filepath.Dir(w.root); d = filepath.Dir(d) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if d != w.world && d != w.root {
			if err := os.WriteFile(filepath.Join(d, "c"), []byte("canary "+d), 0o644); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{w.dest, filepath.Join(w.canary, "d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(w.canary, "f"), []byte("canary"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.canary, "d", "g"), []byte("canary"), 0o600); err != nil {
		return err
	}
	if err := os.Symlink("f", filepath.Join(w.canary, "l")); err != nil {
		return err
	}
	// Times in the past, so that a write now shows even on a coarse clock.
	old := time.Unix(1600000000, 0)
	err := filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		return err
	}
	w.paths = nil
	err = filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		w.paths = append(w.paths, p)
		return err
	})
	w.baseline, w.dirty = w.snapshot(), false
	return err
}

// inodeState is what snapshot keeps of a path: every write, chmod, chown,
// xattr and new or removed link changes ctime (the times were set in the
// past; the clock is in nanoseconds), a new or removed entry changes its
// directory's mtime, and a file replaced by another has another inode.
type inodeState struct {
	mode, uid, gid uint32
	nlink, ino     uint64
	size           int64
	mtime, ctime   int64
	missing        bool
}

// snapshot takes the state of every path of the world but dest's
// contents; of dest itself, only its inode (its mode and times are the
// archive's to set, through "." entries).
func (w *whiteoutWorld) snapshot() map[string]inodeState {
	out := make(map[string]inodeState, len(w.paths))
	for _, p := range w.paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			out[p] = inodeState{missing: true}
			continue
		}
		s := inodeState{ino: st.Ino}
		if p != w.dest {
			s = inodeState{
				mode: st.Mode, uid: st.Uid, gid: st.Gid, nlink: st.Nlink, ino: st.Ino, size: st.Size,
				mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
			}
		}
		out[p] = s
	}
	return out
}

// fuzzEntry is one tar entry of the fuzzed layers.
type fuzzEntry struct {
	hdr  tar.Header
	body string
	// layerBreak starts a new layer with this entry.
	layerBreak bool
}

// Entry kinds, the first byte of an entry's four (mod entryKinds).
const (
	kReg = iota
	kDir
	kSymlink
	kHardlink
	kWhiteout // ".wh." + the name's base
	kOpaque   // name/.wh..wh..opq
	kFifo
	kChar
	kPlink     // .wh..wh.plnk/name, an AUFS hardlink's contents
	kPlinkLink // a hardlink to .wh..wh.plnk/target
	entryKinds
)

// Unpack formats, the low two bits of the program's first byte.
const (
	fmtVFS = iota
	fmtOverlay
	fmtAUFS
	fmtVFS2
)

var fuzzModes = []int64{0o644, 0o755, 0o4755, 0o000, 0o1777, 0o2711, 0o600, 0o7777}

// decode turns the program into entries: byte 0 holds the format (bits
// 0-1) and whether dest starts with hostile symlinks (bit 2); then four
// bytes an entry: kind (bit 7: a new layer starts here; bit 6: with an
// xattr), name fragment, second name fragment (>= 128: none), and link
// target fragment, which also picks the mode. Fragments are the fixed ones
// and the fuzzed names, one a line.
func (w *whiteoutWorld) decode(prog []byte, names string) (format int, populate bool, entries []fuzzEntry) {
	if len(prog) == 0 {
		return fmtVFS, false, nil
	}
	format, populate = int(prog[0]&3), prog[0]&4 != 0
	frags := w.frags
	if names != "" {
		extra := strings.Split(names, "\n")
		frags = append(slices.Clone(frags), extra[:min(len(extra), 8)]...)
	}
	budget := dotdotBudget
	// confine moves absolute paths below canary and spends the budget of
	// ".." components; past it, ".." becomes a plain name.
	confine := func(s string) string {
		if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, w.canary) {
			s = w.canary + s
		}
		parts := strings.Split(s, "/")
		for i, p := range parts {
			if p == ".." {
				if budget == 0 {
					parts[i] = "dd"
				} else {
					budget--
				}
			}
		}
		return strings.Join(parts, "/")
	}
	prog = prog[1:]
	for len(prog) >= 4 && len(entries) < 12 {
		op, n1, n2, l := prog[0], prog[1], prog[2], prog[3]
		prog = prog[4:]
		name := frags[int(n1)%len(frags)]
		if n2 < 128 {
			name += "/" + frags[int(n2)%len(frags)]
		}
		link := frags[int(l)%len(frags)]
		e := fuzzEntry{layerBreak: op&0x80 != 0}
		h := &e.hdr
		h.Mode = fuzzModes[int(l)%len(fuzzModes)]
		switch int(op&0x3f) % entryKinds {
		case kReg:
			h.Typeflag, e.body = tar.TypeReg, "x "+name
		case kDir:
			h.Typeflag = tar.TypeDir
		case kSymlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, link
		case kHardlink:
			h.Typeflag, h.Linkname = tar.TypeLink, link
		case kWhiteout:
			dir, base := path.Split(name)
			h.Typeflag, name = tar.TypeReg, dir+archive.WhiteoutPrefix+base
		case kOpaque:
			h.Typeflag, name = tar.TypeReg, name+"/"+archive.WhiteoutOpaqueDir
		case kFifo:
			h.Typeflag = tar.TypeFifo
		case kChar:
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, int64(l&1), int64(l&3)
		case kPlink:
			h.Typeflag, e.body, name = tar.TypeReg, "plink", archive.WhiteoutLinkDir+"/"+name
		case kPlinkLink:
			h.Typeflag, h.Linkname = tar.TypeLink, archive.WhiteoutLinkDir+"/"+link
		}
		h.Name = confine(name)
		if h.Linkname != "" {
			h.Linkname = confine(h.Linkname)
		}
		// user.* xattrs exist on files and directories only; elsewhere
		// pkg/archive ignores the EPERM, but logs it.
		if op&0x40 != 0 && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeDir) {
			h.PAXRecords = map[string]string{"SCHILY.xattr.user.box": "fuzz"}
			if h.Typeflag == tar.TypeDir {
				// What an opaque marker becomes with overlay, given directly.
				h.PAXRecords["SCHILY.xattr."+archive.GetOverlayXattrName("opaque")] = "y"
			}
		}
		entries = append(entries, e)
	}
	return format, populate, entries
}

// layerTars writes the entries as one tar a layer; entries tar cannot
// hold (a NUL in a name) are left out.
func layerTars(entries []fuzzEntry) [][]byte {
	var out [][]byte
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	flush := func() {
		_ = tw.Close()
		out = append(out, slices.Clone(buf.Bytes()))
		buf.Reset()
		tw = tar.NewWriter(&buf)
	}
	for i, e := range entries {
		if e.layerBreak && i > 0 {
			flush()
		}
		h := e.hdr
		h.Size = int64(len(e.body))
		h.ModTime = time.Unix(1700000000, 0)
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			continue
		}
		_, _ = tw.Write([]byte(e.body))
	}
	flush()
	return out
}

func (w *whiteoutWorld) run(t *testing.T, prog []byte, names string) {
	if w.dirty {
		// A failed input broke the world; the next (or the minimizer's
		// retry) must start from a whole one.
		if err := w.build(); err != nil {
			t.Fatal(err)
		}
	}
	// Emptied, not made anew: its directory's mtime must stay as it was.
	ents, err := os.ReadDir(w.dest)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(w.dest, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(w.dest, 0o755); err != nil {
		t.Fatal(err)
	}
	format, populate, entries := w.decode(prog, names)
	if populate {
		// What a lower layer may leave for vfs to apply the next on.
		for name, target := range map[string]string{"out": w.up, "abs": w.canary, "link": "out", "dir/up": "../" + w.up} {
			_ = os.MkdirAll(filepath.Dir(filepath.Join(w.dest, name)), 0o755)
			if err := os.Symlink(target, filepath.Join(w.dest, name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(w.dest, "file"), []byte("lower"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var applyErr error
	for _, layer := range layerTars(entries) {
		opts := &archive.TarOptions{InUserNS: true, IgnoreChownErrors: true}
		switch format {
		case fmtVFS, fmtVFS2:
			// What box passes on to containers/storage, which hangs on a
			// whiteout below a fifo (TestLayerWhiteoutBelowFifo): a layer
			// the guard lets through must not hang.
			if applyErr = checkWhiteouts(bytes.NewReader(layer), dirTree(w.dest)); applyErr != nil {
				if !errors.Is(applyErr, ErrHostileLayer) {
					t.Fatalf("checkWhiteouts = %v, want nil or ErrHostileLayer", applyErr)
				}
				break
			}
			applyErr = bounded(t, func() error {
				_, err := archive.ApplyUncompressedLayer(w.dest, bytes.NewReader(layer), opts)
				return err
			})
		case fmtOverlay:
			opts.WhiteoutFormat = archive.OverlayWhiteoutFormat
			applyErr = archive.UntarUncompressed(bytes.NewReader(layer), w.dest, opts)
		case fmtAUFS:
			opts.WhiteoutFormat = archive.AUFSWhiteoutFormat
			applyErr = archive.UntarUncompressed(bytes.NewReader(layer), w.dest, opts)
		}
		if applyErr != nil {
			break
		}
	}

	fail := func(msg string, args ...any) {
		t.Helper()
		w.dirty = true
		t.Fatalf("format %d, entries %s: "+msg, append([]any{format, describe(entries)}, args...)...)
	}
	var diffs []string
	for p, now := range w.snapshot() {
		if was := w.baseline[p]; now != was {
			diffs = append(diffs, fmt.Sprintf("%s changed: %+v, was %+v", p, now, was))
		}
	}
	if len(diffs) > 0 {
		// Name what appeared, too.
		_ = filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
			if p == w.dest {
				return filepath.SkipDir
			}
			if _, ok := w.baseline[p]; !ok && err == nil {
				diffs = append(diffs, p+" appeared")
			}
			return nil
		})
		slices.Sort(diffs)
		fail("outside the target (apply: %v):\n%s", applyErr, strings.Join(diffs, "\n"))
	}
	if applyErr != nil || format == fmtAUFS {
		return
	}
	err = filepath.WalkDir(w.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		dev := fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0
		whiteoutDev := fi.Mode()&fs.ModeCharDevice != 0 && fi.Sys().(*syscall.Stat_t).Rdev == 0
		switch {
		case dev && !(format == fmtOverlay && whiteoutDev):
			return fmt.Errorf("device node %s (%v, rdev %#x)", p, fi.Mode(), fi.Sys().(*syscall.Stat_t).Rdev)
		case !fi.IsDir() && strings.HasPrefix(d.Name(), archive.WhiteoutPrefix) && !(format == fmtOverlay && whiteoutDev):
			// overlay's whiteout of a file named ".wh.x" is fine.
			return fmt.Errorf("whiteout %s left as a %v", p, fi.Mode().Type())
		}
		return nil
	})
	if err != nil {
		fail("%v", err)
	}
}

// killApplyHelpers kills this process's children that are
// containers/storage's layer extraction helper (storage-applyLayer).
func killApplyHelpers(t *testing.T) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; the helper is this binary again,
		// told apart by its argv[0].
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		argv, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if len(f) > 1 && f[1] == fmt.Sprint(os.Getpid()) && bytes.HasPrefix(argv, []byte("storage-applyLayer\x00")) {
			pid, _ := strconv.Atoi(e.Name())
			t.Logf("killing the hung extraction helper, pid %d", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// bounded runs apply, failing t if it does not return within a while.
func bounded(t *testing.T, apply func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- apply() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("the apply hangs: box's guard let a layer through that containers/storage hangs on")
		return nil
	}
}

func describe(entries []fuzzEntry) string {
	var b strings.Builder
	for _, e := range entries {
		if e.layerBreak {
			b.WriteString(" | ")
		}
		fmt.Fprintf(&b, "[%c %q", e.hdr.Typeflag, e.hdr.Name)
		if e.hdr.Linkname != "" {
			fmt.Fprintf(&b, " -> %q", e.hdr.Linkname)
		}
		fmt.Fprintf(&b, " %o] ", e.hdr.Mode)
	}
	return b.String()
}

type whiteoutSeed struct {
	prog  []byte
	names string
}

// whiteoutSeeds are the cases hostile_test.go checks through a real store,
// and a few more, in each format.
func whiteoutSeeds(w *whiteoutWorld) []whiteoutSeed {
	idx := func(s string) byte {
		i := slices.Index(w.frags, s)
		if i < 0 || i > 127 {
			panic("no fragment " + s)
		}
		return byte(i)
	}
	const none = 0xff
	// e is one entry: kind, name (fragment/fragment), link target.
	e := func(kind byte, name, sub, link string) []byte {
		n2 := byte(none)
		if sub != "" {
			n2 = idx(sub)
		}
		return []byte{kind, idx(name), n2, idx(link)}
	}
	cases := [][][]byte{
		{e(kReg, "a", "", "a")},
		{e(kDir, "a", "", "b"), e(kReg, "a/b", "", "a"), e(kWhiteout, "a/b", "", "a")},
		{e(kReg, "../x", "", "a")},
		{e(kReg, "a/../..", "", "a")},
		{e(kReg, w.canary+"/f", "", "a")},
		{e(kSymlink, "link", "", w.up), e(kReg, "link/f", "", "a")},
		{e(kSymlink, "link", "", w.canary), e(kReg, "link", "f", "a"), e(kWhiteout, "link", "f", "a")},
		{e(kSymlink, "out", "", w.up), e(kOpaque, "out", "", "a")},
		{e(kSymlink, "out", "", w.up), e(kReg, "out/.wh..wh..opq", "", "a")},
		{e(kSymlink, "out", "", w.up), e(kWhiteout, "out/d", "", "a"), e(kWhiteout, "out/l", "", "a")},
		{e(kSymlink, "out", "", w.up), e(kDir, "out/d", "", "a"), e(kDir, "out", "", "a")},
		{e(kHardlink, "a", "", "../../canary/f")},
		{e(kHardlink, "a", "", w.canary+"/f")},
		{e(kSymlink, "out", "", w.up), e(kHardlink, "a", "", "out/f")},
		{e(kWhiteout, ".", "", "a")},
		{e(kReg, ".wh..", "", "a")},
		{e(kReg, ".wh...", "", "a")},
		{e(kOpaque, ".", "", "a")},
		{e(kPlink, "a", "", "a"), e(kPlinkLink, "b", "", "a")},
		{e(kPlink, "out", "", "a"), e(kPlinkLink, "b", "", "out")},
		{e(kPlinkLink, "b", "", "../x")},
		{e(kFifo, "fifo", "", "a"), e(kChar, "a", "", "b")},
		// a whiteout below a fifo: the same layer's, the one below's,
		// through a symlink (TestLayerWhiteoutBelowFifo)
		{e(kFifo, "fifo", "", "a"), e(kWhiteout, "fifo", "a", "a")},
		{e(kFifo, "fifo", "", "a"), e(kWhiteout|0x80, "fifo", "a", "a")},
		{e(kFifo, "fifo", "", "a"), e(kSymlink|0x80, "link", "", "fifo"), e(kWhiteout, "link", "a", "a")},
		{e(kDir|0x40, "a", "", "a"), e(kReg|0x40, "a/b", "", "a"), e(kSymlink|0x40, "link", "", w.up)},
		{e(kSymlink, "out", "", w.up), e(kReg|0x80, "out", "f", "a")},
		{e(kSymlink, "a", "", w.up), e(kWhiteout|0x80, "a", "", "a"), e(kReg, "a", "", "a")},
		{e(kDir, ".", "", "a"), e(kSymlink, ".", "", w.up)},
	}
	var out []whiteoutSeed
	for _, c := range cases {
		for _, head := range []byte{fmtVFS, fmtOverlay, fmtAUFS, fmtVFS | 4, fmtOverlay | 4} {
			out = append(out, whiteoutSeed{slices.Concat(append([][]byte{{head}}, c...)...), ""})
		}
	}
	out = append(out,
		whiteoutSeed{[]byte{fmtVFS | 4, kReg, 0, 0, 0, kWhiteout, byte(len(w.frags)), none, 0}, "out/d/g\n../../x"},
		whiteoutSeed{[]byte{fmtOverlay, kSymlink, 0, none, byte(len(w.frags)), kReg, 0, byte(len(w.frags) + 1), 0}, "/etc\npasswd"},
	)
	return out
}

// TestLayerWhiteoutBelowFifo: containers/storage v1.64.2's UnpackLayer,
// which the vfs driver applies layers with, carries out a whiteout
// "x/.wh.y" with os.RemoveAll("x/y"); when "x" is a fifo, RemoveAll opens
// it to read the directory, which blocks until someone opens the fifo for
// writing: forever, in a pull (FuzzLayerWhiteouts found it). box checks
// such layers before they are unpacked (guardedStore): a load or pull of
// one with vfs is refused at once, the fifo made by the same layer, by
// the one below, or reached through a symlink; with overlay, whose
// unpacking makes whiteouts as device nodes, it only must not hang.
func TestLayerWhiteoutBelowFifo(t *testing.T) {
	fifo := func(name string) hostileEntry {
		return hostileEntry{tar.Header{Name: name, Typeflag: tar.TypeFifo, Mode: 0o644}, ""}
	}
	base := layerTar(t, []hostileEntry{dir("etc/"), reg("etc/hello", "hello\n")})
	cases := []struct {
		name   string
		layers [][]byte
	}{
		{"same-layer", [][]byte{base, layerTar(t, []hostileEntry{fifo("x"), reg("x/.wh.y", "")})}},
		{"layer-below", [][]byte{base, layerTar(t, []hostileEntry{fifo("x")}), layerTar(t, []hostileEntry{reg("x/.wh.y", "")})}},
		{"through-symlink", [][]byte{base, layerTar(t, []hostileEntry{fifo("f")}), layerTar(t, []hostileEntry{symlink("l", "/f"), reg("l/.wh.y", "")})}},
	}
	vias := []hostileVia{viaLoad()}
	if !testing.Short() {
		vias = append(vias, viaPull(t))
	}
	for _, via := range vias {
		for _, driver := range []string{DriverVFS, DriverOverlay} {
			for _, tc := range cases {
				t.Run(via.name+"/"+driver+"/"+tc.name, func(t *testing.T) {
					st, root := testStore(t, driver)
					src, _ := via.put(t, root, "fifo/"+tc.name+":"+strings.ToLower(driver), imageOf(t, tc.layers...))
					done := make(chan error, 1)
					go func() { done <- via.get(context.Background(), t, st, src) }()
					var err error
					select {
					case err = <-done:
					case <-time.After(time.Minute):
						// Unblock it, or the store's cleanup would wait on
						// it too: kill containers/storage's extraction helper.
						killApplyHelpers(t)
						<-done
						t.Fatalf("%s with %s still ran after a minute: the unpack hangs", via.name, driver)
					}
					if driver != DriverVFS {
						t.Logf("%s() = %v", via.name, err)
						return
					}
					if !errors.Is(err, ErrHostileLayer) {
						t.Fatalf("%s() = %v, want ErrHostileLayer", via.name, err)
					}
					t.Logf("%s() = %v", via.name, err)
					if imgs, _ := st.Images(); len(imgs) != 0 {
						t.Errorf("after the refusal the store holds images %+v", imgs)
					}
				})
			}
		}
	}
}
