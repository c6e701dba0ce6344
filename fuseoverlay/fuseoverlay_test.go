package fuseoverlay

import "testing"

func TestOptions(t *testing.T) {
	tests := []struct {
		lower       []string
		upper, work string
		want        string
	}{
		{[]string{"/l1", "/l2"}, "/u", "/w", "lowerdir=/l1:/l2,upperdir=/u,workdir=/w"},
		{[]string{"/l"}, "/u", "/w", "lowerdir=/l,upperdir=/u,workdir=/w"},
		{[]string{"/a:b"}, "/u", "/w", ""},
		{[]string{"/l"}, "/u,x", "/w", ""},
	}
	for _, tc := range tests {
		if got := Options(tc.lower, tc.upper, tc.work); got != tc.want {
			t.Errorf("Options(%q, %q, %q) = %q, want %q", tc.lower, tc.upper, tc.work, got, tc.want)
		}
	}
}
