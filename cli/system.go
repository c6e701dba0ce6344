package cli

import (
	"fmt"
	"runtime"

	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type unshareCmd struct {
	Command []string `arg:"" optional:"" passthrough:"" help:"Command to run (default: $SHELL)."`
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
