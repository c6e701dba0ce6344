package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"

	"github.com/boxcli/box/image"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type imagesCmd struct {
	Quiet   bool   `short:"q" help:"Print only image IDs."`
	NoTrunc bool   `name:"no-trunc" help:"Do not shorten IDs."`
	Format  string `help:"Format: table, json, or a Go template such as '{{.Repository}}:{{.Tag}}'."`
}

// imageRow uses Docker's field names for --format.
type imageRow struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	CreatedAt    string
	CreatedSince string
	Size         string
}

func (c *imagesCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	var list []image.Summary
	if err := e.do(e.request(h, stage.OpImages), userns.Auto, h, &list); err != nil {
		return err
	}
	now := time.Now()
	var rows []imageRow
	for _, im := range list {
		id := im.ID
		if !c.NoTrunc && len(id) > 12 {
			id = id[:12]
		}
		base := imageRow{
			ID:           id,
			Digest:       im.Digest,
			CreatedAt:    im.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
			CreatedSince: units.HumanDuration(now.Sub(im.Created)) + " ago",
			Size:         units.HumanSizeWithPrecision(float64(im.Size), 3),
		}
		if len(im.Names) == 0 {
			r := base
			r.Repository, r.Tag = "<none>", "<none>"
			rows = append(rows, r)
		}
		for _, n := range im.Names {
			r := base
			r.Repository, r.Tag = splitName(n)
			rows = append(rows, r)
		}
	}
	switch {
	case c.Quiet:
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				fmt.Fprintln(e.stdout, r.ID)
			}
		}
		return nil
	case c.Format == "json":
		enc := json.NewEncoder(e.stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case c.Format != "" && c.Format != "table":
		return printTemplate(e, c.Format, rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
	}
	return tw.Flush()
}

// splitName splits "docker.io/library/busybox:latest" into repository and
// tag, minding the port in "localhost:5000/x".
func splitName(n string) (string, string) {
	if i := strings.Index(n, "@"); i >= 0 {
		return n[:i], "<none>"
	}
	slash := strings.LastIndex(n, "/")
	if i := strings.LastIndex(n, ":"); i > slash {
		return n[:i], n[i+1:]
	}
	return n, "latest"
}

type loadCmd struct {
	Input string `short:"i" type:"path" help:"Read from this archive or OCI layout directory instead of stdin."`
	Quiet bool   `short:"q" help:"Print nothing but errors."`
}

func (c *loadCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	path := c.Input
	if path == "" {
		// Archive readers need to seek; spool stdin to a file first.
		if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
			return fmt.Errorf("no archive given: use -i FILE or pipe one to stdin")
		}
		tmp, err := os.CreateTemp(h.dirs.Runtime, "load-*.tar")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		_, err = io.Copy(tmp, e.stdin)
		tmp.Close()
		if err != nil {
			return fmt.Errorf("read archive from stdin: %w", err)
		}
		path = tmp.Name()
	} else if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	req := e.request(h, stage.OpLoad)
	req.Load = &stage.LoadRequest{Path: path}
	var names []string
	if err := e.do(req, userns.Auto, h, &names); err != nil {
		return err
	}
	if !c.Quiet {
		for _, n := range names {
			fmt.Fprintf(e.stdout, "Loaded image: %s\n", n)
		}
	}
	return nil
}

type importCmd struct {
	Change  []string `short:"c" sep:"none" help:"Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL)."`
	Message string   `short:"m" help:"Commit message for the image's history."`
	Source  string   `arg:"" help:"Root filesystem tarball (plain or compressed), directory, or - for stdin."`
	Name    string   `arg:"" optional:"" help:"Image name[:tag]."`
}

func (c *importCmd) Run(e *env) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	src := c.Source
	if src != "-" {
		if src, err = expandPath(src); err != nil {
			return err
		}
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("import source: %w", err)
		}
	}
	req := e.request(h, stage.OpImport)
	req.Import = &stage.ImportRequest{Source: src, Name: c.Name, Changes: c.Change, Message: c.Message}
	var id string
	if err := e.do(req, userns.Auto, h, &id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sha256:%s\n", id)
	return nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func isTerminalReader(r io.Reader) bool {
	f, ok := stdinFile(r)
	return ok && isTerminal(f)
}

func stdinFile(r io.Reader) (*os.File, bool) {
	f, ok := r.(*os.File)
	if !ok || !isTerminal(f) {
		return nil, false
	}
	return f, true
}
