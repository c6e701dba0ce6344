package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
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
