package userns

import (
	"errors"
	"reflect"
	"testing"

	"github.com/boxcli/box/subid"
)

func TestPlan(t *testing.T) {
	r := []subid.Range{{Start: 100000, Count: 65536}}
	two := []subid.Range{{Start: 100000, Count: 1000}, {Start: 300000, Count: 500}}
	tests := []struct {
		name     string
		mode     Mode
		uid      uint32
		sub      []subid.Range
		helpers  bool
		wantUID  []IDMap
		direct   bool
		fallback error
	}{
		{"full map", Auto, 1000, r, true, []IDMap{{0, 1000, 1}, {1, 100000, 65536}}, false, nil},
		{"ranges in file order", Auto, 1000, two, true, []IDMap{{0, 1000, 1}, {1, 100000, 1000}, {1001, 300000, 500}}, false, nil},
		{"keep-id uses the full map for box itself", KeepID, 1000, r, true, []IDMap{{0, 1000, 1}, {1, 100000, 65536}}, false, nil},
		{"no range falls back", Auto, 1000, nil, true, []IDMap{{0, 1000, 1}}, true, subid.ErrNoRange},
		{"no helpers fall back", Auto, 1000, r, false, []IDMap{{0, 1000, 1}}, true, ErrNoHelper},
		{"single asked", Single, 1000, r, true, []IDMap{{0, 1000, 1}}, true, nil},
		{"root maps everything", Auto, 0, nil, false, []IDMap{{0, 0, 1<<32 - 1}}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Plan(tc.mode, tc.uid, 2000, tc.sub, tc.sub, tc.helpers)
			if !reflect.DeepEqual(m.UID, tc.wantUID) || m.Direct != tc.direct {
				t.Fatalf("Plan = %+v, want UID %v direct %v", m, tc.wantUID, tc.direct)
			}
			if (tc.fallback == nil) != (m.Fallback == nil) || (tc.fallback != nil && !errors.Is(m.Fallback, tc.fallback)) {
				t.Fatalf("Plan fallback = %v, want %v", m.Fallback, tc.fallback)
			}
			if m.GID[0].HostID != 2000 && tc.uid != 0 {
				t.Errorf("gid map %v does not start with the user's gid", m.GID)
			}
		})
	}
}

func TestKeepIDMaps(t *testing.T) {
	tests := []struct {
		id   uint32
		size uint64
		want []IDMap
	}{
		{1000, 65537, []IDMap{{0, 1, 1000}, {1000, 0, 1}, {1001, 1001, 64536}}},
		{0, 65537, []IDMap{{0, 0, 1}, {1, 1, 65536}}},
		{1000, 1, []IDMap{{1000, 0, 1}}},
	}
	for _, tc := range tests {
		got := KeepIDMaps(tc.id, tc.size)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("KeepIDMaps(%d, %d) = %v, want %v", tc.id, tc.size, got, tc.want)
		}
		if Size(got) != tc.size {
			t.Errorf("KeepIDMaps(%d, %d) covers %d ids", tc.id, tc.size, Size(got))
		}
	}
}

func TestFormats(t *testing.T) {
	m := []IDMap{{0, 1000, 1}, {1, 100000, 65536}}
	if got := procFormat(m); got != "0 1000 1\n1 100000 65536\n" {
		t.Errorf("procFormat = %q", got)
	}
	if got := helperArgs(m); !reflect.DeepEqual(got, []string{"0", "1000", "1", "1", "100000", "65536"}) {
		t.Errorf("helperArgs = %q", got)
	}
	back, err := parseProcMap("         0       1000          1\n         1     100000      65536\n")
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Errorf("parseProcMap = %v, %v", back, err)
	}
	if _, err := parseProcMap("0 x 1"); err == nil {
		t.Error("parseProcMap accepted garbage")
	}
}

func TestIdentityAndHostOf(t *testing.T) {
	box := []IDMap{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	id := Identity(box)
	want := []IDMap{{0, 0, 1}, {1, 1, 65536}}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("Identity(%v) = %v, want %v", box, id, want)
	}
	for _, tc := range []struct {
		id   uint32
		m    []IDMap
		want uint32
	}{
		{0, box, 1001}, {1, box, 100000}, {65536, box, 165535}, {70000, box, 70000},
		{0, KeepIDMaps(1001, 65537), 1}, {1001, KeepIDMaps(1001, 65537), 0},
		{0, KeepIDMaps(0, 65537), 0},
	} {
		if got := HostOf(tc.id, tc.m); got != tc.want {
			t.Errorf("HostOf(%d, %v) = %d, want %d", tc.id, tc.m, got, tc.want)
		}
	}
}
