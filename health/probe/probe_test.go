package probe

import (
	"strings"
	"testing"
)

func TestCappedKeepsTheStart(t *testing.T) {
	c := &capped{max: 10}
	for _, w := range []string{"hello ", "world, ", "and more"} {
		if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v: a capped writer must take everything", w, n, err)
		}
	}
	if got := c.String(); got != "hello worl" {
		t.Errorf("kept %q, want the first 10 bytes", got)
	}
	big := &capped{max: 4096}
	big.Write([]byte(strings.Repeat("x", 10000)))
	if len(big.String()) != 4096 {
		t.Errorf("kept %d bytes of 10000, want 4096", len(big.String()))
	}
}
