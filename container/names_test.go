package container

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"a", true},
		{"web", true},
		{"9lives", true},
		{"ok-name_1.x", true},
		{"A.B-C_D", true},
		{"", false},
		{"-x", false},
		{"_x", false},
		{".x", false},
		{"a b", false},
		{"a/b", false},
		{"/web", false},
		{"..", false},
		{"ü", false},
		{"a:b", false},
		{"a\n", false},
	}
	for _, tc := range tests {
		if got := validName(tc.name); got != tc.want {
			t.Errorf("validName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRandomName(t *testing.T) {
	plain := regexp.MustCompile(`^[a-z]+_[a-z]+$`)
	suffixed := regexp.MustCompile(`^[a-z]+_[a-z]+[0-9]+$`)
	for i := 0; i < 200; i++ {
		if n := randomName(0); !plain.MatchString(n) || !validName(n) {
			t.Fatalf("randomName(0) = %q, want adjective_surname", n)
		}
		if n := randomName(3); !suffixed.MatchString(n) || !validName(n) {
			t.Fatalf("randomName(3) = %q, want adjective_surname and digits", n)
		}
		if n := randomName(0); strings.HasPrefix(n, "boring_") {
			t.Fatalf("randomName(0) = %q; docker never makes boring names", n)
		}
	}
}

func TestValidID(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		id   string
		want bool
	}{
		{good, true},
		{newID(), true},
		{good[:63], false},
		{good + "0", false},
		{strings.ToUpper(good), false},
		{"../" + good[3:], false},
		{".tmp-" + good[5:], false},
		{"", false},
	}
	for _, tc := range tests {
		if got := validID(tc.id); got != tc.want {
			t.Errorf("validID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
