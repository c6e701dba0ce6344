package sandbox

import "testing"

func TestLateMount(t *testing.T) {
	for dest, want := range map[string]bool{
		"/proc": true, "/proc/sys/fs": true, "/sys": true, "/sys/fs/cgroup": true,
		"/dev/pts": true, "/dev/mqueue/q": true, "proc/x": true, "/sys/../etc": false,
		"/dev": false, "/dev/shm": false, "/dev/fuse": false, "/procfs": false,
		"/system": false, "/etc/hosts": false, "/": false,
	} {
		if got := lateMount(dest); got != want {
			t.Errorf("lateMount(%q) = %v, want %v", dest, got, want)
		}
	}
}

func TestOwnerTmpfs(t *testing.T) {
	for _, tc := range []struct {
		o          owner
		data, want string
	}{
		{owner{}, "mode=1777", "mode=1777"},
		{owner{UID: 1, GID: 1}, "mode=1777", "mode=1777,uid=1,gid=1"},
		{owner{UID: 1, GID: 2}, "", "uid=1,gid=2"},
		{owner{UID: 1, GID: 1}, "size=1m,uid=7", "size=1m,uid=7"}, // the user's own wins
		{owner{UID: 1, GID: 1}, "gid=7,mode=700", "gid=7,mode=700"},
	} {
		if got := tc.o.tmpfs(tc.data); got != tc.want {
			t.Errorf("%+v.tmpfs(%q) = %q, want %q", tc.o, tc.data, got, tc.want)
		}
	}
}
