// Command box runs rootless, daemonless containers. See README.md.
package main

import (
	"fmt"
	"os"

	"go.podman.io/storage/pkg/reexec"

	"github.com/boxcli/box/cli"
	"github.com/boxcli/box/cloexec"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/roles"
	"github.com/boxcli/box/sandbox"
	"github.com/boxcli/box/stage"
)

func main() {
	// Whatever this process inherited beyond stdio reaches nothing it
	// starts, the container above all: each role hands on what it means
	// to, by name. First, so that it holds for every role and helper.
	if err := cloexec.All(); err != nil {
		fmt.Fprintf(os.Stderr, "box: %v\n", err)
		os.Exit(125)
	}
	// containers/storage re-executes box for its own helpers
	// (storage-applyLayer, storage-untar, ...); they come first.
	if reexec.Init() {
		return
	}
	// box's own roles, each a fresh process in new namespaces.
	switch os.Getenv(roles.Env) {
	case roles.Stage:
		os.Exit(stage.Main())
	case roles.StageJoin:
		os.Exit(stage.JoinMain())
	case roles.Init:
		os.Exit(sandbox.Main())
	case roles.Exec:
		os.Exit(sandbox.ExecMain())
	case roles.Copy:
		os.Exit(sandbox.CopyMain())
	case roles.OverlayProbe:
		os.Exit(image.ProbeMain())
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
