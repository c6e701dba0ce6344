package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/boxcli/box/boxdirs"
	"github.com/boxcli/box/container"
)

type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

// The scripts are thin: each asks box itself (box __complete WORDS...) for
// the candidates, so commands, flags, enum values, container and image
// names come from the same grammar and records box runs with, in every
// shell. Where box has nothing to offer (a path, a command to run), the
// shell completes file names.
const (
	bashCompletion = `# box completion for bash: source <(box completion bash)
_box() {
	local IFS=$'\n'
	local words=("${COMP_WORDS[@]:1:COMP_CWORD}")
	COMPREPLY=($(box __complete -- "${words[@]}" 2>/dev/null))
	if [ ${#COMPREPLY[@]} -eq 0 ]; then
		compopt -o default 2>/dev/null
	fi
}
complete -F _box box
`
	zshCompletion = `#compdef box
# box completion for zsh: source <(box completion zsh), or save it as _box
# in a directory of $fpath
_box() {
	local -a cands
	cands=("${(@f)$(box __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	cands=(${cands:#})
	if (( ${#cands} )); then
		compadd -- "${cands[@]}"
	else
		_files
	fi
}
if [ "$funcstack[1]" = "_box" ]; then
	_box "$@"
else
	compdef _box box
fi
`
	fishCompletion = `# box completion for fish: box completion fish | source, or save it as
# ~/.config/fish/completions/box.fish
function __box_complete
	set -l tokens (commandline -opc) (commandline -ct)
	box __complete -- $tokens[2..-1] 2>/dev/null
end
complete -c box -f -a '(__box_complete)'
`
)

// Run prints the completion script for the shell.
func (c *completionCmd) Run(e *env) error {
	script := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[c.Shell]
	_, err := fmt.Fprint(e.stdout, script)
	return err
}

// completeCmd is what the scripts call: the words typed after "box", the
// last one the word being completed ("" for a new word).
type completeCmd struct {
	Words []string `arg:"" optional:"" passthrough:"" help:"The words after box; the last is the one to complete."`
}

// Run prints the candidates for the last word, one a line. It never fails
// loudly: a shell prints nothing of it.
func (c *completeCmd) Run(e *env) error {
	words := c.Words
	if len(words) > 0 && words[0] == "--" {
		words = words[1:]
	}
	if len(words) == 0 {
		words = []string{""}
	}
	var r root
	parser, err := newParser(&r, nil, e)
	if err != nil {
		return nil
	}
	for _, s := range complete(parser.Model.Node, words, names) {
		fmt.Fprintln(e.stdout, s)
	}
	return nil
}

// names lists what a positional argument of kind "container" or "image"
// may name.
func names(kind string) []string {
	d, err := boxdirs.Lookup(osEnv, os.Getuid())
	if err != nil {
		return nil
	}
	switch kind {
	case "container":
		records, err := container.Open(d.Containers())
		if err != nil {
			return nil
		}
		list, err := records.List()
		if err != nil {
			return nil
		}
		var out []string
		for _, c := range list {
			out = append(out, c.Config.Name)
		}
		return out
	case "image":
		return imageNames(d.Storage())
	}
	return nil
}

// imageNames reads the image names from containers/storage's own index.
// Opening the store takes box's user namespace and a stage, ~80 ms on
// every Tab; the index is a JSON file the user owns, so completion reads
// it. A format it does not understand gives no candidates, nothing worse.
func imageNames(graphRoot string) []string {
	var out []string
	for _, driver := range []string{"overlay", "vfs"} {
		b, err := os.ReadFile(filepath.Join(graphRoot, driver+"-images", "images.json"))
		if err != nil {
			continue
		}
		var imgs []struct {
			Names []string `json:"names"`
		}
		if json.Unmarshal(b, &imgs) != nil {
			continue
		}
		for _, im := range imgs {
			for _, n := range im.Names {
				out = append(out, n, shortName(n))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// shortName is an image name as one types it: without the default
// registry and namespace, or localhost/ (what box images shows).
func shortName(n string) string {
	for _, p := range []string{"docker.io/library/", "docker.io/", "localhost/"} {
		if s, ok := strings.CutPrefix(n, p); ok {
			return s
		}
	}
	return n
}

// complete returns the candidates for the last of words in the grammar
// under root; lookup gives the names for a kind of positional argument.
func complete(root *kong.Node, words []string, lookup func(kind string) []string) []string {
	node := root
	cur := words[len(words)-1]
	positional := 0
	var pendingFlag *kong.Flag
	for _, w := range words[:len(words)-1] {
		switch {
		case pendingFlag != nil:
			pendingFlag = nil
		case w == "--":
			return nil
		case strings.HasPrefix(w, "-"):
			if f := findFlag(node, w); f != nil && !f.IsBool() && !strings.Contains(w, "=") && !isShortCluster(w) {
				pendingFlag = f
			}
		default:
			if child := findChild(node, w); child != nil && positional == 0 {
				node = child
				continue
			}
			positional++
		}
	}
	if pendingFlag != nil {
		return withPrefix(pendingFlag.EnumSlice(), cur)
	}
	if strings.HasPrefix(cur, "-") {
		if name, val, ok := strings.Cut(cur, "="); ok {
			if f := findFlag(node, name); f != nil {
				var out []string
				for _, v := range withPrefix(f.EnumSlice(), val) {
					out = append(out, name+"="+v)
				}
				return out
			}
			return nil
		}
		var out []string
		for n := node; n != nil; n = n.Parent {
			for _, f := range n.Flags {
				if f.Hidden {
					continue
				}
				out = append(out, "--"+f.Name)
				if f.Short != 0 {
					out = append(out, "-"+string(f.Short))
				}
			}
		}
		return withPrefix(out, cur)
	}
	if positional == 0 && len(node.Children) > 0 {
		var out []string
		for _, c := range node.Children {
			if !c.Hidden {
				out = append(out, c.Name)
			}
		}
		return withPrefix(out, cur)
	}
	if kind := argKind(node, positional); kind != "" {
		var out []string
		for _, k := range strings.Split(kind, "+") {
			out = append(out, lookup(k)...)
		}
		out = withPrefix(out, cur)
		if cur == "" || !strings.Contains(cur, "/") {
			// docker.io/box-test/busybox and box-test/busybox are one
			// image: offer the short name unless the long one is typed.
			out = slices.DeleteFunc(out, func(n string) bool { return shortName(n) != n })
		}
		return out
	}
	return nil
}

// argKind says what the positional argument at index i of node names:
// "container", "image", both ("container+image"), or "" (a path, a
// command, anything).
func argKind(node *kong.Node, i int) string {
	if len(node.Positional) == 0 {
		return ""
	}
	var arg *kong.Positional
	if i < len(node.Positional) {
		arg = node.Positional[i]
	} else if last := node.Positional[len(node.Positional)-1]; last.IsCumulative() && !last.Passthrough {
		arg = last
	}
	if arg == nil || arg.Passthrough {
		return ""
	}
	switch arg.Name {
	case "container", "containers":
		return "container"
	case "image", "images":
		return "image"
	case "names":
		return "container+image"
	case "source":
		if node.Name == "tag" {
			return "image"
		}
	}
	return ""
}

func findChild(n *kong.Node, w string) *kong.Node {
	for _, c := range n.Children {
		if c.Name == w || slices.Contains(c.Aliases, w) {
			return c
		}
	}
	return nil
}

// findFlag finds the flag a word names (--name, --name=v, -n) on n or
// the commands above it.
func findFlag(n *kong.Node, w string) *kong.Flag {
	name, _, _ := strings.Cut(w, "=")
	for ; n != nil; n = n.Parent {
		for _, f := range n.Flags {
			if "--"+f.Name == name || (f.Short != 0 && "-"+string(f.Short) == name) || slices.Contains(f.Aliases, strings.TrimPrefix(name, "--")) {
				return f
			}
		}
	}
	return nil
}

// isShortCluster: -it, -dp8080:80; the value, if any, is in the word.
func isShortCluster(w string) bool {
	return !strings.HasPrefix(w, "--") && len(w) > 2
}

func withPrefix(list []string, prefix string) []string {
	var out []string
	for _, s := range list {
		if s != "" && strings.HasPrefix(s, prefix) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
