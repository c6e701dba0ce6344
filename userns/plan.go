// Package userns decides and creates box's user namespace: the full
// subordinate-id map written by newuidmap/newgidmap, the single-ID map used
// where the user has no range, and the identity map used by real root.
//
// Plan and the map formatting are pure; Start is the only part that acts on
// the kernel and runs the setuid helpers.
package userns

import (
	"errors"
	"fmt"
	"strings"

	"github.com/boxcli/box/subid"
)

// IDMap is one line of /proc/PID/uid_map: Size ids starting at ContainerID
// inside map to ids starting at HostID outside.
type IDMap struct {
	ContainerID, HostID, Size uint32
}

// Mode is what the user asked for with --userns.
type Mode string

const (
	// Auto uses the subordinate ranges and falls back to Single with a warning.
	Auto Mode = ""
	// Single maps only the user to root, with no helper: what works everywhere.
	Single Mode = "single"
	// KeepID is Auto for box's own namespace; the container gets a nested
	// namespace in which the user's id is itself again.
	KeepID Mode = "keep-id"
)

// ParseMode accepts the --userns values box understands.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Auto, "auto":
		return Auto, nil
	case Single, KeepID:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown --userns mode %q (want auto, single or keep-id)", s)
}

// ErrNoHelper means the user has ranges but newuidmap/newgidmap are missing.
var ErrNoHelper = errors.New("newuidmap/newgidmap not found")

// Maps is the plan for box's user namespace.
type Maps struct {
	UID, GID []IDMap
	// Direct means the maps are written to /proc by box itself (real root,
	// or the single-ID map) instead of by newuidmap/newgidmap.
	Direct bool
	// Fallback says why a requested full map degraded to a single ID; it is
	// worded for a one-line warning and nil when nothing degraded.
	Fallback error
}

// Single reports whether the namespace maps one id only.
func (m Maps) Single() bool { return len(m.UID) == 1 && m.UID[0].Size == 1 }

// Plan decides the maps for a user (uid, gid) with the given subordinate
// ranges. haveHelpers says whether newuidmap and newgidmap exist.
func Plan(mode Mode, uid, gid uint32, subuids, subgids []subid.Range, haveHelpers bool) Maps {
	if uid == 0 {
		// Real root needs no helper and owns every id: map them all, as a
		// rootful runtime sees them.
		all := []IDMap{{0, 0, 1<<32 - 1}}
		return Maps{UID: all, GID: all, Direct: true}
	}
	single := Maps{
		UID:    []IDMap{{0, uid, 1}},
		GID:    []IDMap{{0, gid, 1}},
		Direct: true,
	}
	if mode == Single {
		return single
	}
	switch {
	case len(subuids) == 0:
		single.Fallback = fmt.Errorf("no subordinate UIDs for uid %d in /etc/subuid: %w", uid, subid.ErrNoRange)
		return single
	case len(subgids) == 0:
		single.Fallback = fmt.Errorf("no subordinate GIDs for uid %d in /etc/subgid: %w", uid, subid.ErrNoRange)
		return single
	case !haveHelpers:
		single.Fallback = ErrNoHelper
		return single
	}
	return Maps{UID: withRanges(uid, subuids), GID: withRanges(gid, subgids)}
}

// withRanges maps root to the user and 1.. to the subordinate ranges in
// file order, as podman does, so image files keep their owners.
func withRanges(id uint32, rs []subid.Range) []IDMap {
	m := []IDMap{{0, id, 1}}
	next := uint32(1)
	for _, r := range rs {
		if uint64(next)+uint64(r.Count) > 1<<32-1 {
			break
		}
		m = append(m, IDMap{next, r.Start, r.Count})
		next += r.Count
	}
	return m
}

// Size is the number of ids a map covers.
func Size(m []IDMap) uint64 {
	var n uint64
	for _, e := range m {
		n += uint64(e.Size)
	}
	return n
}

// procFormat is the text written to /proc/PID/uid_map.
func procFormat(m []IDMap) string {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return b.String()
}

// helperArgs is the argument list of newuidmap/newgidmap after the pid.
func helperArgs(m []IDMap) []string {
	args := make([]string, 0, 3*len(m))
	for _, e := range m {
		args = append(args, fmt.Sprint(e.ContainerID), fmt.Sprint(e.HostID), fmt.Sprint(e.Size))
	}
	return args
}

// KeepIDMaps returns the nested map, in the coordinates of box's namespace,
// that makes container id `id` land on box's root (the user outside) while
// the other ids keep a one-to-one place in the rest of the range. size is
// the number of ids box's namespace maps.
func KeepIDMaps(id uint32, size uint64) []IDMap {
	if size <= 1 {
		return []IDMap{{id, 0, 1}}
	}
	m := []IDMap{}
	lowEnd := uint64(id)
	if lowEnd > size-1 {
		lowEnd = size - 1
	}
	if lowEnd > 0 {
		m = append(m, IDMap{0, 1, uint32(lowEnd)})
	}
	m = append(m, IDMap{id, 0, 1})
	if rest := size - 1 - lowEnd; rest > 0 {
		m = append(m, IDMap{id + 1, uint32(lowEnd + 1), uint32(rest)})
	}
	return m
}

// Identity maps the ids m maps in its namespace onto themselves, for a
// namespace nested in that one.
func Identity(m []IDMap) []IDMap {
	out := make([]IDMap, len(m))
	for i, e := range m {
		out[i] = IDMap{ContainerID: e.ContainerID, HostID: e.ContainerID, Size: e.Size}
	}
	return out
}

// HostOf is the id that id inside m's namespace is outside it (id itself
// when m does not map it).
func HostOf(id uint32, m []IDMap) uint32 {
	for _, e := range m {
		if id >= e.ContainerID && uint64(id) < uint64(e.ContainerID)+uint64(e.Size) {
			return e.HostID + (id - e.ContainerID)
		}
	}
	return id
}
