package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/events"
)

// containerEvent records an action the CLI itself took (stop, kill).
func containerEvent(h *host, records *container.Store, ref, action string, extra map[string]string) {
	ct, err := records.Get(ref)
	if err != nil {
		return
	}
	attrs := map[string]string{"name": ct.Config.Name, "image": ct.Config.Image}
	for k, v := range extra {
		attrs[k] = v
	}
	_ = events.Open(h.dirs.Events()).Append(events.Event{Type: "container", Action: action, ID: ct.Config.ID, Attributes: attrs})
}

type eventsCmd struct {
	Since  string   `help:"Show events since a time (RFC 3339, Unix time, or a duration such as 10m)."`
	Until  string   `help:"Stop at this time instead of following (RFC 3339, Unix time, or a duration back from now)."`
	Filter []string `short:"f" sep:"none" help:"Filter: container=NAME|ID, event=ACTION, image=NAME, type=container|image."`
	Format string   `help:"Format: json, or a Go template such as '{{.Action}} {{.Attributes.name}}'."`
}

// Run prints the event log and, without --until, follows it like
// docker events until interrupted.
func (c *eventsCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	since, err := parseTime(c.Since)
	if err != nil {
		return err
	}
	until, err := parseTime(c.Until)
	if err != nil {
		return err
	}
	keep, err := eventFilter(c.Filter)
	if err != nil {
		return err
	}
	// Now, not at the first event: with none to print, a bad template
	// would pass unnoticed, or follow forever.
	if c.Format != "" && c.Format != "json" {
		if _, err := formatTemplate(c.Format); err != nil {
			return err
		}
	}
	log := events.Open(h.dirs.Events())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	var off int64
	for {
		evs, next, err := log.ReadFrom(off)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		off = next
		for _, ev := range evs {
			if !since.IsZero() && ev.Time.Before(since) || !keep(ev) {
				continue
			}
			if !until.IsZero() && ev.Time.After(until) {
				return nil
			}
			if err := c.print(e, ev); err != nil {
				return err
			}
		}
		if !until.IsZero() && time.Now().After(until) {
			return nil
		}
		select {
		case <-stop:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *eventsCmd) print(e *env, ev events.Event) error {
	switch c.Format {
	case "json":
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(printableJSON(b)))
		return nil
	case "":
		var attrs []string
		for _, k := range []string{"name", "image", "exitCode", "signal"} {
			if v, ok := ev.Attributes[k]; ok && v != "" {
				attrs = append(attrs, k+"="+v)
			}
		}
		fmt.Fprintf(e.stdout, "%s %s %s %s (%s)\n", ev.Time.Local().Format(time.RFC3339Nano), printable(ev.Type), printable(ev.Action), printable(ev.ID), printable(strings.Join(attrs, ", ")))
		return nil
	}
	return printTemplate(e, c.Format, []events.Event{ev})
}

// eventFilter: filters of one key are alternatives; keys combine.
func eventFilter(filters []string) (func(events.Event) bool, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %q: want KEY=VALUE", f)
		}
		switch k {
		case "container", "event", "image", "type":
		default:
			return nil, fmt.Errorf("invalid --filter %q: box knows container=, event=, image= and type=", f)
		}
		byKey[k] = append(byKey[k], v)
	}
	match := func(k, v string, ev events.Event) bool {
		switch k {
		case "container":
			return ev.Type == "container" && (ev.Attributes["name"] == v || strings.HasPrefix(ev.ID, v))
		case "event":
			// Docker's health_status action carries the status after a
			// colon ("health_status: healthy"); the filter names the kind.
			kind, _, _ := strings.Cut(ev.Action, ":")
			return ev.Action == v || kind == v
		case "image":
			return ev.Attributes["image"] == v || ev.Attributes["name"] == v || ev.Type == "image" && strings.HasPrefix(ev.ID, v)
		case "type":
			return ev.Type == v
		}
		return false
	}
	return func(ev events.Event) bool {
		for k, vs := range byKey {
			ok := false
			for _, v := range vs {
				ok = ok || match(k, v, ev)
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}
