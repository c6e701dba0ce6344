package stage

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestCleanMappings(t *testing.T) {
	smaps := `00400000-00c00000 r-xp 00000000 08:01 42 /usr/bin/box
Size:               8192 kB
Rss:                4096 kB
Anonymous:             0 kB
00c00000-01000000 r--p 00800000 08:01 42 /usr/bin/box
Size:               4096 kB
Anonymous:             0 kB
01000000-01100000 r--p 00c00000 08:01 42 /usr/bin/box
Anonymous:            12 kB
01100000-01200000 rw-p 00d00000 08:01 42 /usr/bin/box
Anonymous:           100 kB
01200000-01300000 r-xp 00000000 08:01 43 /usr/bin/box-other
Anonymous:             0 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Anonymous:          1024 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Anonymous:           132 kB
`
	got := cleanMappings([]byte(smaps), "/usr/bin/box")
	want := [][2]uintptr{{0x00400000, 0x00c00000}, {0x00c00000, 0x01000000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cleanMappings = %x, want %x (read-only, unwritten mappings of the binary only)", got, want)
	}
}

// The process goes on working after its clean pages are dropped, and its
// resident set shrinks.
func TestDropCleanFilePages(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	if len(cleanMappings(b, exe)) == 0 {
		t.Fatalf("no clean mappings of %s in /proc/self/smaps", exe)
	}
	before := fileRss(t)
	dropCleanFilePages()
	after := fileRss(t)
	if after >= before {
		t.Errorf("RssFile %d kB before, %d kB after dropping clean pages, want fewer", before, after)
	}
	// the dropped code and data come back on use: parse smaps again
	b, err = os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	if len(cleanMappings(b, exe)) == 0 {
		t.Errorf("after dropping, no clean mappings of %s found any more", exe)
	}
}

func fileRss(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("RssFile %q: %v", f[1], err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
