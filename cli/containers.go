package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	units "github.com/docker/go-units"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/health"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type psCmd struct {
	All     bool     `short:"a" help:"Show all containers (default: running only)."`
	Quiet   bool     `short:"q" help:"Print only IDs."`
	NoTrunc bool     `name:"no-trunc" help:"Do not shorten IDs and commands."`
	Latest  bool     `short:"l" help:"Show the latest created container."`
	Last    int      `short:"n" default:"-1" help:"Show the n last created containers (all states)."`
	Filter  []string `short:"f" sep:"none" help:"Filter: name=, id=, status=(created|running|exited), label=KEY[=VALUE], ancestor=IMAGE."`
	Format  string   `help:"Format: table, json, or a Go template such as '{{.Names}}'."`
	Size    bool     `short:"s" help:"Show the size of each container's own files (and with its image's: virtual)."`
}

// psRow is one container as ps shows it; the field names are Docker's, so
// users' --format templates keep working.
type psRow struct {
	ID         string
	Image      string
	Command    string
	CreatedAt  string
	RunningFor string
	Status     string
	State      string
	Names      string
	Labels     string
	Ports      string
	Size       string
	ExitCode   int
}

func (c *psCmd) Run(e *env) error {
	h, records, list, err := listContainers()
	if err != nil {
		return err
	}
	var rows []psRow
	now := time.Now()
	keep, err := containerFilter(c.Filter)
	if err != nil {
		return err
	}
	limit := c.Last
	if c.Latest {
		limit = 1
	}
	for _, ct := range list {
		if !c.All && limit < 0 && len(c.Filter) == 0 && ct.State.Status != container.Running {
			continue
		}
		if !keep(ct) {
			continue
		}
		if limit >= 0 && len(rows) >= limit {
			break
		}
		rows = append(rows, row(ct, now, c.NoTrunc))
	}
	if c.Quiet {
		for _, r := range rows {
			fmt.Fprintln(e.stdout, r.ID)
		}
		return nil
	}
	if c.Size {
		if err := sizeRows(e, h, records, rows); err != nil {
			return err
		}
		return printRows(e, c.Format, rows, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\tSIZE", func(r psRow) []string {
			return []string{r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names, r.Size}
		})
	}
	return printRows(e, c.Format, rows, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES", func(r psRow) []string {
		return []string{r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names}
	})
}

// sizeRows fills the SIZE column: the layers are measured in a stage,
// where their files (owned by subordinate ids) can all be read.
func sizeRows(e *env, h *host, records *container.Store, rows []psRow) error {
	if len(rows) == 0 {
		return nil
	}
	req := e.request(h, stage.OpSizes)
	for _, r := range rows {
		ct, err := records.Get(r.ID)
		if err != nil {
			continue // removed meanwhile
		}
		req.IDs = append(req.IDs, ct.Config.ID)
	}
	var sizes map[string]image.ContainerSize
	if err := e.do(req, userns.Auto, h, &sizes); err != nil {
		return err
	}
	for i, r := range rows {
		ct, err := records.Get(r.ID)
		if err != nil {
			continue
		}
		if sz, ok := sizes[ct.Config.ID]; ok {
			rows[i].Size = fmt.Sprintf("%s (virtual %s)", units.HumanSizeWithPrecision(float64(sz.RW), 3), units.HumanSizeWithPrecision(float64(sz.RootFs), 3))
		}
	}
	return nil
}

func psState(ct *container.Container) string {
	if paused(ct) {
		return "paused"
	}
	return string(ct.State.Status)
}

func row(ct *container.Container, now time.Time, noTrunc bool) psRow {
	cfg, st := ct.Config, ct.State
	id := cfg.ID
	cmd := strings.Join(append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...), " ")
	if !noTrunc {
		id = id[:12]
		if len(cmd) > 20 {
			cmd = cmd[:19] + "…"
		}
	}
	img := cfg.Image
	if img == "" {
		img = "rootfs:" + cfg.Rootfs
	}
	status := "Created"
	switch st.Status {
	case container.Running:
		status = "Up " + units.HumanDuration(now.Sub(st.StartedAt))
		if st.Restarting {
			status = fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
			break
		}
		if paused(ct) {
			status += " (Paused)"
		}
		switch h := healthStatus(ct); h {
		case health.Starting:
			status += " (health: starting)"
		case health.Healthy, health.Unhealthy:
			status += " (" + h + ")"
		}
	case container.Exited:
		status = fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
		if st.FinishedAt.IsZero() {
			status = fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
	}
	var labels []string
	for k, v := range cfg.Labels {
		labels = append(labels, k+"="+v)
	}
	return psRow{
		ID:         id,
		Image:      img,
		Command:    fmt.Sprintf("%q", cmd),
		CreatedAt:  cfg.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: units.HumanDuration(now.Sub(cfg.Created)) + " ago",
		Status:     status,
		State:      psState(ct),
		Names:      cfg.Name,
		Labels:     strings.Join(labels, ","),
		Ports:      portsColumn(ct),
		ExitCode:   st.ExitCode,
	}
}

// printRows prints a listing as Docker does: one JSON object per line for
// --format json, a Go template per row, or an aligned table with header.
func printRows[T any](e *env, format string, rows []T, header string, cols func(T) []string) error {
	switch {
	case format == "json":
		for _, r := range rows {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", printableJSON(b))
		}
		return nil
	case format != "" && format != "table":
		return printTemplate(e, format, rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		c := cols(r)
		for i := range c {
			c[i] = printable(c[i])
		}
		fmt.Fprintln(tw, strings.Join(c, "\t"))
	}
	return tw.Flush()
}

// formatTemplate parses a --format template, so that a command can refuse
// a bad one before it has anything to print (box events may wait long).
func formatTemplate(format string) (*template.Template, error) {
	format = strings.TrimPrefix(format, "table ")
	tmpl, err := template.New("format").Funcs(template.FuncMap{
		"json": func(v any) string { b, _ := json.Marshal(v); return string(b) },
	}).Parse(format + "\n")
	if err != nil {
		return nil, fmt.Errorf("invalid --format template: %w", err)
	}
	return tmpl, nil
}

// printTemplate prints each row through the template, all or nothing: a
// template that fails on a row must not leave half a listing on stdout.
// The template sees the row with every string in it made printable.
func printTemplate(e *env, format string, rows any) error {
	tmpl, err := formatTemplate(format)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	v := reflect.ValueOf(rows)
	for i := 0; i < v.Len(); i++ {
		row := v.Index(i)
		if err := tmpl.Execute(&out, printableValue(row.Interface())); err != nil {
			if fields := fieldNames(row); fields != "" {
				return fmt.Errorf("invalid --format: %w; the fields are %s", err, fields)
			}
			return fmt.Errorf("invalid --format: %w", err)
		}
	}
	_, err = e.stdout.Write(out.Bytes())
	return err
}

// fieldNames lists a struct row's fields as a template names them
// ({{.ID}}, ...); "" for other rows.
func fieldNames(row reflect.Value) string {
	for row.Kind() == reflect.Interface || row.Kind() == reflect.Pointer {
		row = row.Elem()
	}
	if row.Kind() != reflect.Struct {
		return ""
	}
	var names []string
	for i := 0; i < row.NumField(); i++ {
		if f := row.Type().Field(i); f.IsExported() {
			names = append(names, "."+f.Name)
		}
	}
	return strings.Join(names, " ")
}

// forEach runs fn on each named container, as Docker's commands that take
// several do: an error is reported and the others go on; each success is
// an event (action, with attrs) and the name on stdout.
func forEach(e *env, refs []string, action string, attrs map[string]string, fn func(*container.Store, string) error) error {
	h, records, err := openRecords()
	if err != nil {
		return err
	}
	failed := 0
	for _, ref := range refs {
		if err := fn(records, ref); err != nil {
			report(e, err)
			failed++
			continue
		}
		containerEvent(h, records, ref, action, attrs)
		fmt.Fprintln(e.stdout, ref)
	}
	return failures(failed)
}

type rmCmd struct {
	Force      bool     `short:"f" help:"Kill running containers first."`
	Volumes    bool     `short:"v" help:"Remove the containers' anonymous volumes too."`
	Ignore     bool     `short:"i" help:"Say nothing of containers that do not exist (podman's --ignore)."`
	Containers []string `arg:"" help:"Containers to remove (names or IDs)."`
}

func (c *rmCmd) Run(e *env) error {
	h, records, err := openRecords()
	if err != nil {
		return err
	}
	// Liveness and kills use host pids, so they happen here; each lock is
	// held until the stage has removed the container, so nothing can start
	// it in between.
	var (
		ids    []string
		refOf  = map[string]string{}
		failed int
	)
	for _, ref := range c.Containers {
		id, unlock, err := c.prepare(records, ref)
		if c.Ignore && errors.Is(err, container.ErrNotFound) {
			continue
		}
		if err != nil {
			report(e, err)
			failed++
			continue
		}
		defer unlock()
		if _, dup := refOf[id]; !dup {
			ids = append(ids, id)
			refOf[id] = ref
		}
	}
	if len(ids) > 0 {
		req := e.request(h, stage.OpRemove)
		req.Remove = &stage.RemoveRequest{IDs: ids, Volumes: c.Volumes}
		var res stage.RemoveResult
		if err := e.do(req, userns.Auto, h, &res); err != nil {
			return err
		}
		for _, id := range res.Removed {
			fmt.Fprintln(e.stdout, refOf[id])
		}
		for _, se := range res.Errors {
			report(e, se)
			failed++
		}
	}
	return failures(failed)
}

// errRunning refuses to remove a running container without --force.
var errRunning = errors.New("is running")

// prepare locks the container and makes sure it no longer runs: killing
// its keeper (PID 1 of a pid namespace that holds the container) takes the
// whole container down with it.
func (c *rmCmd) prepare(records *container.Store, ref string) (string, func(), error) {
	ct, err := records.Get(ref)
	if err != nil {
		return "", nil, err
	}
	if ct.State.Status == container.Running && !c.Force {
		// Refused before any lock: a refusal leaves nothing (a lock file
		// would stay), and waits for no start. Checked again under the lock.
		return "", nil, c.refuseRunning(ct)
	}
	id := ct.Config.ID
	// No start may run while the container goes (it would leave a monitor
	// with no record); the start lock always comes before the state lock.
	unstart, err := records.StartLock(id)
	if err != nil {
		return "", nil, err
	}
	unlockState, err := records.Lock(id)
	if err != nil {
		unstart()
		return "", nil, err
	}
	unlock := func() { unlockState(); unstart() }
	if ct, err = records.Get(id); err != nil {
		unlock()
		return "", nil, err
	}
	if ct.State.Status == container.Running {
		if !c.Force {
			unlock()
			return "", nil, c.refuseRunning(ct)
		}
		if err := syscall.Kill(ct.State.MonitorPid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			unlock()
			return "", nil, fmt.Errorf("kill container %s: %w", ct.Config.Name, err)
		}
		for i := 0; i < 500 && container.Alive(ct.State.MonitorPid, ct.State.MonitorStart); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return id, unlock, nil
}

func (c *rmCmd) refuseRunning(ct *container.Container) error {
	return fmt.Errorf("container %s %w: stop it first, or remove it with box rm -f", ct.Config.Name, errRunning)
}

// containerFilter builds ps's --filter predicate, as Docker's: filters of
// one key are alternatives, different keys must all match.
func containerFilter(filters []string) (func(*container.Container) bool, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %q: want KEY=VALUE", f)
		}
		switch k {
		case "name", "id", "status", "label", "ancestor", "health":
		default:
			return nil, fmt.Errorf("invalid --filter %q: box knows name=, id=, status=, label=, ancestor= and health=", f)
		}
		byKey[k] = append(byKey[k], v)
	}
	match := func(k, v string, c *container.Container) bool {
		cfg := c.Config
		switch k {
		case "name":
			return strings.Contains(cfg.Name, v)
		case "id":
			return strings.HasPrefix(cfg.ID, v)
		case "status":
			return dockerStatus(c) == v
		case "health":
			return healthStatus(c) == v
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			got, ok := cfg.Labels[lk]
			return ok && (!hasV || got == lv)
		case "ancestor":
			return cfg.Image == v || strings.HasPrefix(cfg.ImageID, strings.TrimPrefix(v, "sha256:")) ||
				familiar(cfg.Image) == familiar(v) || strings.TrimSuffix(cfg.Image, ":latest") == strings.TrimSuffix(v, ":latest")
		}
		return false
	}
	return func(c *container.Container) bool {
		for k, vs := range byKey {
			any := false
			for _, v := range vs {
				if match(k, v, c) {
					any = true
					break
				}
			}
			if !any {
				return false
			}
		}
		return true
	}, nil
}

type containerPruneCmd struct {
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

// Run removes every stopped container.
func (c *containerPruneCmd) Run(e *env) error {
	_, _, list, err := listContainers()
	if err != nil {
		return err
	}
	var ids []string
	for _, ct := range list {
		if ct.State.Status != container.Running {
			ids = append(ids, ct.Config.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return (&rmCmd{Containers: ids}).Run(e)
}

type renameCmd struct {
	Container string `arg:"" help:"Container."`
	Name      string `arg:"" help:"New name."`
}

func (c *renameCmd) Run(e *env) error {
	_, records, ct, err := openContainer(c.Container)
	if err != nil {
		return err
	}
	if ct.Config.Name == c.Name {
		// Docker refuses it too: it is a mistake, not a rename.
		return fmt.Errorf("container %s is already named %s: give box rename another name", ct.Config.Name, c.Name)
	}
	return records.Rename(ct.Config.ID, c.Name)
}

// dockerStatus is the status Docker would show: created, running, paused,
// restarting or exited.
func dockerStatus(c *container.Container) string {
	switch {
	case c.State.Status == container.Running && c.State.Restarting:
		return "restarting"
	case paused(c):
		return "paused"
	}
	return string(c.State.Status)
}
