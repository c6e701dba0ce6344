package subid

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Range
		errLine int // 0: no error
	}{
		{name: "empty", in: "", want: nil},
		{name: "one", in: "alice:100000:65536\n", want: []Range{{100000, 65536}}},
		{name: "no trailing newline", in: "alice:100000:65536", want: []Range{{100000, 65536}}},
		{name: "crlf", in: "alice:1:2\r\n", want: []Range{{1, 2}}},
		{
			name: "comments and blank lines",
			in:   "# ranges\n\n   \n  # indented comment\nalice:1:2\n\t\n",
			want: []Range{{1, 2}},
		},
		{
			name: "numeric uid",
			in:   "1000:200000:10\n",
			want: []Range{{200000, 10}},
		},
		{
			name: "numeric uid with leading zeros",
			in:   "01000:5:5\n",
			want: []Range{{5, 5}},
		},
		{
			name: "several ranges in file order, name and uid mixed",
			in:   "alice:300:3\nbob:1:1\n1000:100:1\nalice:200:2\n",
			want: []Range{{300, 3}, {100, 1}, {200, 2}},
		},
		{name: "other users only", in: "bob:1:2\ncarol:3:4\n", want: nil},
		{name: "other uid", in: "1001:1:2\n", want: nil},
		{name: "name is a prefix", in: "alicex:1:2\nalic:1:2\n", want: nil},
		{
			name: "malformed lines of other users are skipped",
			in:   "bob:x:1\ncarol:1\ngarbage\ndave:1:2:3\nerin:4294967295:1\nalice:7:8\n",
			want: []Range{{7, 8}},
		},
		{name: "largest valid range", in: "alice:4294967290:5\n", want: []Range{{4294967290, 5}}},
		{name: "whole id space less one", in: "alice:0:4294967295\n", want: []Range{{0, 4294967295}}},
		{name: "overflow", in: "alice:4294967290:6\n", errLine: 1},
		{name: "overflow by a lot", in: "alice:4294967295:4294967295\n", errLine: 1},
		{name: "start too large", in: "alice:4294967296:1\n", errLine: 1},
		{name: "zero count", in: "alice:1:0\n", errLine: 1},
		{name: "too few fields", in: "#\nalice:1\n", errLine: 2},
		{name: "too many fields", in: "alice:1:2:3\n", errLine: 1},
		{name: "owner alone", in: "alice\n", errLine: 1},
		{name: "garbage start", in: "alice:abc:1\n", errLine: 1},
		{name: "negative count", in: "alice:1:-1\n", errLine: 1},
		{name: "signed start", in: "alice:+1:1\n", errLine: 1},
		{name: "hex", in: "alice:0x10:1\n", errLine: 1},
		{name: "empty start", in: "alice::1\n", errLine: 1},
		{name: "space inside field", in: "alice: 1:1\n", errLine: 1},
		{name: "bad line for uid", in: "alice:1:2\n1000:1:0\n", errLine: 2},
		{name: "bad line after good one", in: "alice:1:2\n\nalice:x:y", errLine: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in), "alice", 1000)
			if tc.errLine != 0 {
				var se *SyntaxError
				if !errors.As(err, &se) || se.Line != tc.errLine {
					t.Fatalf("Parse(%q) = %v, %v, want *SyntaxError on line %d", tc.in, got, err, tc.errLine)
				}
				if want := strings.Split(tc.in, "\n")[tc.errLine-1]; se.Text != want {
					t.Errorf("Parse(%q): SyntaxError.Text = %q, want %q", tc.in, se.Text, want)
				}
				if !strings.HasPrefix(err.Error(), "line ") || se.Unwrap() == nil {
					t.Errorf("Parse(%q): error %q should start with the line and wrap a cause", tc.in, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseMatching(t *testing.T) {
	const in = "alice:1:1\n1000:2:1\n0:3:1\n"
	tests := []struct {
		user string
		uid  int
		want []Range
	}{
		{"alice", 1000, []Range{{1, 1}, {2, 1}}},
		{"alice", -1, []Range{{1, 1}}},
		{"", 1000, []Range{{2, 1}}},
		{"", -1, nil},
		{"root", 0, []Range{{3, 1}}},
		{"bob", 1001, nil},
	}
	for _, tc := range tests {
		got, err := Parse(strings.NewReader(in), tc.user, tc.uid)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q, %q, %d) = %v, %v, want %v", in, tc.user, tc.uid, got, err, tc.want)
		}
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	if got, err := Parse(failReader{}, "alice", 1000); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Parse(failing reader) = %v, %v, want the read error", got, err)
	}
}

func TestTotal(t *testing.T) {
	tests := []struct {
		in   []Range
		want uint64
	}{
		{nil, 0},
		{[]Range{{1, 65536}}, 65536},
		{[]Range{{1, 10}, {100, 5}}, 15},
		{[]Range{{0, 1<<32 - 1}}, 1<<32 - 1},
		{[]Range{{0, 1<<32 - 1}, {0, 1<<32 - 1}, {0, 7}}, 1<<32 - 1},
		{[]Range{{0, 1 << 31}, {0, 1 << 31}}, 1<<32 - 1},
	}
	for _, tc := range tests {
		if got := Total(tc.in); got != tc.want {
			t.Errorf("Total(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"alice:100000:65536\n",
		"# c\n\nalice:1:2\n1000:3:4",
		"alice:4294967290:6\n",
		"alice:1:0\n",
		"bob:x\nalice:1:1:1\n",
		"1000:4294967294:1",
	} {
		f.Add(s, "alice", 1000)
	}
	f.Fuzz(func(t *testing.T, in, user string, uid int) {
		rs, err := Parse(strings.NewReader(in), user, uid)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError with a line", in, err)
			}
			if rs != nil {
				t.Fatalf("Parse(%q) = %v with error %v, want no ranges", in, rs, err)
			}
			return
		}
		for _, r := range rs {
			if r.Count == 0 {
				t.Fatalf("Parse(%q) returned %v with Count 0", in, r)
			}
			if r.Start+r.Count <= r.Start {
				t.Fatalf("Parse(%q) returned %v, which wraps", in, r)
			}
		}
		if Total(rs) > 1<<32-1 {
			t.Fatalf("Total(%v) = %d, beyond 2^32-1", rs, Total(rs))
		}
	})
}
