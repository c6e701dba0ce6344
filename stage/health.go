package stage

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/boxcli/box/cgdelegate"
	"github.com/boxcli/box/container"
	"github.com/boxcli/box/health"
	"github.com/boxcli/box/health/probe"
	"github.com/boxcli/box/sandbox"
)

// healthWatch runs a container's healthcheck for one run of it: the
// monitor keeps the schedule, so checks need neither a daemon nor systemd
// timers.
type healthWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	// restart: the check asked for a restart (--health-on-failure=restart),
	// which the monitor does whatever the restart policy says.
	restart atomic.Bool
}

// stopTimeout is how long --health-on-failure=stop and restart wait for
// the stop signal to work before SIGKILL, box stop's default.
const stopTimeout = 10 * time.Second

// watchHealth starts checking the container whose PID 1 is proc, if it
// has a healthcheck; stop ends it. cg is the container's cgroup, or nil.
func (s *stage) watchHealth(records *container.Store, cfg container.Config, proc *sandbox.Process, cg *cgdelegate.Group) *healthWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &healthWatch{cancel: cancel, done: make(chan struct{})}
	if !cfg.Healthcheck.Enabled() {
		close(w.done)
		return w
	}
	go func() {
		defer close(w.done)
		s.healthLoop(ctx, w, records, cfg, proc, cg)
	}()
	return w
}

// stop ends the checks and waits for the one running, if any, to go.
func (w *healthWatch) stop() {
	if w == nil {
		return
	}
	w.cancel()
	<-w.done
}

func (s *stage) healthLoop(ctx context.Context, w *healthWatch, records *container.Store, cfg container.Config, proc *sandbox.Process, cg *cgdelegate.Group) {
	hc, id := cfg.Healthcheck, cfg.ID
	interval, timeout, startInterval, _ := hc.Timing()
	started := time.Now()
	cgroup := ""
	if cg != nil {
		cgroup = cg.Dir
	}
	target := probe.TargetOf(cfg, proc.Pid(), cgroup)
	status := health.Starting
	for {
		// Docker's schedule: while the start period lasts and the
		// container has not been healthy yet, the shorter start interval.
		wait := interval
		if hc.StartPeriod > 0 && time.Since(started) < hc.StartPeriod && status == health.Starting {
			wait = startInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if cg != nil && cg.Frozen() {
			// A paused container is not checked (the check would freeze
			// too), and is not counted unhealthy for it.
			continue
		}
		res := probe.Run(ctx, target, hc.Test, timeout)
		if ctx.Err() != nil {
			return
		}
		h, changed, err := records.RecordHealth(id, res)
		// Back to idling: give back the heap the check used and the
		// pages of box's code it faulted in (see dropCleanFilePages),
		// which otherwise double the monitor's resident set.
		debug.FreeOSMemory()
		dropCleanFilePages()
		if err != nil {
			continue
		}
		status = h.Status
		if changed {
			s.event("container", "health_status: "+h.Status, id, ctrAttrs(cfg, map[string]string{"health_status": h.Status}))
		}
		if h.Status != health.Unhealthy || !s.onUnhealthy(ctx, w, records, cfg, proc) {
			continue
		}
		return
	}
}

// onUnhealthy does what --health-on-failure says with an unhealthy
// container, and says whether it is going away. kill and stop leave it
// stopped, as box kill and stop do; restart starts it again.
func (s *stage) onUnhealthy(ctx context.Context, w *healthWatch, records *container.Store, cfg container.Config, proc *sandbox.Process) bool {
	action, _ := health.ParseOnFailure(cfg.HealthOnFailure)
	if action == health.ActionNone {
		return false
	}
	if action == health.ActionRestart {
		w.restart.Store(true)
	} else {
		records.MarkStopped(cfg.ID)
	}
	if action == health.ActionKill {
		_ = proc.Signal(syscall.SIGKILL)
		return true
	}
	sig, err := cfg.StopSig()
	if err != nil {
		sig = syscall.SIGTERM // run refused a bad one: only an edited record has it
	}
	_ = proc.Signal(sig)
	select {
	case <-ctx.Done(): // it went
	case <-time.After(stopTimeout):
		_ = proc.Signal(syscall.SIGKILL)
	}
	return true
}
