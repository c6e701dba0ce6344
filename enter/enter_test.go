package enter

import (
	"reflect"
	"testing"
)

// TestNsenterArgs: the role never enters the container's pid namespace
// (where a container allowed to trace would see it) and is run from the
// caller's root, where its own /proc entry is.
func TestNsenterArgs(t *testing.T) {
	all := []string{"--user", "--mount", "--pid", "--uts", "--ipc", "--net"}
	for _, tc := range []struct {
		name     string
		sameUser bool
		ns       []string
		want     []string
		pidNS    bool
	}{
		{"exec", false, all, []string{"--target", "42", "--user", "--mount", "--uts", "--ipc", "--net", "--wd=/", "proc/self/fd/3"}, true},
		{"healthcheck from the monitor", true, all, []string{"--target", "42", "--mount", "--uts", "--ipc", "--net", "--wd=/", "proc/self/fd/3"}, true},
		{"cp", false, []string{"--user", "--mount"}, []string{"--target", "42", "--user", "--mount", "--wd=/", "proc/self/fd/3"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, pidNS := nsenterArgs(42, tc.sameUser, tc.ns)
			if !reflect.DeepEqual(args, tc.want) || pidNS != tc.pidNS {
				t.Errorf("nsenterArgs(42, %v, %q) = %q, %v; want %q, %v", tc.sameUser, tc.ns, args, pidNS, tc.want, tc.pidNS)
			}
		})
	}
}
