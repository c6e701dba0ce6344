package cli

import (
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/boxcli/box/image"
	"github.com/boxcli/box/stage"
	"github.com/boxcli/box/userns"
)

type imagesCmd struct {
	All     bool     `short:"a" help:"Show all images (box keeps no intermediate images, so this is the default)."`
	Quiet   bool     `short:"q" help:"Print only image IDs."`
	NoTrunc bool     `name:"no-trunc" help:"Do not shorten IDs."`
	Digests bool     `help:"Show digests."`
	Filter  []string `short:"f" sep:"none" help:"Filter: reference=PATTERN (glob on name:tag), dangling=true|false."`
	Format  string   `help:"Format: table, json, or a Go template such as '{{.Repository}}:{{.Tag}}'."`
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
	keep, err := imageFilter(c.Filter)
	if err != nil {
		return err
	}
	now := time.Now()
	var rows []imageRow
	for _, all := range list {
		// Docker filters and shows one row per name.
		im := all
		im.Names = nil
		for _, n := range all.Names {
			one := all
			one.Names = []string{n}
			if keep(one) {
				im.Names = append(im.Names, n)
			}
		}
		if len(all.Names) > 0 && len(im.Names) == 0 || len(all.Names) == 0 && !keep(all) {
			continue
		}
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
	}
	header, cols := "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE", func(r imageRow) []string {
		return []string{r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size}
	}
	if c.Digests {
		header, cols = "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE", func(r imageRow) []string {
			d := r.Digest
			if d == "" {
				d = "<none>"
			}
			return []string{r.Repository, r.Tag, d, r.ID, r.CreatedSince, r.Size}
		}
	}
	return printRows(e, c.Format, rows, header, cols)
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
		n, err := io.Copy(tmp, e.stdin)
		tmp.Close()
		if err != nil {
			return fmt.Errorf("read archive from stdin: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("no archive on stdin (it is empty): pipe one in or use -i FILE")
		}
		path = tmp.Name()
	} else if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("cannot read the archive %s: %w; give -i a docker-archive or oci-archive tarball or an OCI layout directory", path, pathError(err))
	}
	req := e.request(h, stage.OpLoad)
	req.Load = &stage.LoadRequest{Path: path}
	var names []string
	if err := e.do(req, userns.Auto, h, &names); err != nil {
		return err
	}
	if !c.Quiet {
		for _, n := range names {
			fmt.Fprintf(e.stdout, "Loaded image: %s\n", printable(n))
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
			return fmt.Errorf("cannot read the import source %s: %w; give a root filesystem tarball, a directory, or - for stdin", src, pathError(err))
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

// isTerminal reports whether f is a terminal: not any character device,
// since /dev/null is one too (box load </dev/null has no terminal to spare,
// and box login </dev/null must not prompt).
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
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

// imageFilter builds the --filter predicate: every filter must match; the
// reference patterns are globs on a name as "repository:tag", its
// repository alone, or its short form without docker.io/library/.
func imageFilter(filters []string) (func(image.Summary) bool, error) {
	var preds []func(image.Summary) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %q: want KEY=VALUE", f)
		}
		switch k {
		case "reference":
			if _, err := path.Match(v, ""); err != nil {
				return nil, fmt.Errorf("invalid --filter %q: %w", f, err)
			}
			preds = append(preds, func(im image.Summary) bool {
				for _, n := range im.Names {
					repo, _ := splitName(n)
					short, shortRepo := familiar(n), familiar(repo)
					for _, cand := range []string{n, repo, short, shortRepo} {
						if ok, _ := path.Match(v, cand); ok {
							return true
						}
					}
				}
				return false
			})
		case "dangling":
			want, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("invalid --filter %q: dangling takes true or false", f)
			}
			preds = append(preds, func(im image.Summary) bool { return (len(im.Names) == 0) == want })
		default:
			return nil, fmt.Errorf("invalid --filter %q: box knows reference= and dangling=", f)
		}
	}
	return func(im image.Summary) bool {
		for _, p := range preds {
			if !p(im) {
				return false
			}
		}
		return true
	}, nil
}

// familiar drops the parts of a name users leave out: docker.io/library/
// and podman's localhost/.
func familiar(n string) string {
	for _, p := range []string{"docker.io/library/", "docker.io/", "localhost/"} {
		if strings.HasPrefix(n, p) {
			return strings.TrimPrefix(n, p)
		}
	}
	return n
}
