package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"

	"github.com/boxcli/box/boxdirs"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/subid"
	"github.com/boxcli/box/userns"
)

// host is who runs box and where its files are.
type host struct {
	uid, gid int
	name     string
	dirs     boxdirs.Dirs
}

func lookupHost() (*host, error) {
	h := &host{uid: os.Getuid(), gid: os.Getgid()}
	if u, err := user.LookupId(strconv.Itoa(h.uid)); err == nil {
		h.name = u.Username
	} else {
		h.name = osEnv("USER")
	}
	d, err := boxdirs.Lookup(osEnv, h.uid)
	if err != nil {
		return nil, err
	}
	if err := d.Ensure(h.uid); err != nil {
		return nil, err
	}
	h.dirs = d
	return h, nil
}

// openRecords finds the host and opens its container records.
func openRecords() (*host, *container.Store, error) {
	h, err := lookupHost()
	if err != nil {
		return nil, nil, err
	}
	records, err := container.Open(h.dirs.Containers())
	if err != nil {
		return nil, nil, err
	}
	return h, records, nil
}

// listContainers opens the records and lists every container.
func listContainers() (*host, *container.Store, []*container.Container, error) {
	h, records, err := openRecords()
	if err != nil {
		return nil, nil, nil, err
	}
	list, err := records.List()
	if err != nil {
		return nil, nil, nil, err
	}
	return h, records, list, nil
}

// openContainer opens the records and finds the container ref names.
func openContainer(ref string) (*host, *container.Store, *container.Container, error) {
	h, records, err := openRecords()
	if err != nil {
		return nil, nil, nil, err
	}
	ct, err := records.Get(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	return h, records, ct, nil
}

// maps plans box's user namespace for mode, warning once when it has to
// fall back to a single ID.
func (e *env) maps(h *host, mode userns.Mode) (userns.Maps, error) {
	if h.uid == 0 || mode == userns.Single {
		return userns.Plan(mode, uint32(h.uid), uint32(h.gid), nil, nil, false), nil
	}
	subuids, err := readRanges(etcFile("_BOX_SUBUID_FILE", "/etc/subuid"), h)
	if err != nil {
		return userns.Maps{}, err
	}
	subgids, err := readRanges(etcFile("_BOX_SUBGID_FILE", "/etc/subgid"), h)
	if err != nil {
		return userns.Maps{}, err
	}
	m := userns.Plan(mode, uint32(h.uid), uint32(h.gid), subuids, subgids, userns.HaveHelpers())
	if m.Fallback != nil {
		if mode == userns.KeepID {
			return m, m.Fallback
		}
		fix := "add a range (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " + h.name + ")"
		if errors.Is(m.Fallback, userns.ErrNoHelper) {
			fix = "install the uidmap package"
		}
		e.warn(fmt.Sprintf("%v: using a single-ID user namespace (image files all belong to root); %s, or pass --userns=single to silence this%s", m.Fallback, fix, seeDoctor))
	}
	return m, nil
}

func readRanges(path string, h *host) ([]subid.Range, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := subid.Parse(f, h.name, h.uid)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// request fills what every stage request carries.
func (e *env) request(h *host, op string) stage.Request {
	return stage.Request{
		Op:      op,
		Dirs:    h.dirs,
		Driver:  e.g.StorageDriver,
		HostUID: uint32(h.uid),
		HostGID: uint32(h.gid),
		Debug:   e.g.Debug,
	}
}

// do sends one request to a fresh stage and decodes its result.
func (e *env) do(req stage.Request, mode userns.Mode, h *host, out any) error {
	m, err := e.maps(h, mode)
	if err != nil {
		return err
	}
	return stage.Do(req, stage.Options{Maps: m, Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr}, e.warn, out)
}

// etcFile lets the test suite point box at other subordinate id files:
// the test user cannot edit /etc, and the fallback must be tested for real.
func etcFile(env, path string) string {
	if p := osEnv(env); p != "" {
		return p
	}
	return path
}
