package cli

import (
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

func TestComplete(t *testing.T) {
	var r root
	p, err := newParser(&r, nil, &env{stdout: io.Discard, stderr: io.Discard, g: &r.globals})
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(kind string) []string {
		return map[string][]string{
			"container": {"web", "db"},
			"image":     {"docker.io/library/alpine:3", "alpine:3", "box-test/busybox:latest"},
		}[kind]
	}
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"sto"}, []string{"stop"}},
		{[]string{"container", "r"}, []string{"rm", "run", "restart", "rename"}},
		{[]string{"rm", ""}, []string{"web", "db"}},
		{[]string{"rm", "-f", "w"}, []string{"web"}},
		{[]string{"rm", "web", "d"}, []string{"db"}}, // a list of containers
		{[]string{"exec", "-it", "w"}, []string{"web"}},
		{[]string{"exec", "web", ""}, nil}, // the command: the shell's files
		{[]string{"run", "--rm", "al"}, []string{"alpine:3"}},
		{[]string{"run", "--rm", "docker.io/"}, []string{"docker.io/library/alpine:3"}},
		{[]string{"run", "--name", ""}, nil}, // a flag's value
		{[]string{"run", "alpine:3", ""}, nil},
		{[]string{"run", "--rm", "--net"}, []string{"--network"}},
		{[]string{"doctor", "--format", ""}, []string{"json"}},
		{[]string{"doctor", "--format=j"}, []string{"--format=json"}},
		{[]string{"completion", ""}, nil},
		{[]string{"inspect", ""}, []string{"web", "db", "alpine:3", "box-test/busybox:latest"}},
		{[]string{"image", "rm", "b"}, []string{"box-test/busybox:latest"}},
		{[]string{"ps", "--", ""}, nil},
	}
	for _, tc := range tests {
		got := complete(p.Model.Node, tc.words, lookup)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("complete(%q) = %q, want %q", tc.words, got, tc.want)
		}
	}
	// global flags are offered under any command
	got := complete(p.Model.Node, []string{"ps", "--deb"}, lookup)
	if !reflect.DeepEqual(got, []string{"--debug"}) {
		t.Errorf("complete(ps --deb) = %q, want [--debug]", got)
	}
	// "--" lists the command's flags and the global ones
	got = complete(p.Model.Node, []string{"--debug", "ps", "--"}, lookup)
	for _, f := range []string{"--all", "--format", "--debug"} {
		if !slices.Contains(got, f) {
			t.Errorf("complete(--debug ps --) = %q, want %s among them", got, f)
		}
	}
	// hidden commands are not
	for _, c := range complete(p.Model.Node, []string{""}, lookup) {
		if c == "__complete" {
			t.Errorf("complete offers the hidden %s", c)
		}
	}
}

// Every command's --help has a one-line summary and an example.
func TestHelpHasExamples(t *testing.T) {
	var r root
	p, err := newParser(&r, nil, &env{stdout: io.Discard, stderr: io.Discard, g: &r.globals})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, c := range n.Children {
			if c.Hidden {
				continue
			}
			path := commandPath(c)
			if c.Help == "" || strings.Contains(c.Help, "\n") {
				t.Errorf("box %s: summary %q, want one line", path, c.Help)
			}
			if !strings.HasPrefix(c.Detail, "Example: ") || !strings.Contains(c.Detail, "box ") {
				t.Errorf("box %s: no example in its help (detail %q)", path, c.Detail)
			}
			walk(c)
		}
	}
	walk(p.Model.Node)
}
