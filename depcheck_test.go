package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRules keeps the layering honest: the pure parsers stay
// pure, and nothing but main reaches into the CLI (where errors become
// words).
func TestDependencyRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "containers_image_openpgp,exclude_graphdriver_btrfs,containers_image_docker_daemon_stub",
		"-f", `{{.ImportPath}}: {{join .Imports " "}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/boxcli/box"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		for _, imp := range strings.Fields(imports) {
			// subid parses; it opens no files and talks to no kernel.
			if pkg == mod+"/subid" && (strings.Contains(imp, ".") || imp == "os" || imp == "syscall") {
				t.Errorf("subid imports %s; it must stay a pure parser", imp)
			}
			// dockerfile plans a build; it opens no files and runs nothing.
			if pkg == mod+"/dockerfile" && (imp == "os" || imp == "os/exec" || imp == "syscall" || imp == "net/http" || imp == "golang.org/x/sys/unix" || strings.HasPrefix(imp, mod+"/")) {
				t.Errorf("dockerfile imports %s; it must stay pure", imp)
			}
			if imp == mod+"/cli" && pkg != mod {
				t.Errorf("%s imports cli; only main may", pkg)
			}
		}
	}
}
