package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/boxcli/box/attach"
	"github.com/boxcli/box/boxdirs"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/stage"
)

type attachCmd struct {
	DetachKeys string `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach and leave the container running: ctrl-X or single characters, comma-separated; \"\" turns detaching off."`
	NoStdin    bool   `name:"no-stdin" help:"Do not attach stdin."`
	SigProxy   bool   `name:"sig-proxy" default:"true" negatable:"" help:"Pass the signals box receives to the container (without a terminal)."`
	Container  string `arg:"" help:"Container."`
}

func (c *attachCmd) Run(e *env) error {
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
		return err
	}
	h, records, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	if ct.State.Status != container.Running {
		return fmt.Errorf("container %s %w: start it with box start -a %s", ct.Config.Name, errNotRunning, ct.Config.Name)
	}
	return attachTo(e, h.dirs, records, ct, attachOptions{stdin: !c.NoStdin, keys: keys, sigProxy: c.SigProxy})
}

type attachOptions struct {
	stdin    bool // attach stdin, if the container takes it (-i)
	keys     []byte
	sigProxy bool
	// ttySignals passes signals on (with sigProxy) for a container with a
	// terminal too: run -t without -i, where ^C is box's SIGINT, not a
	// key the container reads.
	ttySignals bool
}

// attachTo relays a detached container's output, and the user's input
// when it was started with -i, through its monitor's attach socket. It
// returns the container's exit status as *stage.ExitError, or nil when
// the user detached.
func attachTo(e *env, dirs boxdirs.Dirs, records *container.Store, ct *container.Container, o attachOptions) error {
	cfg := ct.Config
	stdin := o.stdin && cfg.Interactive
	hello := attach.Hello{Stdin: stdin, Stdout: true, Stderr: true}
	if cfg.Tty {
		size := terminalSize(e)
		hello.Rows, hello.Cols = int(size.Rows), int(size.Cols)
	}
	conn, err := attach.Dial(dirs.ContainerRun(cfg.ID), hello)
	if err != nil {
		return afterHangUp(records, cfg.ID, err)
	}
	defer conn.Close()

	if in, ok := e.stdin.(*os.File); ok && cfg.Tty && term.IsTerminal(int(in.Fd())) {
		restore := localTerminalMode(int(in.Fd()), stdin)
		defer restore()
	}
	sigs := make(chan os.Signal, 16)
	if o.sigProxy && (!cfg.Tty || o.ttySignals) {
		signal.Notify(sigs, forwardedSignals()...) // SIGWINCH among them
	} else if cfg.Tty {
		signal.Notify(sigs, syscall.SIGWINCH)
	}
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGWINCH {
				if size := terminalSize(e); size.Rows > 0 {
					_ = conn.Resize(size.Rows, size.Cols)
				}
				continue
			}
			_ = signalContainer(ct, sig.(syscall.Signal))
		}
	}()

	var input io.Reader
	if stdin {
		input = attach.NewDetachReader(e.stdin, o.keys)
	}
	code, err := conn.Relay(input, e.stdout, e.stderr)
	switch {
	case errors.Is(err, attach.ErrDetached):
		return nil
	case err != nil:
		return afterHangUp(records, cfg.ID, err)
	}
	return &stage.ExitError{Code: code}
}

// afterHangUp explains a monitor that does not answer: the container has
// ended meanwhile (its status then is the answer), or its monitor is gone.
func afterHangUp(records *container.Store, id string, err error) error {
	ct, gerr := records.Get(id)
	if gerr == nil && ct.State.Status != container.Running {
		return &stage.ExitError{Code: ct.State.ExitCode}
	}
	return fmt.Errorf("attach to %s: %w", id[:12], err)
}
