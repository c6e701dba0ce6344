package cli

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, é and 日本", "plain text, é and 日本"},
		{"\x1b]0;owned\x07title", `\x1b]0;owned\atitle`},
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"line\nforged line", `line\nforged line`},
		{"tab\there", `tab\there`},
		{"del\x7f", `del\x7f`},
		{"c1 csi \u009b6n", `c1 csi \u009b6n`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"bad \xff byte", `bad \xff byte`},
		{`back\slash`, `back\slash`},
		{"", ""},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPrintableText(t *testing.T) {
	if got := printableText("a\tb\nc\x1b[2J\r"); got != "a\tb\nc\\x1b[2J\\r" {
		t.Errorf("printableText = %q", got)
	}
}

func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "a", "\x1b[31m", "\u009b", "\xff\xfe", "\u202e", "日本\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := printable(s)
		for _, r := range p {
			if r == utf8.RuneError || !strconv.IsPrint(r) {
				t.Fatalf("printable(%q) = %q still holds %U", s, p, r)
			}
		}
		if printable(p) != p {
			t.Fatalf("printable is not stable on %q", p)
		}
		// JSON stays JSON, with the same value.
		b, _ := json.Marshal(s)
		pj := printableJSON(b)
		for _, r := range string(pj) {
			if !jsonPrintable(r) {
				t.Fatalf("printableJSON(%s) = %s still holds %U", b, pj, r)
			}
		}
		var back, want string
		if err := json.Unmarshal(pj, &back); err != nil {
			t.Fatalf("printableJSON(%s) = %s: not JSON: %v", b, pj, err)
		}
		json.Unmarshal(b, &want)
		if back != want {
			t.Fatalf("printableJSON changed the value: %q, want %q", back, want)
		}
	})
}

type hostileInner struct {
	Comment string
	Labels  map[string]string
}

type hostileRow struct {
	Name    string
	Args    []string
	When    time.Time
	In      *hostileInner
	Any     any
	Count   int
	private string
}

func TestPrintableValue(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	r := hostileRow{
		Name: "a\x1b[2Jb", Args: []string{"x", "\x07"}, When: when,
		In:  &hostileInner{Comment: "\u009b", Labels: map[string]string{"k\x1b": "v\n"}},
		Any: map[string]any{"deep": []any{"\x1b"}}, Count: 3, private: "\x1b",
	}
	got := printableValue(r).(hostileRow)
	// Templates keep newlines and tabs: they lay out what the user asked.
	if got.Name != `a\x1b[2Jb` || got.Args[1] != `\a` || got.In.Comment != `\u009b` ||
		got.In.Labels[`k\x1b`] != "v\n" || got.Any.(map[string]any)["deep"].([]any)[0] != `\x1b` {
		t.Errorf("printableValue = %+v %+v", got, *got.In)
	}
	if !got.When.Equal(when) || got.Count != 3 || got.private != "\x1b" {
		t.Errorf("printableValue lost what is not a string to print: %+v", got)
	}
	// The original is untouched.
	if r.Name != "a\x1b[2Jb" || r.In.Comment != "\u009b" || r.Args[1] != "\x07" {
		t.Errorf("printableValue changed its argument: %+v", r)
	}
	if printableValue(nil) != nil {
		t.Errorf("printableValue(nil) is not nil")
	}
}
