package stage

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropCleanFilePages unmaps the pages of box's binary that the start
// touched and the monitor will not use again: the code and read-only data
// of containers/storage, containers/image, the parsers. They stay in the
// page cache, shared with every other box process, and come back on a
// minor fault if needed; what goes is this idle process's claim on them,
// which was 80% of its resident set (17 of 21 MiB) and kept them on the
// active list, out of reclaim's way. Only mappings of the executable with
// no anonymous (private, written) pages are touched: a relocated read-only
// segment of a PIE build has them, and dropping those would undo the
// relocations.
func dropCleanFilePages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	for _, m := range cleanMappings(b, exe) {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, m[0], m[1]-m[0], unix.MADV_DONTNEED)
	}
}

// cleanMappings returns [start, end) of each read-only mapping of path in
// an smaps listing whose Anonymous count is 0.
func cleanMappings(smaps []byte, path string) [][2]uintptr {
	var out [][2]uintptr
	var cur [2]uintptr
	candidate := false
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			// A mapping's header: "start-end perms offset dev inode [path]".
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			perms := f[1]
			candidate = err1 == nil && err2 == nil && len(f) >= 6 && f[5] == path &&
				len(perms) == 4 && perms[1] == '-' && perms[3] == 'p'
			cur = [2]uintptr{uintptr(start), uintptr(end)}
			continue
		}
		if candidate && f[0] == "Anonymous:" {
			if len(f) >= 2 && f[1] == "0" {
				out = append(out, cur)
			}
			candidate = false
		}
	}
	return out
}
