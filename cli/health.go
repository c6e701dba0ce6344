package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/health"
	"github.com/boxcli/box/health/probe"
)

// healthFlags are docker run's --health-* flags, and podman's
// --health-on-failure.
type healthFlags struct {
	HealthCmd           string        `name:"health-cmd" help:"Command that checks the container's health, run in it on each interval: a shell command, or a JSON array (exit 0: healthy)."`
	HealthInterval      time.Duration `name:"health-interval" help:"Time between checks (default 30s)."`
	HealthTimeout       time.Duration `name:"health-timeout" help:"Longest a check may run before it counts as failed (default 30s)."`
	HealthRetries       int           `name:"health-retries" help:"Failures in a row that make the container unhealthy (default 3)."`
	HealthStartPeriod   time.Duration `name:"health-start-period" help:"Time the container has to start up: failures then do not count (default 0s)."`
	HealthStartInterval time.Duration `name:"health-start-interval" help:"Time between checks during the start period (default 5s)."`
	NoHealthcheck       bool          `name:"no-healthcheck" help:"Run no healthcheck, not even the image's HEALTHCHECK."`
	HealthOnFailure     string        `name:"health-on-failure" default:"none" help:"What the monitor does with an unhealthy container: none, kill, restart or stop."`
}

// healthcheck is the container's check as the flags give it, nil when
// they give none (the image's, if any, applies), and the on-failure action.
func (f *healthFlags) healthcheck(restart string) (*health.Config, string, error) {
	action, err := health.ParseOnFailure(f.HealthOnFailure)
	if err != nil {
		return nil, "", err
	}
	if action == health.ActionRestart && restart != "" && restart != "no" {
		return nil, "", fmt.Errorf("--health-on-failure=restart and --restart %s cannot be used together: choose one way to restart the container", restart)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--health-interval", f.HealthInterval}, {"--health-timeout", f.HealthTimeout}, {"--health-start-period", f.HealthStartPeriod}, {"--health-start-interval", f.HealthStartInterval}} {
		if d.v < 0 {
			return nil, "", fmt.Errorf("%s cannot be negative", d.name)
		}
		if d.v > 0 && d.v < time.Millisecond {
			return nil, "", fmt.Errorf("%s must be at least 1ms", d.name)
		}
	}
	if f.HealthRetries < 0 {
		return nil, "", fmt.Errorf("--health-retries cannot be negative")
	}
	given := f.HealthCmd != "" || f.HealthInterval != 0 || f.HealthTimeout != 0 || f.HealthRetries != 0 || f.HealthStartPeriod != 0 || f.HealthStartInterval != 0
	if f.NoHealthcheck {
		if given {
			return nil, "", fmt.Errorf("--no-healthcheck conflicts with the --health-* options: give one or the other")
		}
		return &health.Config{Test: []string{"NONE"}}, action, nil
	}
	if !given {
		return nil, action, nil
	}
	hc := &health.Config{Interval: f.HealthInterval, Timeout: f.HealthTimeout, Retries: f.HealthRetries, StartPeriod: f.HealthStartPeriod, StartInterval: f.HealthStartInterval}
	if f.HealthCmd != "" {
		if hc.Test, err = health.ParseTest(f.HealthCmd); err != nil {
			return nil, "", err
		}
	}
	return hc, action, nil
}

type healthcheckCmd struct {
	Run healthcheckRunCmd `cmd:"" help:"Run a container's healthcheck now: exit 0 when it is healthy, 1 (printing its status) when not.\n\nExample: box healthcheck run web"`
}

type healthcheckRunCmd struct {
	Container string `arg:"" help:"Container whose healthcheck runs."`
}

// Run runs the check as the monitor would, and records the result in the
// same streak, as podman healthcheck run does.
func (c *healthcheckRunCmd) Run(e *env) error {
	h, records, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	hc := ct.Config.Healthcheck
	if !hc.Enabled() {
		return fmt.Errorf("container %s has no healthcheck: give one with --health-cmd, or use an image with a HEALTHCHECK", ct.Config.Name)
	}
	if err := enterable(ct); err != nil {
		return err
	}
	initPid, err := container.InitPid(ct.State)
	if err != nil {
		return err
	}
	_, timeout, _, _ := hc.Timing()
	res := probe.Run(context.Background(), probe.TargetOf(ct.Config, initPid, ct.State.Cgroup), hc.Test, timeout)
	st, changed, err := records.RecordHealth(ct.Config.ID, res)
	if err != nil {
		return err
	}
	if changed {
		containerEvent(h, records, ct.Config.ID, "health_status: "+st.Status, map[string]string{"health_status": st.Status})
	}
	if st.Status != health.Healthy {
		fmt.Fprintln(e.stdout, st.Status)
		return exitCode(1)
	}
	return nil
}

// healthStatus is ps's health filter value: starting, healthy or
// unhealthy while a container with a check runs, else "none".
func healthStatus(c *container.Container) string {
	if c.State.Status != container.Running || c.State.Health == nil || !c.Config.Healthcheck.Enabled() {
		return "none"
	}
	return c.State.Health.Status
}
