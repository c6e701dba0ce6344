package cli

import (
	"testing"

	"github.com/boxcli/box/image"
	"github.com/boxcli/box/stage"
)

func TestImageUsageCountsSharedLayersOnce(t *testing.T) {
	// base has layer a; app adds b on top of a; tool adds c on a; each
	// image's records take 1 byte beyond its layers.
	du := stage.DiskUsage{
		Images:      []image.Summary{{ID: "base", Size: 101}, {ID: "app", Size: 121}, {ID: "tool", Size: 131}},
		ImageLayers: map[string][]string{"base": {"a"}, "app": {"b", "a"}, "tool": {"c", "a"}},
		LayerSizes:  map[string]int64{"a": 100, "b": 20, "c": 30},
	}
	size, free, active := imageUsage(du, map[string]bool{"app": true})
	if size != 100+20+30+3 {
		t.Errorf("size = %d, want 153 (a once, b, c, three records)", size)
	}
	// Unused: base and tool. a stays (app needs it); c and their records go.
	if free != 30+2 {
		t.Errorf("reclaimable = %d, want 32", free)
	}
	if active != 1 {
		t.Errorf("active = %d, want 1", active)
	}
	if size, free, _ := imageUsage(du, nil); free != size {
		t.Errorf("with no container every byte is reclaimable: %d of %d", free, size)
	}
}
