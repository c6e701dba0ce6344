package build

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// chownOwner resolves --chown (and the owner WORKDIR's directories get)
// against the layer's /etc/passwd and /etc/group: nil for "".
func chownOwner(d *dest, spec string) (*ids, error) {
	if spec == "" {
		return nil, nil
	}
	passwd, _ := d.readFile("/etc/passwd")
	group, _ := d.readFile("/etc/group")
	o, err := parseChown(spec, passwd, group)
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// readFile reads a regular file inside the root; a missing one is nil.
func (d *dest) readFile(p string) ([]byte, error) {
	h, err := d.lookup(p)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	return io.ReadAll(io.LimitReader(f, 16<<20))
}

// parseChown reads Docker's --chown forms: uid, uid:gid, user, user:group
// (names from the given passwd and group files). A user without a group
// gets the user's uid as gid when given as a number, the user's primary
// group when given as a name, as BuildKit does.
func parseChown(spec string, passwd, group []byte) (ids, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" || hasGroup && groupPart == "" {
		return ids{}, fmt.Errorf("invalid --chown %q: want user[:group]", spec)
	}
	var o ids
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		o = ids{int(n), int(n)}
	} else {
		e, ok := findEntry(passwd, userPart, 7)
		if !ok {
			return ids{}, fmt.Errorf("--chown %s: %w: no user %q in the image's /etc/passwd", spec, ErrUnknownUser, userPart)
		}
		uid, err1 := strconv.ParseUint(e[2], 10, 32)
		gid, err2 := strconv.ParseUint(e[3], 10, 32)
		if err1 != nil || err2 != nil {
			return ids{}, fmt.Errorf("--chown %s: the /etc/passwd entry of %s is malformed", spec, userPart)
		}
		o = ids{int(uid), int(gid)}
	}
	if !hasGroup {
		return o, nil
	}
	if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
		o.gid = int(n)
		return o, nil
	}
	e, ok := findEntry(group, groupPart, 4)
	if !ok {
		return ids{}, fmt.Errorf("--chown %s: %w: no group %q in the image's /etc/group", spec, ErrUnknownUser, groupPart)
	}
	gid, err := strconv.ParseUint(e[2], 10, 32)
	if err != nil {
		return ids{}, fmt.Errorf("--chown %s: the /etc/group entry of %s is malformed", spec, groupPart)
	}
	o.gid = int(gid)
	return o, nil
}

// ErrUnknownUser: a name the image's passwd or group file does not have.
var ErrUnknownUser = errors.New("unknown user or group")

// findEntry is the line of a colon-separated file whose first field is
// name.
func findEntry(data []byte, name string, fields int) ([]string, bool) {
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) >= fields-1 && f[0] == name {
			for len(f) < fields {
				f = append(f, "")
			}
			return f, true
		}
	}
	return nil, false
}
