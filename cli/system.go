package cli

import (
	"fmt"
	"runtime"

	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type unshareCmd struct {
	// partial: box's flags before the command are parsed (an unknown one
	// is an error, not a command named --bogus); from the command on,
	// everything is the command's.
	Command []string `arg:"" optional:"" passthrough:"partial" help:"Command to run (default: $SHELL)."`
}

func (c *unshareCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpUnshare)
	req.Unshare = c.Command
	return e.do(req, userns.Auto, h, nil)
}

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	fmt.Fprintf(e.stdout, "box version %s\ngo version %s\nos/arch %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
