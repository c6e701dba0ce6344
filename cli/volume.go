package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
	"github.com/boxcli/box/volume"
)

type volumeCmd struct {
	Create  volumeCreateCmd  `cmd:"" help:"Create a named volume.\n\nExample: box volume create data"`
	Ls      volumeLsCmd      `cmd:"" aliases:"list" help:"List volumes.\n\nExample: box volume ls --filter dangling=true"`
	Inspect volumeInspectCmd `cmd:"" help:"Show volumes' details as JSON.\n\nExample: box volume inspect -f '{{.Mountpoint}}' data"`
	Rm      volumeRmCmd      `cmd:"" aliases:"remove" help:"Remove volumes no container uses.\n\nExample: box volume rm data"`
	Prune   volumePruneCmd   `cmd:"" help:"Remove the anonymous volumes no container uses (-a: named ones too).\n\nExample: box volume prune -a"`
}

// volumeRow is a volume as ls and inspect show it; the field names are
// Docker's, so templates carry over.
type volumeRow struct {
	CreatedAt  string            `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
}

func toRow(i volume.Info) volumeRow {
	return volumeRow{
		CreatedAt: i.CreatedAt.Format(time.RFC3339), Driver: "local", Labels: map[string]string{},
		Mountpoint: i.Mountpoint, Name: i.Name, Options: map[string]string{}, Scope: "local",
	}
}

// volumes opens the host's volume store and says which containers use
// each volume.
func volumes() (*host, *volume.Store, map[string][]string, error) {
	h, _, list, err := listContainers()
	if err != nil {
		return nil, nil, nil, err
	}
	users := map[string][]string{}
	for _, c := range list {
		for _, m := range c.Config.Mounts {
			if m.Type == "volume" && m.Name != "" {
				users[m.Name] = append(users[m.Name], c.Config.Name)
			}
		}
	}
	return h, volume.Open(h.dirs.Volumes()), users, nil
}

type volumeCreateCmd struct {
	Name string `arg:"" optional:"" help:"Name (default: 64 random hex digits)."`
}

// Run makes the volume's directory. No stage is needed: an empty
// directory of the user's is root's in box's user namespace, which is
// what a new volume is, and the name prints as Docker prints it.
func (c *volumeCreateCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	vols := volume.Open(h.dirs.Volumes())
	name := c.Name
	if name == "" {
		if name, err = vols.CreateAnonymous(); err != nil {
			return err
		}
	} else if _, err := vols.Create(name); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, name)
	return nil
}

type volumeLsCmd struct {
	Quiet  bool     `short:"q" help:"Print only names."`
	Format string   `help:"Format: json (one object a line), or a Go template such as '{{.Name}}'."`
	Filter []string `short:"f" help:"Filter: dangling=true|false (used by no container), name=SUBSTRING."`
}

func (c *volumeLsCmd) Run(e *env) error {
	var dangling *bool
	var names []string
	for _, f := range c.Filter {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "dangling":
			b := v == "true" || v == "1"
			if !b && v != "false" && v != "0" {
				return fmt.Errorf("invalid filter %q: dangling takes true or false", f)
			}
			dangling = &b
		case "name":
			names = append(names, v)
		default:
			return fmt.Errorf("invalid filter %q: want dangling=true|false or name=SUBSTRING", f)
		}
	}
	_, vols, users, err := volumes()
	if err != nil {
		return err
	}
	list, err := vols.List()
	if err != nil {
		return err
	}
	var rows []volumeRow
	for _, v := range list {
		if dangling != nil && *dangling != (len(users[v.Name]) == 0) {
			continue
		}
		if len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(v.Name, n) }) {
			continue
		}
		rows = append(rows, toRow(v))
	}
	if c.Quiet {
		for _, r := range rows {
			fmt.Fprintln(e.stdout, r.Name)
		}
		return nil
	}
	return printRows(e, c.Format, rows, "DRIVER\tVOLUME NAME", func(r volumeRow) []string {
		return []string{r.Driver, r.Name}
	})
}

type volumeInspectCmd struct {
	Format  string   `short:"f" help:"Format the output with a Go template."`
	Volumes []string `arg:"" help:"Volumes to inspect."`
}

func (c *volumeInspectCmd) Run(e *env) error {
	_, vols, _, err := volumes()
	if err != nil {
		return err
	}
	var out []json.RawMessage
	for _, name := range c.Volumes {
		i, err := vols.Get(name)
		if err != nil {
			return noSuchVolume(name, err)
		}
		b, err := json.Marshal(toRow(i))
		if err != nil {
			return err
		}
		out = append(out, b)
	}
	return printInspect(e, c.Format, out)
}

// errNoVolume is a volume name that names none.
var errNoVolume = errors.New("no such volume")

func noSuchVolume(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", errNoVolume, name)
	}
	return err
}

type volumeRmCmd struct {
	Force   bool     `short:"f" help:"Ignore volumes that do not exist."`
	Volumes []string `arg:"" help:"Volumes to remove."`
}

// Run checks every name before it removes any: a volume in use, or (without
// -f) a missing one, removes nothing.
func (c *volumeRmCmd) Run(e *env) error {
	h, vols, users, err := volumes()
	if err != nil {
		return err
	}
	var names []string
	for _, name := range c.Volumes {
		if _, err := vols.Get(name); err != nil {
			if c.Force && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return noSuchVolume(name, err)
		}
		if u := users[name]; len(u) > 0 {
			return fmt.Errorf("volume %s is in use by container %s: remove the container first (box rm %s)", name, strings.Join(u, ", "), u[0])
		}
		names = append(names, name)
	}
	if err := removeVolumes(e, h, names); err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

type volumePruneCmd struct {
	All   bool `short:"a" help:"Named volumes too, not only anonymous ones."`
	Force bool `short:"f" help:"Do not ask for confirmation (box never asks)."`
}

func (c *volumePruneCmd) Run(e *env) error {
	h, vols, users, err := volumes()
	if err != nil {
		return err
	}
	list, err := vols.List()
	if err != nil {
		return err
	}
	var names []string
	for _, v := range list {
		if len(users[v.Name]) == 0 && (c.All || v.Anonymous) {
			names = append(names, v.Name)
		}
	}
	if err := removeVolumes(e, h, names); err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

// removeVolumes deletes volumes in box's user namespace: containers fill
// them with files of subordinate ids that the user cannot delete.
func removeVolumes(e *env, h *host, names []string) error {
	if len(names) == 0 {
		return nil
	}
	req := e.request(h, stage.OpRemoveVolumes)
	req.IDs = names
	return e.do(req, userns.Auto, h, nil)
}
