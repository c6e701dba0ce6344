package cli

import (
	"fmt"
	"time"

	"github.com/boxcli/box/attach"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

// createCmd is run without the running: same flags, prints the ID.
type createCmd struct {
	runCmd `embed:""`
}

func (c *createCmd) Run(e *env) error {
	req, maps, err := c.request(e, stage.OpCreate)
	if err != nil {
		return err
	}
	var res stage.RunResult
	if err := stage.Do(req, stage.Options{Maps: maps, Stderr: e.stderr}, e.warn, &res); err != nil {
		return withLoginHint(c.Image, err)
	}
	fmt.Fprintln(e.stdout, res.ID)
	return nil
}

type startCmd struct {
	Attach      bool   `short:"a" help:"Attach stdout and stderr and wait for the container, returning its exit code."`
	Interactive bool   `short:"i" help:"Attach stdin too."`
	DetachKeys  string `name:"detach-keys" default:"ctrl-p,ctrl-q" help:"Keys that detach from an attached container and leave it running (\"\" turns detaching off)."`
	SigProxy    bool   `name:"sig-proxy" default:"true" negatable:"" help:"Pass the signals box receives to the attached container (without a terminal)."`
	sdnotifyFlag
	Containers []string `arg:"" help:"Containers to start."`
}

func (c *startCmd) Run(e *env) error {
	keys, err := attach.ParseDetachKeys(c.DetachKeys)
	if err != nil {
		return err
	}
	if err := c.checkSdNotify(); err != nil {
		return err
	}
	h, records, err := openRecords()
	if err != nil {
		return err
	}
	if (c.Attach || c.Interactive) && len(c.Containers) > 1 {
		return fmt.Errorf("you cannot attach to more than one container at a time")
	}
	failed := 0
	for _, ref := range c.Containers {
		ct, err := records.Get(ref)
		if err != nil {
			report(e, err)
			failed++
			continue
		}
		// Hold the container's lock until its record names the new monitor:
		// two starts at once must not both run it.
		unlock, err := records.StartLock(ct.Config.ID)
		if err == nil {
			ct, err = records.Get(ct.Config.ID)
		}
		if err != nil {
			if unlock != nil {
				unlock()
			}
			report(e, err)
			failed++
			continue
		}
		if ct.State.Status == container.Running {
			unlock()
			if err := c.ready(); err != nil {
				e.warn(err.Error())
			}
			// Docker: starting a running container is no error, and -a
			// attaches to it.
			if c.Attach || c.Interactive {
				return attachTo(e, h.dirs, records, ct, attachOptions{stdin: c.Interactive, keys: keys, sigProxy: c.SigProxy})
			}
			fmt.Fprintln(e.stdout, ref)
			continue
		}
		attaching := c.Attach || c.Interactive
		err = startContainer(e, h, records, ct, attaching)
		unlock()
		if err == nil {
			if rerr := c.ready(); rerr != nil {
				e.warn(rerr.Error())
			}
		}
		if err == nil && attaching {
			// The monitor holds the output until we are there.
			return attachTo(e, h.dirs, records, ct, attachOptions{stdin: c.Interactive, keys: keys, sigProxy: c.SigProxy})
		}
		if err != nil {
			report(e, err)
			failed++
			continue
		}
		fmt.Fprintln(e.stdout, ref)
	}
	return failures(failed)
}

// startContainer starts ct under its monitor; attachSoon tells the
// monitor to hold the output for a client that attaches next.
func startContainer(e *env, h *host, records *container.Store, ct *container.Container, attachSoon bool) error {
	mode, err := userns.ParseMode(ct.Config.UserNS)
	if err != nil {
		return err
	}
	maps, err := e.maps(h, mode)
	if err != nil {
		return err
	}
	req := e.request(h, stage.OpStart)
	req.Start = &stage.StartRequest{ID: ct.Config.ID, AttachSoon: attachSoon}
	if attachSoon && ct.Config.Tty {
		req.Start.Size = terminalSize(e)
	}
	join, err := joinNetwork(records, ct.Config.Network)
	if err != nil {
		return err
	}
	defer closeJoin(join)
	s, err := stage.Start(req, stage.Options{Maps: maps, Join: join, Cgroup: cgroupFor(ct.Config), Detach: true})
	if err != nil {
		return err
	}
	_, err = s.Wait(e.warn)
	return err
}

type restartCmd struct {
	Time       int      `short:"t" name:"time" default:"10" help:"Seconds to wait for the container to stop before killing it."`
	Containers []string `arg:"" help:"Containers to restart."`
}

func (c *restartCmd) Run(e *env) error {
	h, records, err := openRecords()
	if err != nil {
		return err
	}
	failed := 0
	for _, ref := range c.Containers {
		err := stopOne(records, ref, time.Duration(c.Time)*time.Second)
		var ct *container.Container
		if err == nil {
			ct, err = records.Get(ref)
		}
		if err == nil {
			var unlock func()
			if unlock, err = records.StartLock(ct.Config.ID); err == nil {
				// Someone may have started it since it stopped: then it
				// has been restarted, and one monitor is all it may have.
				if ct, err = records.Get(ct.Config.ID); err == nil && ct.State.Status != container.Running {
					err = startContainer(e, h, records, ct, false)
				}
				unlock()
			}
		}
		if err != nil {
			report(e, err)
			failed++
			continue
		}
		fmt.Fprintln(e.stdout, ref)
	}
	return failures(failed)
}
