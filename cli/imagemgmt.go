package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/boxcli/box/container"
	"github.com/boxcli/box/image"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

// imageOp sends one image management request.
func (e *env) imageOp(op string, r *stage.ImageRequest, out any) error {
	h, err := lookupHost()
	if err != nil {
		return err
	}
	req := e.request(h, op)
	req.Image = r
	return e.do(req, userns.Auto, h, out)
}

type saveCmd struct {
	Output string   `short:"o" type:"path" help:"Write to this file (default: stdout)."`
	Format string   `default:"docker-archive" enum:"docker-archive,oci-archive,oci-dir" help:"Archive format: docker-archive, oci-archive or oci-dir."`
	Images []string `arg:"" help:"Images to save."`
}

func (c *saveCmd) Run(e *env) error {
	dest := c.Output
	if dest != "" {
		// Checked here: the stage would name the temporary file it writes
		// first, not the user's.
		dir := filepath.Dir(dest)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("cannot write %s: there is no directory %s; create it or choose another -o", dest, dir)
		}
	}
	if dest == "" {
		if f, ok := e.stdout.(*os.File); ok && isTerminal(f) {
			return fmt.Errorf("refusing to write an archive to a terminal: use -o FILE or redirect stdout")
		}
		if c.Format == image.FormatOCIDir {
			return fmt.Errorf("--format oci-dir needs -o DIR")
		}
		// No Dest: the stage writes to the stdout it shares with us.
	}
	return e.imageOp(stage.OpSave, &stage.ImageRequest{Refs: c.Images, Dest: dest, Format: c.Format}, nil)
}

type tagCmd struct {
	Source string `arg:"" help:"Existing image."`
	Target string `arg:"" help:"New name[:tag]."`
}

func (c *tagCmd) Run(e *env) error {
	return e.imageOp(stage.OpTag, &stage.ImageRequest{Refs: []string{c.Source}, Name: c.Target}, nil)
}

type rmiCmd struct {
	Force  bool     `short:"f" help:"Also remove images that stopped containers use (and those containers)."`
	Images []string `arg:"" help:"Images to remove (names or IDs)."`
}

func (c *rmiCmd) Run(e *env) error {
	running, err := runningImages()
	if err != nil {
		return err
	}
	var res stage.RemoveImagesResult
	if err := e.imageOp(stage.OpRemoveImages, &stage.ImageRequest{Refs: c.Images, Force: c.Force, Running: running}, &res); err != nil {
		return err
	}
	printRemoved(e, &res)
	for _, se := range res.Errors {
		report(e, se)
	}
	return failures(len(res.Errors))
}

// runningImages maps the image of each running container to its name.
func runningImages() (map[string]string, error) {
	_, records, err := openRecords()
	if err != nil {
		return nil, err
	}
	list, err := records.List()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, c := range list {
		if c.State.Status == container.Running && c.Config.ImageID != "" {
			m[c.Config.ImageID] = c.Config.Name
		}
	}
	return m, nil
}

func printRemoved(e *env, res *stage.RemoveImagesResult) {
	for _, n := range res.Untagged {
		fmt.Fprintf(e.stdout, "Untagged: %s\n", printable(n))
	}
	for _, id := range res.Deleted {
		fmt.Fprintf(e.stdout, "Deleted: sha256:%s\n", id)
	}
	if bc := res.BuildCache; bc != nil && (bc.Layers > 0 || bc.Bytes > 0) {
		fmt.Fprintf(e.stdout, "Deleted build cache: %d layers, %s\n", bc.Layers, size(bc.Bytes))
	}
}

type imagePruneCmd struct {
	All   bool `short:"a" help:"Remove every image no container uses, not only untagged ones."`
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

func (c *imagePruneCmd) Run(e *env) error {
	var res stage.RemoveImagesResult
	if err := e.imageOp(stage.OpPruneImages, &stage.ImageRequest{All: c.All}, &res); err != nil {
		return err
	}
	printRemoved(e, &res)
	return nil
}

type imageInspectCmd struct {
	Format string   `short:"f" help:"Format the output with a Go template."`
	Images []string `arg:"" help:"Images to inspect."`
}

func (c *imageInspectCmd) Run(e *env) error {
	var out []json.RawMessage
	if err := e.imageOp(stage.OpInspectImage, &stage.ImageRequest{Refs: c.Images}, &out); err != nil {
		return err
	}
	return printInspect(e, c.Format, out)
}

// printInspect prints Docker's inspect output: a JSON array, or each
// object through a template.
func printInspect(e *env, format string, objs []json.RawMessage) error {
	if format == "" || format == "json" {
		b, err := json.MarshalIndent(objs, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(printableJSON(b)))
		return nil
	}
	var rows []any
	for _, o := range objs {
		// Numbers stay as written: a limit of 33554432 bytes must not
		// print as 3.3554432e+07.
		dec := json.NewDecoder(bytes.NewReader(o))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		rows = append(rows, v)
	}
	return printTemplate(e, format, rows)
}

type historyCmd struct {
	Quiet   bool   `short:"q" help:"Print only image IDs."`
	NoTrunc bool   `name:"no-trunc" help:"Do not shorten the output."`
	Human   bool   `short:"H" default:"true" negatable:"" help:"Sizes and dates in human-readable form."`
	Format  string `help:"Format: table, json, or a Go template."`
	Image   string `arg:"" help:"Image."`
}

type historyRow struct {
	ID           string
	CreatedSince string
	CreatedAt    string
	CreatedBy    string
	Size         string
	Comment      string
}

func (c *historyCmd) Run(e *env) error {
	var entries []image.HistoryEntry
	if err := e.imageOp(stage.OpHistory, &stage.ImageRequest{Refs: []string{c.Image}}, &entries); err != nil {
		return err
	}
	var rows []historyRow
	for _, h := range entries {
		created := h.Created
		if created.IsZero() {
			created = time.Unix(0, 0) // an undated entry: Docker's API says 0
		}
		r := historyRow{ID: h.ID, CreatedBy: h.CreatedBy, Comment: h.Comment,
			CreatedAt: created.Format(time.RFC3339), CreatedSince: createdSince(created),
			Size: units.HumanSizeWithPrecision(float64(h.Size), 3)}
		if !c.Human {
			r.Size = fmt.Sprint(h.Size)
			r.CreatedSince = r.CreatedAt
		}
		if !c.NoTrunc {
			if len(r.ID) > 12 {
				r.ID = r.ID[:12]
			}
			if len(r.CreatedBy) > 45 {
				r.CreatedBy = r.CreatedBy[:44] + "…"
			}
		}
		rows = append(rows, r)
	}
	if c.Quiet {
		for _, r := range rows {
			fmt.Fprintln(e.stdout, r.ID)
		}
		return nil
	}
	return printRows(e, c.Format, rows, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT", func(r historyRow) []string {
		return []string{r.ID, r.CreatedSince, strings.ReplaceAll(r.CreatedBy, "\t", " "), r.Size, r.Comment}
	})
}

// createdSince is a history entry's age. As docker history, a date up to
// 2000 is taken for no date: an entry without one (or the epoch, as
// reproducible builds write) is "N/A", not "292 years ago".
func createdSince(t time.Time) string {
	if !t.After(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// imageCmd groups the image commands as Docker's `docker image ...`.
type imageCmd struct {
	Ls      imagesCmd       `cmd:"" aliases:"list" help:"List images.\n\nExample: box image ls -q"`
	Build   buildCmd        `cmd:"" help:"Build an image from a Dockerfile or Containerfile.\n\nExample: box image build -t app:1 ."`
	Rm      rmiCmd          `cmd:"" help:"Remove images.\n\nExample: box image rm mybox:1"`
	Inspect imageInspectCmd `cmd:"" help:"Show images' details as JSON.\n\nExample: box image inspect -f '{{.Config.Cmd}}' busybox"`
	Prune   imagePruneCmd   `cmd:"" help:"Remove unused images.\n\nExample: box image prune -a"`
	History historyCmd      `cmd:"" help:"Show an image's layers.\n\nExample: box image history busybox"`
	Tag     tagCmd          `cmd:"" help:"Give an image another name.\n\nExample: box image tag busybox mybox:1"`
	Pull    pullCmd         `cmd:"" help:"Pull an image from a registry.\n\nExample: box image pull 127.0.0.1:5000/library/alpine"`
	Push    pushCmd         `cmd:"" help:"Push an image to a registry.\n\nExample: box image push mybox:1 127.0.0.1:5000/me/mybox:1"`
	Save    saveCmd         `cmd:"" help:"Write images to an archive.\n\nExample: box image save -o busybox.tar busybox"`
	Load    loadCmd         `cmd:"" help:"Load images from an archive.\n\nExample: box image load -i busybox.tar"`
	Import  importCmd       `cmd:"" help:"Make an image from a root filesystem.\n\nExample: box image import rootfs.tar.gz myimage:1"`
}
