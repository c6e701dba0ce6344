// Command mkimage crafts an image for box's behaviour suite: a copy of a
// docker-archive whose config is changed by a JSON merge patch (RFC 7386:
// objects merge, anything else replaces, null deletes), written raw, as
// a hostile registry or archive would serve it. No config library sits in
// between to tidy what the patch says (escape sequences, undated history,
// durations of 1 ns).
//
//	mkimage -from ARCHIVE -tag NAME -o OUT PATCH.json
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	from := flag.String("from", "", "docker-archive to start from")
	tag := flag.String("tag", "", "name:tag of the new image")
	out := flag.String("o", "", "docker-archive to write")
	flag.Parse()
	if *from == "" || *tag == "" || *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mkimage -from ARCHIVE -tag NAME -o OUT PATCH.json")
		os.Exit(2)
	}
	if err := run(*from, *tag, *out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

type manifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func run(from, tag, out, patchFile string) error {
	patch, err := os.ReadFile(patchFile)
	if err != nil {
		return err
	}
	files, order, err := readTar(from)
	if err != nil {
		return err
	}
	var ms []manifest
	if err := json.Unmarshal(files["manifest.json"], &ms); err != nil || len(ms) != 1 {
		return fmt.Errorf("%s: want one image in manifest.json (%v)", from, err)
	}
	var cfg, p any
	if err := json.Unmarshal(files[ms[0].Config], &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return fmt.Errorf("%s: %w", patchFile, err)
	}
	raw, err := json.Marshal(mergePatch(cfg, p))
	if err != nil {
		return err
	}
	// json.Marshal writes <, > and & as \u003c...: fine for a config.
	name := fmt.Sprintf("sha256:%x", sha256.Sum256(raw))
	delete(files, ms[0].Config)
	files[name] = raw
	ms[0].Config, ms[0].RepoTags = name, []string{tag}
	if files["manifest.json"], err = json.Marshal(ms); err != nil {
		return err
	}
	return writeTar(out, files, append([]string{name}, order...))
}

// mergePatch applies an RFC 7386 merge patch.
func mergePatch(doc, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	d, ok := doc.(map[string]any)
	if !ok {
		d = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(d, k)
			continue
		}
		d[k] = mergePatch(d[k], v)
	}
	return d
}

func readTar(path string) (map[string][]byte, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	files := map[string][]byte{}
	var order []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, order, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, tr); err != nil {
			return nil, nil, err
		}
		files[h.Name] = b.Bytes()
		order = append(order, h.Name)
	}
}

func writeTar(path string, files map[string][]byte, order []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	done := map[string]bool{}
	for _, name := range order {
		b, ok := files[name]
		if !ok || done[name] {
			continue
		}
		done[name] = true
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(b); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
