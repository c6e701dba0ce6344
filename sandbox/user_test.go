package sandbox

import (
	"reflect"
	"strings"
	"testing"

	"github.com/boxcli/box/userns"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
# comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
box:x:1000:1000:Box:/home/box:/bin/sh
broken line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`
const group = `root:x:0:
tty:x:5:box
users:x:100:box,other
box:x:1000:
`

func TestLookupUser(t *testing.T) {
	tests := []struct {
		spec string
		want User
		err  string
	}{
		{"", User{UID: 0, GID: 0, Home: "/root"}, ""},
		{"root", User{UID: 0, GID: 0, Home: "/root"}, ""},
		{"box", User{UID: 1000, GID: 1000, Home: "/home/box", Groups: []uint32{5, 100}}, ""},
		{"1000", User{UID: 1000, GID: 1000, Home: "/home/box", Groups: []uint32{5, 100}}, ""},
		{"box:users", User{UID: 1000, GID: 100, Home: "/home/box", Groups: []uint32{5}}, ""},
		{"1234", User{UID: 1234, GID: 0, Home: "/"}, ""},
		{"1234:55", User{UID: 1234, GID: 55, Home: "/"}, ""},
		{"nobody:tty", User{UID: 65534, GID: 5, Home: "/nonexistent"}, ""},
		{"nope", User{}, "unable to find user nope"},
		{"box:nogroup", User{}, "unable to find group nogroup"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := lookupUser(tc.spec, strings.NewReader(passwd), strings.NewReader(group))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("lookupUser(%q) error = %v, want %q", tc.spec, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("lookupUser(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
		})
	}
}

func TestLookupUserNoFiles(t *testing.T) {
	got, err := lookupUser("42:7", nil, nil)
	if err != nil || got.UID != 42 || got.GID != 7 {
		t.Fatalf("lookupUser without files = %+v, %v", got, err)
	}
	if _, err := lookupUser("root", nil, nil); err == nil {
		t.Fatal("lookupUser(root) without passwd succeeded; docker refuses names it cannot resolve")
	}
}

func TestCheckMapped(t *testing.T) {
	full := parseIDMap("         0       1001          1\n         1     100000      65536\n")
	single := parseIDMap("0 1001 1")
	root := parseIDMap("0 0 4294967295")
	tests := []struct {
		name       string
		u          User
		uids, gids idMap
		err        string
	}{
		{"root", User{}, full, full, ""},
		{"last of the range", User{UID: 65536, GID: 65536, Groups: []uint32{5}}, full, full, ""},
		{"past the range", User{UID: 65537}, full, full, "uid 65537 is not mapped in the container's user namespace (0-65536)"},
		{"gid past the range", User{GID: 70000}, full, full, "gid 70000 is not mapped"},
		{"minus one", User{UID: 4294967295}, full, full, "uid 4294967295 is not mapped"},
		{"minus one as gid", User{GID: 4294967295}, full, full, "gid 4294967295"},
		{"minus one under real root's map", User{UID: 4294967295}, root, root, "uid 4294967295 is not mapped in the container's user namespace (0-4294967294)"},
		{"real root's map", User{UID: 4294967294, GID: 7}, root, root, ""},
		{"a group", User{Groups: []uint32{100, 70000}}, full, full, "supplementary group 70000"},
		{"single id", User{UID: 1}, single, single, "uid 1 is not mapped in the container's user namespace (0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkMapped(tc.u, tc.uids, tc.gids)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("checkMapped(%+v) = %v, want nil", tc.u, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("checkMapped(%+v) = %v, want %q", tc.u, err, tc.err)
			}
		})
	}
}

func TestCheckNumericUser(t *testing.T) {
	full := []userns.IDMap{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	// keep-id for a user whose uid lies past the subordinate range.
	keepID := userns.KeepIDMaps(100000, 65537)
	for _, tc := range []struct {
		spec       string
		uids, gids []userns.IDMap
		err        string
	}{
		{"", full, full, ""},
		{"1000:1000", full, full, ""},
		{"name", full, full, ""}, // the init resolves names
		{"name:4294967295", full, full, "gid 4294967295"},
		{"4294967295", full, full, `user "4294967295": uid 4294967295 is not mapped in the container's user namespace (0-65536)`},
		{"70000:0", full, full, "uid 70000"},
		{"0:65537", full, full, "gid 65537"},
		{"100000", keepID, keepID, ""},
		{"65536", keepID, keepID, "uid 65536 is not mapped in the container's user namespace (0-65535, 100000)"},
	} {
		err := CheckNumericUser(tc.spec, tc.uids, tc.gids)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckNumericUser(%q) = %v, want %q", tc.spec, err, tc.err)
		}
	}
}
