// Package health keeps a container's healthcheck: its settings (Docker's
// HealthConfig), its state (starting, healthy, unhealthy, with the last
// results), and the probe that runs a check inside the running container.
// The container's monitor runs checks on its interval; box healthcheck run
// runs one at once. Both record results the same way, through Record.
package health

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Config is a healthcheck, with Docker's JSON names and units (durations
// in nanoseconds), as image configs and docker inspect carry it.
type Config struct {
	// Test is ["NONE"] (disabled), ["CMD", arg...] or ["CMD-SHELL", cmd].
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Docker's defaults for fields left zero.
const (
	DefaultInterval      = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultStartInterval = 5 * time.Second
	DefaultRetries       = 3
	// MaxLog is how many results State keeps, MaxOutput how much of each
	// one's output, as Docker.
	MaxLog    = 5
	MaxOutput = 4096
	// MinDuration is Docker's floor for a healthcheck's interval,
	// timeout and start interval: --health-* flags below it are refused,
	// and the monitor raises anything else below it (an edited record).
	MinDuration = time.Millisecond
	// MinFromImage is the floor for those an image's HEALTHCHECK gives.
	// A check costs the monitor tens of milliseconds of CPU (nsenter, a
	// copy of box, the record written): from a stranger's image, a 1 ms
	// interval would keep a CPU busy for as long as the container runs.
	// The user's own --health-* flags may go down to MinDuration.
	MinFromImage = time.Second
)

// Enabled says whether c has a check to run.
func (c *Config) Enabled() bool {
	return c != nil && len(c.Test) > 0 && c.Test[0] != "NONE"
}

// Merge fills the fields the user left zero from the image's healthcheck,
// as docker run does: --health-interval alone keeps the image's test.
func Merge(user, img *Config) *Config {
	if user == nil {
		return img
	}
	if img == nil || len(user.Test) > 0 && user.Test[0] == "NONE" {
		return user
	}
	out := *user
	if len(out.Test) == 0 {
		out.Test = img.Test
	}
	if out.Interval == 0 {
		out.Interval = img.Interval
	}
	if out.Timeout == 0 {
		out.Timeout = img.Timeout
	}
	if out.StartPeriod == 0 {
		out.StartPeriod = img.StartPeriod
	}
	if out.StartInterval == 0 {
		out.StartInterval = img.StartInterval
	}
	if out.Retries == 0 {
		out.Retries = img.Retries
	}
	return &out
}

// MergeImage is Merge with the image's interval, timeout and start
// interval raised to MinFromImage, and a note for each raised value that
// the user's flags leave in effect.
func MergeImage(user, img *Config) (*Config, []string) {
	if !img.Enabled() {
		return Merge(user, img), nil
	}
	raised := *img
	var notes []string
	for _, d := range []struct {
		name, flag string
		v          *time.Duration
		set        bool
	}{
		{"interval", "--health-interval", &raised.Interval, user != nil && user.Interval != 0},
		{"timeout", "--health-timeout", &raised.Timeout, user != nil && user.Timeout != 0},
		{"start interval", "--health-start-interval", &raised.StartInterval, user != nil && user.StartInterval != 0},
	} {
		if *d.v != 0 && *d.v < MinFromImage {
			if !d.set {
				notes = append(notes, fmt.Sprintf("the image's HEALTHCHECK %s of %v is below %v: using %v (%s sets another)", d.name, *d.v, MinFromImage, MinFromImage, d.flag))
			}
			*d.v = MinFromImage
		}
	}
	merged := Merge(user, &raised)
	if !merged.Enabled() {
		return merged, nil // --no-healthcheck
	}
	return merged, notes
}

// Timing is c's schedule with Docker's defaults in place, and nothing
// below MinDuration.
func (c *Config) Timing() (interval, timeout, startInterval time.Duration, retries int) {
	interval, timeout, startInterval, retries = c.Interval, c.Timeout, c.StartInterval, c.Retries
	if interval <= 0 {
		interval = DefaultInterval
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if startInterval <= 0 {
		startInterval = DefaultStartInterval
	}
	interval, timeout, startInterval = max(interval, MinDuration), max(timeout, MinDuration), max(startInterval, MinDuration)
	if retries <= 0 {
		retries = DefaultRetries
	}
	return
}

// ParseTest reads --health-cmd: a shell command (CMD-SHELL), or a JSON
// array as podman takes it, either a full test (["CMD", "curl", "-f",
// URL], ["CMD-SHELL", "..."], ["NONE"]) or a bare command (["curl", ...]).
func ParseTest(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("invalid --health-cmd: it is empty (use --no-healthcheck to turn the image's check off)")
	}
	if !strings.HasPrefix(strings.TrimSpace(s), "[") {
		return []string{"CMD-SHELL", s}, nil
	}
	var arr []string
	if err := json.Unmarshal([]byte(s), &arr); err != nil || len(arr) == 0 {
		return nil, fmt.Errorf("invalid --health-cmd %q: a JSON form must be a non-empty array of strings", s)
	}
	switch arr[0] {
	case "NONE":
		return arr[:1], nil
	case "CMD", "CMD-SHELL":
		if len(arr) < 2 || (arr[0] == "CMD-SHELL" && len(arr) != 2) {
			return nil, fmt.Errorf("invalid --health-cmd %q: %s needs a command", s, arr[0])
		}
		return arr, nil
	}
	return append([]string{"CMD"}, arr...), nil
}

// Command is what a test runs in the container.
func Command(test []string) ([]string, error) {
	if len(test) < 2 {
		return nil, fmt.Errorf("healthcheck test %q has no command", test)
	}
	switch test[0] {
	case "CMD":
		return test[1:], nil
	case "CMD-SHELL":
		return []string{"/bin/sh", "-c", strings.Join(test[1:], " ")}, nil
	}
	return nil, fmt.Errorf("healthcheck test %q: unknown kind %q", test, test[0])
}

// OnFailure actions, podman's --health-on-failure.
const (
	ActionNone    = "none"
	ActionKill    = "kill"
	ActionRestart = "restart"
	ActionStop    = "stop"
)

// ParseOnFailure checks a --health-on-failure value.
func ParseOnFailure(s string) (string, error) {
	switch s {
	case "", ActionNone:
		return ActionNone, nil
	case ActionKill, ActionRestart, ActionStop:
		return s, nil
	}
	return "", fmt.Errorf("invalid --health-on-failure %q: want none, kill, restart or stop", s)
}
