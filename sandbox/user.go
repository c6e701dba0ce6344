package sandbox

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/boxcli/box/userns"
)

// User is who the command runs as.
type User struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Home     string
}

// lookupUser resolves Docker's -u forms: "", "name", "uid", "name:group",
// "uid:gid", "uid:group" against the image's passwd and group files (either
// may be nil when the image has none). Numeric ids need no entry.
func lookupUser(spec string, passwd, group io.Reader) (User, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	users, err := parseColon(passwd, 7)
	if err != nil {
		return User{}, fmt.Errorf("read /etc/passwd: %w", err)
	}
	groups, err := parseColon(group, 4)
	if err != nil {
		return User{}, fmt.Errorf("read /etc/group: %w", err)
	}
	u := User{Home: "/"}
	var userName string
	found := false
	for _, e := range users {
		if e[0] == userPart || e[2] == userPart {
			uid, err1 := strconv.ParseUint(e[2], 10, 32)
			gid, err2 := strconv.ParseUint(e[3], 10, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			u.UID, u.GID, u.Home, userName, found = uint32(uid), uint32(gid), e[5], e[0], true
			break
		}
	}
	if !found {
		n, err := strconv.ParseUint(userPart, 10, 32)
		if err != nil {
			return User{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
		u.UID, u.GID = uint32(n), uint32(n)
		if n != 0 {
			// Docker's rule: an unknown numeric uid runs with gid 0 unless told.
			u.GID = 0
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	if hasGroup {
		gid, ok := findGroup(groups, groupPart)
		if !ok {
			n, err := strconv.ParseUint(groupPart, 10, 32)
			if err != nil {
				return User{}, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
			}
			gid = uint32(n)
		}
		u.GID = gid
	}
	if userName != "" {
		for _, g := range groups {
			for _, m := range strings.Split(g[3], ",") {
				if m == userName {
					if n, err := strconv.ParseUint(g[2], 10, 32); err == nil && uint32(n) != u.GID {
						u.Groups = append(u.Groups, uint32(n))
					}
				}
			}
		}
	}
	return u, nil
}

func findGroup(groups [][]string, name string) (uint32, bool) {
	for _, g := range groups {
		if g[0] == name || g[2] == name {
			if n, err := strconv.ParseUint(g[2], 10, 32); err == nil {
				return uint32(n), true
			}
		}
	}
	return 0, false
}

// parseColon reads a colon-separated database, skipping comments and lines
// with too few fields, as libc does.
func parseColon(r io.Reader, fields int) ([][]string, error) {
	if r == nil {
		return nil, nil
	}
	var out [][]string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < fields {
			continue
		}
		out = append(out, f[:fields])
	}
	return out, sc.Err()
}

// idMap is a user namespace's uid_map or gid_map, in its own ids.
type idMap []struct{ start, count uint64 }

// parseIDMap reads /proc/PID/uid_map's format; lines it cannot read map
// nothing.
func parseIDMap(s string) idMap {
	var m idMap
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(f[0], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		m = append(m, struct{ start, count uint64 }{start, count})
	}
	return m
}

// idMaps are the maps of this process's user namespace.
type idMaps struct{ uids, gids idMap }

// readIDMaps reads them from self, this process's /proc entry.
func readIDMaps(self string) (idMaps, error) {
	var m idMaps
	for _, f := range []struct {
		name string
		to   *idMap
	}{{"uid_map", &m.uids}, {"gid_map", &m.gids}} {
		b, err := os.ReadFile(self + "/" + f.name)
		if err != nil {
			return idMaps{}, fmt.Errorf("read the user namespace's id map: %w", err)
		}
		*f.to = parseIDMap(string(b))
	}
	return m, nil
}

// ttyGID is the group a terminal gets: the tty group where the namespace
// maps it, else whatever the creator's is (-1 to fchown).
func (m idMaps) ttyGID() int {
	if m.gids.contains(5) {
		return 5
	}
	return -1
}

func (m idMap) contains(id uint32) bool {
	for _, r := range m {
		if uint64(id) >= r.start && uint64(id) < r.start+r.count {
			return true
		}
	}
	return false
}

// String is the ids m maps, as ranges: "0-65536" (for lines "0 U 1"
// and "1 S 65536").
func (m idMap) String() string {
	var merged idMap
	for _, r := range slices.SortedFunc(slices.Values(m), func(a, b struct{ start, count uint64 }) int {
		return cmp.Compare(a.start, b.start)
	}) {
		if n := len(merged); n > 0 && merged[n-1].start+merged[n-1].count == r.start {
			merged[n-1].count += r.count
			continue
		}
		merged = append(merged, r)
	}
	var parts []string
	for _, r := range merged {
		if r.count == 1 {
			parts = append(parts, strconv.FormatUint(r.start, 10))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d-%d", r.start, r.start+r.count-1))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// idMapOf is m as the namespace it is written for sees it.
func idMapOf(m []userns.IDMap) idMap {
	out := make(idMap, len(m))
	for i, e := range m {
		out[i].start, out[i].count = uint64(e.ContainerID), uint64(e.Size)
	}
	return out
}

// CheckNumericUser refuses a user given by number (-u 4294967295, an
// image's User "0:70000") that the container's maps, uids and gids, leave
// out: the stage calls it before anything of the container exists. Names
// are for the init to resolve in the image's passwd and group files, and
// check then (resolveUser).
func CheckNumericUser(spec string, uids, gids []userns.IDMap) error {
	userPart, groupPart, _ := strings.Cut(spec, ":")
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		if m := idMapOf(uids); !m.contains(uint32(n)) {
			return fmt.Errorf("user %q: %w", spec, unmapped("uid", uint32(n), m))
		}
	}
	if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
		if m := idMapOf(gids); !m.contains(uint32(n)) {
			return fmt.Errorf("user %q: %w", spec, unmapped("gid", uint32(n), m))
		}
	}
	return nil
}

func unmapped(what string, id uint32, m idMap) error {
	return fmt.Errorf("%s %d is not mapped in the container's user namespace (%s); choose one of those", what, id, m)
}

// checkMapped refuses a user whose ids the namespace does not map, as
// runc does. 4294967295 is -1 to setuid(2), which then changes nothing
// and leaves the command root; any other unmapped id would fail later
// with a bare EINVAL.
func checkMapped(u User, uids, gids idMap) error {
	if !uids.contains(u.UID) {
		return unmapped("uid", u.UID, uids)
	}
	if !gids.contains(u.GID) {
		return unmapped("gid", u.GID, gids)
	}
	for _, g := range u.Groups {
		if !gids.contains(g) {
			return unmapped("supplementary group", g, gids)
		}
	}
	return nil
}
