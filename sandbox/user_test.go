package sandbox

import (
	"reflect"
	"strings"
	"testing"
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
